// The short fixed-seed chaos run that is part of `npm test`: a scale-out of two with a handler crash between
// adding a member and marking it, then two replacements at once (twice, once with two invocations running
// concurrently), with a writer and the quorum monitor running throughout. Longer and random runs:
// `npm run chaos`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChaos } from './run.js';

const SEED = 2;
const STEPS = 3;

test(
  `chaos, seed ${SEED}, ${STEPS} steps: no acknowledged write lost, no quorum lost by our actions, converges, no orphaned parameters`,
  { timeout: 150_000 },
  async () => {
    const result = await runChaos({ seed: SEED, steps: STEPS });
    const replay = `replay: npm run chaos -- --seed ${SEED} --runs 1 --steps ${STEPS}`;
    assert.deepEqual(result.violations, [], `${replay}\n${result.schedule.join('\n')}`);
    assert.equal(result.schedule.filter((line) => !line.includes('   ')).length, STEPS, 'every step ran');
    assert.ok(result.writes.acknowledged > 0, 'the writer got writes acknowledged');
    assert.deepEqual(result.writes.lost, []);
    assert.ok(result.samples > 0, 'the quorum monitor sampled');
    assert.ok(
      result.schedule.some((line) => line.includes('crash at')),
      `the schedule crashes the handler once (${replay})`,
    );
  },
);

// The faults Auto Scaling cannot see (issue 13): seed 202 hangs a member for a long time, then crash-loops another
// on a corrupted data dir; each must be healed through the group, with the same invariants.
const LONG_SEED = 202;
test(
  `chaos with long faults, seed ${LONG_SEED}, ${STEPS} steps: a long hang and a crash-loop are healed, same invariants`,
  { timeout: 240_000 },
  async () => {
    const result = await runChaos({ seed: LONG_SEED, steps: STEPS, longFaults: true });
    const replay = `replay: npm run chaos -- --seed ${LONG_SEED} --runs 1 --steps ${STEPS} --long-faults`;
    assert.deepEqual(result.violations, [], `${replay}\n${result.schedule.join('\n')}`);
    assert.ok(
      result.schedule.some((line) => line.includes('hang-long')),
      `the schedule hangs a member for a long time (${replay})`,
    );
    assert.ok(
      result.schedule.some((line) => line.includes('crash-loop')),
      `the schedule crash-loops a member (${replay})`,
    );
    assert.equal(
      result.schedule.filter((line) => line.includes('healed: reported unhealthy')).length,
      2,
      'both were healed through the group',
    );
    assert.deepEqual(result.writes.lost, []);
  },
);

// Losing the quorum on purpose (issue 14), right after a backup: seed 11 loses every instance (the writes after
// the backup are the recovery point, reported, not a violation). A majority loss (the rescue path) is covered by
// test/e2e/lambda-rescue.test.ts; as a chaos seed it once did not recover on etcd 3.5 under heavy load (cause
// not found yet: see the README's known limits), so it is not a CI seed until it is understood.
for (const [seed, steps, kind] of [[11, 1, 'all']] as const) {
  test(
    `chaos losing the quorum (${kind}), seed ${seed}, ${steps} step(s): restored from the newest snapshot, nothing acknowledged before it lost`,
    { timeout: 300_000 },
    async () => {
      const result = await runChaos({ seed, steps, loseQuorum: true });
      const replay = `replay: npm run chaos -- --seed ${seed} --runs 1 --steps ${steps} --lose-quorum`;
      assert.deepEqual(result.violations, [], `${replay}\n${result.schedule.join('\n')}`);
      const loss = result.quorumLoss;
      assert.ok(loss !== undefined, `the quorum was lost (${replay})`);
      assert.equal(loss.kind, kind);
      assert.ok(loss.recoveryMs !== undefined, 'the cluster recovered');
      assert.ok(loss.restoredFrom !== undefined, 'from a snapshot');
      assert.equal(loss.rescue, false, 'no member survived: no rescue snapshot');
      assert.deepEqual(result.writes.lost, [], 'nothing acknowledged before the newest snapshot or after the recovery lost');
      assert.ok(result.writes.acknowledged > 0);
    },
  );
}
