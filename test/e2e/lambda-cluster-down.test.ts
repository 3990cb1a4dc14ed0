// A formed cluster that stops answering is `cluster-down`, never "a first wave still forming": the first-wave
// record says the cluster formed once the Lambda saw it answer (or once the record is older than the join
// grace with no recorded launch pending). The launch is abandoned, and its wait stays within the budget even
// though every round costs a health timeout per hung member. Runs on both versions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { timelineFromEnv } from '../sim/timeline.js';
import { startWorld, type World } from '../sim/world.js';

const LAUNCH_WAIT_MS = 8_000;
const UNSAFE_RECHECK_MS = 4_000;

describe('a formed cluster that stops answering', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 141, launchWaitMs: LAUNCH_WAIT_MS, unsafeRecheckMs: UNSAFE_RECHECK_MS, ...timelineFromEnv() });
    const settled = await world.bootstrap(3);
    assert.deepEqual(settled.problems, []);
  });
  after(async () => world?.close());

  async function launchWhileAllHung(): Promise<{ code: unknown; outcome: unknown; ms: number }> {
    const members = world.inService();
    for (const id of members) world.etcdOf(id)!.stop();
    try {
      await world.scaleTo(4);
      const launch = await world.deliver();
      assert.equal(launch?.error, undefined, launch?.error?.message);
      const decision = world.telemetry!.decisions().at(-1);
      return { code: decision?.code, outcome: launch?.result?.outcome, ms: launch!.ms };
    } finally {
      for (const id of members) world.etcdOf(id)!.resume();
    }
  }

  async function backToThree(): Promise<void> {
    await world.scaleTo(3);
    const settled = await world.settle({ timeoutMs: 60_000 });
    assert.deepEqual(settled.problems, []);
  }

  test('seen answering by a reconcile pass: every member hung gives cluster-down and an ABANDON', { timeout: 120_000 }, async (t) => {
    const pass = await world.reconcile();
    assert.equal(pass.error, undefined, pass.error?.message);
    const record = JSON.parse((await world.parameters.get(world.parameters.bootstrapName()))!) as { formedAt?: string };
    assert.equal(typeof record.formedAt, 'string', 'the record says the cluster formed');
    const launch = await launchWhileAllHung();
    assert.equal(launch.code, 'cluster-down');
    assert.equal(launch.outcome, 'abandon');
    t.diagnostic(`launch decided in ${launch.ms} ms (wait budget ${LAUNCH_WAIT_MS} ms, recheck ${UNSAFE_RECHECK_MS} ms)`);
    await backToThree();
  });

  test('never seen answering but the record is older than the join grace: cluster-down too', { timeout: 120_000 }, async (t) => {
    const name = world.parameters.bootstrapName();
    const record = JSON.parse((await world.parameters.get(name))!) as Record<string, unknown>;
    delete record.formedAt;
    record.createdAt = new Date(Date.now() - (world.config.joinGraceSeconds + 60) * 1000).toISOString();
    await world.parameters.put(name, JSON.stringify(record));
    const launch = await launchWhileAllHung();
    assert.equal(launch.code, 'cluster-down');
    assert.equal(launch.outcome, 'abandon');
    t.diagnostic(`launch decided in ${launch.ms} ms (wait budget ${LAUNCH_WAIT_MS} ms, recheck ${UNSAFE_RECHECK_MS} ms)`);
    await backToThree();
  });
});
