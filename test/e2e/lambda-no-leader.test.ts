// A launch into a cluster that has no leader: two of three members hung (SIGSTOP). On etcd 3.5 the member
// list through the leader never answers then; the handler must still see the members (each one's own list),
// decide "no quorum", and abandon the launch in bounded time with the member list unchanged, then heal once
// the members answer again. Runs on both versions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';

describe('a launch while the cluster has no leader', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 77, clusterSize: 5, ...timelineFromEnv() });
    const settled = await world.bootstrap(3);
    assert.deepEqual(settled.problems, []);
    await world.put('/e2e/no-leader', 'before');
  });
  after(async () => world?.close());

  test(
    'two of three hung: the launch is abandoned with the member list unchanged, and the group heals after',
    { timeout: 120_000 },
    async () => {
      const [survivor, ...frozen] = world.inService() as [string, string, string];
      const membersBefore = (await world.localMemberList(survivor)).members.map((m) => m.id).sort();
      for (const id of frozen) world.etcdOf(id)!.stop();
      try {
        await world.scaleTo(4);
        const launch = await world.deliver();
        assert.equal(launch?.error, undefined, launch?.error?.message);
        assert.deepEqual(launch?.result, { kind: 'launch', outcome: 'abandon' });
        const decision = world.telemetry!.decisions().at(-1);
        assert.equal(decision?.decision, 'refuse');
        assert.match(String(decision?.code), /no-quorum|quorum-at-risk|cluster-down/);
        assert.deepEqual((await world.localMemberList(survivor)).members.map((m) => m.id).sort(), membersBefore);
      } finally {
        for (const id of frozen) world.etcdOf(id)!.resume();
      }
      await world.scaleTo(3);
      const settled = await world.settle({ timeoutMs: 60_000 });
      assert.deepEqual(settled.problems, []);
      assert.equal(await world.get('/e2e/no-leader'), 'before');
    },
  );
});
