// The terminate lifecycle action against a live cluster, fast: the simulated cloud (real SDK clients, real
// handler) and the etcd gateway double on the instances' own addresses, no etcd processes. What the slow e2e
// tests show only through the settled end state, shown here step by step and without any reconcile pass:
// - the member is removed BEFORE the termination is completed with CONTINUE;
// - a removal that would cost the quorum holds the termination (no CONTINUE, heartbeat, retry later);
// - a duplicate terminate event finds the member gone (absent) and completes nothing twice.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { World } from '../sim/world.js';
import { startBareGroupOfThree } from './double-world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble } from './etcd-gateway-double.js';

describe('terminate against a live cluster of three', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  const memberId = (instanceId: string): bigint => doubleMemberId(ids, instanceId);

  beforeEach(async () => {
    // Short re-check window and polls: the hold loop looks again every 50 ms for 600 ms.
    ({ world, ids } = await startBareGroupOfThree(600));
    double = new EtcdGatewayDouble(doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort));
  });
  afterEach(async () => {
    await double.close();
    await world.close();
  });

  const terminateCompletion = (instanceId: string): number =>
    world.cloud.calls.findIndex(
      (c) =>
        c.operation === 'CompleteLifecycleAction' &&
        c.params.InstanceId === instanceId &&
        c.params.LifecycleHookName === world.config.terminateHook &&
        c.error === undefined,
    );

  test('the leaving member is removed before the termination is completed with CONTINUE', async () => {
    await double.start();
    const [leaving] = ids;
    let callsAtRemoval = -1;
    double.onRemove = (id) => {
      if (id === memberId(leaving!)) callsAtRemoval = world.cloud.calls.length;
    };
    await world.terminate(leaving!);
    const delivery = await world.deliver();
    assert.deepEqual(delivery?.result, { kind: 'terminate', outcome: 'removed' });
    assert.ok(callsAtRemoval >= 0, 'the member was removed');
    const completed = terminateCompletion(leaving!);
    assert.ok(completed >= callsAtRemoval, `CONTINUE (call ${completed}) came after the removal (at call ${callsAtRemoval})`);
    assert.deepEqual(
      world.completions().filter((c) => c.transition === 'terminate'),
      [{ instanceId: leaving, transition: 'terminate', result: 'CONTINUE' }],
    );
    assert.deepEqual(double.members.map((m) => m.name).sort(), ids.slice(1));
    assert.deepEqual(
      double.operations.filter((op) => op.startsWith('cluster/member/remove')),
      [`cluster/member/remove ${memberId(leaving!).toString()}`],
    );
    assert.ok(!world.deliveries.some((d) => d.summary === 'reconcile'), 'no reconcile pass ran');
  });

  test('a duplicate terminate event finds the member gone: removed once, absent once, one CONTINUE', async () => {
    await double.start();
    const leaving = ids[1]!;
    await world.terminate(leaving);
    world.duplicate('terminate');
    const outcomes = (await world.runUntilQuiet({ reconcile: 'never' })).map((d) => d.result?.outcome ?? d.error?.message);
    assert.deepEqual(outcomes, ['removed', 'absent']);
    assert.deepEqual(
      world.completions().filter((c) => c.transition === 'terminate'),
      [{ instanceId: leaving, transition: 'terminate', result: 'CONTINUE' }],
    );
    assert.equal(double.operations.filter((op) => op.startsWith('cluster/member/remove')).length, 1);
  });

  test('while another voter is down, the termination is held: no removal, no CONTINUE, a heartbeat, retried later', async () => {
    const [leaving, down] = ids;
    await double.start([memberId(down!)]);
    await world.terminate(leaving!);
    const held = await world.deliver();
    assert.match(held?.error?.message ?? '', /is terminating, but removing its member now would cost the quorum; its termination waits/);
    assert.equal(held?.requeued, true);
    assert.equal(terminateCompletion(leaving!), -1, 'no CONTINUE while holding');
    assert.equal(double.members.length, 3, 'nothing removed');
    assert.ok(
      world.cloud.callsOf('RecordLifecycleActionHeartbeat').some((c) => c.params.InstanceId === leaving),
      'the hook was kept alive',
    );
    assert.notEqual(await world.parameters.get(world.parameters.instanceName(leaving!, 'dropin')), undefined, 'its parameters are kept');
    assert.equal(world.instance(leaving!).lifecycleState, 'Terminating:Wait');

    // The other voter is back: the redelivered event removes the member, then completes.
    await double.up(memberId(down!));
    const retried = await world.deliver();
    assert.deepEqual(retried?.result, { kind: 'terminate', outcome: 'removed' });
    assert.ok(terminateCompletion(leaving!) >= 0);
    assert.equal(world.instance(leaving!).lifecycleState, 'Terminated');
  });

  test('a hold ends by itself once the quorum allows the removal within the re-check window', async () => {
    const [leaving, down] = ids;
    await double.start([memberId(down!)]);
    await world.terminate(leaving!);
    const back = new Promise<void>((resolve) => setTimeout(() => resolve(double.up(memberId(down!))), 150));
    const delivery = await world.deliver();
    await back;
    assert.deepEqual(delivery?.result, { kind: 'terminate', outcome: 'removed' });
    assert.ok(terminateCompletion(leaving!) >= 0);
  });

  test('the member of a dead voter is removed at once (the others keep a quorum)', async () => {
    const [, , leaving] = ids;
    await double.start([memberId(leaving!)]);
    await world.terminate(leaving!);
    assert.deepEqual((await world.deliver())?.result, { kind: 'terminate', outcome: 'removed' });
    assert.deepEqual(double.members.map((m) => m.name).sort(), ids.slice(0, 2));
  });
});
