// What the Lambda's end-to-end scenarios share: their time budget and the check that a world settled.
import assert from 'node:assert/strict';

/** A scenario's budget: real etcd members start, join and get promoted within it. */
export const TIMEOUT = { timeout: 120_000 };

/** Fails with the world's list of problems (World.settle and bootstrap report them) unless it is empty. */
export function assertSettled(problems: readonly string[]): void {
  assert.deepEqual(problems, [], problems.join('\n'));
}
