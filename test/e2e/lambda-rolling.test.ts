// A rolling replacement of every member of a three-member cluster with slow-booting replacements:
// the group replaces one instance, and terminates the next one while the replacement is still a
// learner (it boots longer than the launch waits for its promotion, as with a slow AMI or a large snapshot).
// The next voter's termination is held until the learner is a voter, the launch completes only once its
// member votes, and the cluster ends with three healthy voters: quorum never lost, keys intact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';

const TIMEOUT = { timeout: 300_000 };

function assertSettled(problems: string[]): void {
  assert.deepEqual(problems, [], problems.join('\n'));
}

describe('rolling replacement with slow boots', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 801, launchWaitMs: 1_000, maxAttempts: 10, ...timelineFromEnv() });
    assertSettled((await world.bootstrap()).problems);
    await world.put('/e2e/rolling', 'survives');
  });
  after(async () => world.close());

  test(
    'every member is replaced; the next voter waits while the replacement is a learner; three healthy voters at the end',
    TIMEOUT,
    async () => {
      const original = world.inService();
      // Replacements boot only when the test lets them: longer than any launch waits for its promotion.
      world.group.holdBoots(true);
      const voterCounts: number[] = [];
      let held = 0;
      const watchQuorum = async (): Promise<void> => {
        const { members } = await world.memberList();
        voterCounts.push(members.filter((m) => !m.isLearner).length);
        // Every member is readable through the cluster: the quorum answers.
        assert.equal(await world.get('/e2e/rolling'), 'survives');
      };

      const newest = (known: readonly string[]): string =>
        world.group
          .instances()
          .map((inst) => inst.id)
          .find((id) => !known.includes(id))!;
      let known = world.group.instances().map((inst) => inst.id);
      await world.replace(original[0]!);
      let replacement = newest(known);
      const first = await world.deliver(); // terminate: 3 voters, no learner, so the first voter may go
      assert.deepEqual(first?.result, { kind: 'terminate', outcome: 'removed' });
      for (let i = 0; i < original.length; i++) {
        // The launch adds the learner; its instance has not booted, so it is not promoted and the launch waits.
        // (Under load a launch may first find the lock busy or etcd electing: those retries are not the point.)
        let launch;
        for (let attempt = 0; attempt < 5; attempt++) {
          world.prioritize(`launch ${replacement}`);
          launch = await world.deliver();
          if (/still a learner/.test(launch?.error?.message ?? '')) break;
        }
        assert.match(launch?.error?.message ?? '', /still a learner/, `launch of ${replacement}`);
        assert.equal(world.instance(replacement).lifecycleState, 'Pending:Wait');
        await watchQuorum();
        const next = original[i + 1];
        let nextReplacement: string | undefined;
        if (next !== undefined) {
          // The rolling update moves on at once: the next voter's termination must wait for the learner.
          known = world.group.instances().map((inst) => inst.id);
          await world.replace(next);
          nextReplacement = newest(known);
          world.hold(`launch ${nextReplacement}`);
          world.prioritize(`terminate ${next}`);
          const terminate = await world.deliver();
          assert.ok(terminate?.error !== undefined, `terminate ${next} is held, not completed: ${JSON.stringify(terminate?.result)}`);
          assert.match(terminate.error.message, /termination waits/);
          assert.equal(world.instance(next).lifecycleState, 'Terminating:Wait');
          assert.ok(world.etcdOf(next)?.running, 'the held voter still runs');
          held++;
          await watchQuorum();
        }
        // The replacement finishes booting; reconcile passes promote it first, then let the held termination go.
        world.group.releaseBoot(replacement);
        await world.waitForEtcd(replacement, 20_000);
        for (let pass = 0; ; pass++) {
          assert.ok(pass < 30, `the rolling step did not finish: ${world.describeTimeline(10)}`);
          await world.reconcile();
          const done =
            world.instance(replacement).lifecycleState === 'InService' &&
            (next === undefined || world.group.instance(next)?.lifecycleState === 'Terminated');
          if (done) break;
          await delay(300);
        }
        await watchQuorum();
        await world.runUntilQuiet({ reconcile: 'never' }); // the redelivered events: nothing left to do
        world.release();
        if (nextReplacement !== undefined) replacement = nextReplacement;
      }

      const result = await world.settle({ timeoutMs: 120_000 });
      assertSettled(result.problems);
      assert.equal(result.members.length, 3);
      assert.ok(result.members.every((m) => !m.isLearner));
      assert.ok(
        original.every((id) => !result.inService.includes(id)),
        'every original instance was replaced',
      );
      assert.equal(held, 2);
      // Never fewer than two voters: the cluster could always promote its next learner.
      assert.ok(
        voterCounts.every((n) => n >= 2),
        `voters seen: ${voterCounts.join(', ')}`,
      );
      assert.equal(await world.get('/e2e/rolling'), 'survives');
      // Every launch completed CONTINUE exactly once, and only after its member was a voter.
      const launches = world.completions().filter((c) => c.transition === 'launch' && !original.includes(c.instanceId));
      assert.equal(launches.length, 3);
      assert.ok(launches.every((c) => c.result === 'CONTINUE'));
    },
  );
});
