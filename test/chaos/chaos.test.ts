// The short fixed-seed chaos run that is part of `npm test`: a scale-out of two with a handler crash between
// adding a member and marking it, then two replacements at once (twice, once with two invocations running
// concurrently), with a writer and the quorum monitor running throughout. Longer and random runs:
// `npm run chaos`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChaos } from './run.js';

const SEED = 2;
const STEPS = 3;

test(`chaos, seed ${SEED}, ${STEPS} steps: no acknowledged write lost, no quorum lost by our actions, converges, no orphaned parameters`, { timeout: 150_000 }, async () => {
  const result = await runChaos({ seed: SEED, steps: STEPS });
  const replay = `replay: npm run chaos -- --seed ${SEED} --runs 1 --steps ${STEPS}`;
  assert.deepEqual(result.violations, [], `${replay}\n${result.schedule.join('\n')}`);
  assert.equal(result.schedule.filter((line) => !line.includes('   ')).length, STEPS, 'every step ran');
  assert.ok(result.writes.acknowledged > 0, 'the writer got writes acknowledged');
  assert.deepEqual(result.writes.lost, []);
  assert.ok(result.samples > 0, 'the quorum monitor sampled');
  assert.ok(result.schedule.some((line) => line.includes('crash at')), `the schedule crashes the handler once (${replay})`);
});
