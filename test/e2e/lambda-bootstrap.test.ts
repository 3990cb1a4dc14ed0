// The lifecycle Lambda end to end: a simulated Auto Scaling group whose instances run real etcd, the real
// handler with the real SDK clients. First bootstrap (with a first-wave member dying before the cluster
// forms), duplicate events, and handler crashes between steps that the redelivery or the reconcile finishes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdctlMemberList } from '../harness/index.js';
import { parseDropin, startWorld, timelineFromEnv, type World } from '../sim/world.js';

const TIMEOUT = { timeout: 120_000 };

function assertSettled(problems: string[]): void {
  assert.deepEqual(problems, [], problems.join('\n'));
}

describe('first bootstrap of three instances', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 101, ...timelineFromEnv() });
  });
  after(async () => world.close());

  test('forms the cluster even though a first-wave member dies before it forms', TIMEOUT, async () => {
    await world.scaleTo(3);
    const firstWave = world.idsIn('Pending:Wait');
    assert.equal(firstWave.length, 3);
    assert.deepEqual(world.queue.map((q) => q.summary), firstWave.map((id) => `launch ${id}`));

    // The first launch records the first wave (create-only) and configures its instance for a new cluster.
    const first = await world.deliver();
    assert.deepEqual(first?.result, { kind: 'launch', outcome: 'continue' });
    const doomed = firstWave[0]!;
    const record = JSON.parse((await world.parameters.get(world.parameters.bootstrapName()))!) as { members: { name: string }[] };
    assert.deepEqual(record.members.map((m) => m.name).sort(), [...firstWave].sort());
    const settings = parseDropin((await world.parameters.get(world.parameters.instanceName(doomed, 'dropin')))!);
    assert.equal(settings.ETCD_INITIAL_CLUSTER_STATE, 'new');
    assert.equal(settings.ETCD_INITIAL_CLUSTER?.split(',').length, 3);

    // Its etcd starts and waits for the others; the machine dies before any other member starts.
    const etcd = await world.waitForEtcd(doomed);
    assert.ok(etcd.running);
    await world.crash(doomed);
    assert.ok(!etcd.running);
    const replacement = world.idsIn('Pending:Wait').find((id) => !firstWave.includes(id));
    assert.ok(replacement !== undefined, 'the group launched a replacement');

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), [...firstWave.slice(1), replacement].sort());

    // The replacement joined the existing cluster; the dead first-wave member was removed, not kept.
    const joined = parseDropin((await world.parameters.get(world.parameters.instanceName(replacement, 'dropin')))!);
    assert.equal(joined.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.ok(!result.members.some((m) => m.name === doomed));

    const completions = world.completions();
    for (const id of [...firstWave, replacement]) {
      assert.deepEqual(
        completions.filter((c) => c.instanceId === id && c.transition === 'launch').map((c) => c.result),
        ['CONTINUE'],
        `launch of ${id}`,
      );
    }
    assert.deepEqual(completions.filter((c) => c.transition === 'terminate'), [{ instanceId: doomed, transition: 'terminate', result: 'CONTINUE' }]);
    assert.equal(world.bootFailures.length, 0);

    await world.put('/e2e/bootstrap', 'written after the bootstrap');
    assert.equal(await world.get('/e2e/bootstrap'), 'written after the bootstrap');
    const list = await etcdctlMemberList(world.endpoints());
    assert.equal(list.members.length, 3);
  });
});
