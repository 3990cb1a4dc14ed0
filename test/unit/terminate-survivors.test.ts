// What the mutation run of the decision code found unchecked in src/lambda/terminate.ts and members.ts, fast (the
// simulated cloud and the etcd gateway double, no etcd processes): a terminate while a restore is requested leaves
// the members alone yet completes; the handler runs without a fault-injection hook, as in production; its latency
// metric is the time it took; a group meant to have one member may shrink to one voter, any other may not; which
// unstarted member a terminate takes for the leaving instance's; the removal re-decided under the lock on the
// leader's member list; the removal's decision names the member.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LifecycleDeps } from '../../src/lambda/deps.js';
import { loadGroup } from '../../src/lambda/group.js';
import { removeMember } from '../../src/lambda/members.js';
import { handleTerminate } from '../../src/lambda/terminate.js';
import type { World } from '../sim/world.js';
import { startBareGroupOfThree } from './double-world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble, type DoubleMember } from './etcd-gateway-double.js';
import { BASE_ID } from './fixtures.js';

describe('terminate: the restore branch, production wiring, the latency metric, a one-member group', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  const memberId = (instanceId: string): bigint => doubleMemberId(ids, instanceId);
  const removals = (): string[] => double.operations.filter((op) => op.startsWith('cluster/member/remove'));
  const terminateCompletions = () => world.completions().filter((c) => c.transition === 'terminate');
  /** The world's dependencies without the fault-injection hook, as lambda/handler.ts wires them. */
  const production = (): LifecycleDeps =>
    Object.fromEntries(Object.entries(world.deps).filter(([key]) => key !== 'faultPoint')) as unknown as LifecycleDeps;

  beforeEach(async () => {
    ({ world, ids } = await startBareGroupOfThree(300));
    double = new EtcdGatewayDouble(doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort));
  });
  afterEach(async () => {
    await double.close();
    await world.close();
  });

  test('while a restore is requested: kept, etcd not even asked, its parameters deleted, CONTINUE, and the decision says why', async () => {
    await double.start();
    await world.parameters.put(world.parameters.restoreRequestName(), JSON.stringify({ format: 1, from: 'latest' }));
    const leaving = ids[0]!;
    await world.terminate(leaving);
    const delivery = await world.deliver();
    assert.deepEqual(delivery?.result, { kind: 'terminate', outcome: 'kept' });
    assert.deepEqual(double.operations, [], 'no member list, no removal: the cluster is being replaced');
    assert.equal(await world.parameters.get(world.parameters.instanceName(leaving, 'dropin')), undefined, 'its parameters are deleted');
    assert.deepEqual(terminateCompletions(), [{ instanceId: leaving, transition: 'terminate', result: 'CONTINUE' }]);
    const decision = world.telemetry!.decisions().at(-1);
    assert.deepEqual([decision?.trigger, decision?.instanceId, decision?.decision], ['terminate', leaving, 'keep']);
    assert.match(String(decision?.reason), /is terminating while a restore is requested: the cluster is being replaced/);
  });

  test('as in production (no fault-injection hook): a removal and a restore-time termination both complete', async () => {
    await double.start();
    const [first, second] = ids;
    await world.terminate(first!);
    world.drop('terminate');
    assert.equal(await handleTerminate({ instanceId: first!, token: '' }, production()), 'removed');
    assert.deepEqual(removals(), [`cluster/member/remove ${memberId(first!).toString()}`]);

    await world.parameters.put(world.parameters.restoreRequestName(), JSON.stringify({ format: 1, from: 'latest' }));
    await world.terminate(second!);
    world.drop('terminate');
    assert.equal(await handleTerminate({ instanceId: second!, token: '' }, production()), 'kept');
    assert.deepEqual(
      terminateCompletions().map((c) => [c.instanceId, c.result]),
      [
        [first, 'CONTINUE'],
        [second, 'CONTINUE'],
      ],
    );
  });

  test('the Terminate latency metric is the time the handler took, for a removal and for a restore-time termination', async () => {
    await double.start();
    const latencies = () => world.telemetry!.metrics.get('TerminateLatency') ?? [];
    const timed = async (instanceId: string): Promise<number> => {
      await world.terminate(instanceId);
      world.drop('terminate');
      const began = Date.now();
      await handleTerminate({ instanceId, token: '' }, world.deps);
      return Date.now() - began;
    };
    const removal = await timed(ids[0]!);
    await world.parameters.put(world.parameters.restoreRequestName(), JSON.stringify({ format: 1, from: 'latest' }));
    const restoring = await timed(ids[1]!);
    const [a, b, ...more] = latencies();
    assert.deepEqual(more, []);
    assert.ok(a !== undefined && a >= 0 && a <= removal, `removal: recorded ${String(a)} ms, measured ${removal} ms around it`);
    assert.ok(b !== undefined && b >= 0 && b <= restoring, `restore: recorded ${String(b)} ms, measured ${restoring} ms around it`);
  });

  /** An unstarted member (added, never started) on `ip`'s peer port. */
  const unstartedOn = (n: number, ...peerHosts: string[]): DoubleMember => ({
    id: BASE_ID + BigInt(n),
    name: '',
    peerURLs: peerHosts.map((host) => `http://${host}:2380`),
    clientURLs: [],
    isLearner: true,
  });

  test("an unstarted member on another address (another joiner, still booting) is not the leaving instance's: absent, kept", async () => {
    const leaving = ids[2]!;
    // The leaving instance's member is already gone; another instance's member was added and has not started.
    double.members = [unstartedOn(9, '10.9.9.9'), ...double.members.filter((m) => m.id !== memberId(leaving))];
    await double.start();
    await world.terminate(leaving);
    assert.deepEqual((await world.deliver())?.result, { kind: 'terminate', outcome: 'absent' });
    assert.deepEqual(removals(), []);
    assert.equal(double.members.length, 3);
  });

  test("an unstarted member with several peer URLs, one on the leaving instance's address, is removed", async () => {
    const leaving = ids[2]!;
    const ip = world.instance(leaving).privateIp;
    double.members = [...double.members.filter((m) => m.id !== memberId(leaving)), unstartedOn(9, '10.9.9.9', ip)];
    await double.start();
    await world.terminate(leaving);
    assert.deepEqual((await world.deliver())?.result, { kind: 'terminate', outcome: 'removed' });
    assert.deepEqual(removals(), [`cluster/member/remove ${(BASE_ID + 9n).toString()}`]);
  });

  test("the locked re-check asks the leader, and without its list nothing is removed; the removal's decision names the member", async () => {
    await double.start();
    const group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
    const deps: LifecycleDeps = { ...world.deps, connection: { requestTimeoutMs: 5000, healthTimeoutMs: 5000 } };
    const leaving = ids[1]!;
    const request = { isTarget: (m: { id: bigint }) => m.id === memberId(leaving), why: 'leaving' };
    // Under the lock: one list per endpoint (the look), then the leader's (the fourth), which is refused.
    let locked = false;
    let lists = 0;
    double.onOperation = (op) => {
      if (op === 'kv/txn') locked = true;
      if (locked && op === 'cluster/member/list' && ++lists === 4) double.refusing.add('/v3/cluster/member/list');
    };
    await assert.rejects(
      removeMember(group, request, deps),
      /no member answered the member list through the leader, so no membership change is made/,
    );
    assert.deepEqual(removals(), []);

    double.onOperation = undefined;
    double.refusing.clear();
    assert.equal(await removeMember(group, request, deps), 'removed');
    const decision = world.telemetry!.decisions().at(-1);
    assert.deepEqual([decision?.decision, decision?.member], ['remove', `${leaving} [${memberId(leaving).toString(16)}]`]);
  });

  test('a group meant to have one member may shrink to one voter; a group of three may not', async () => {
    // Two voters left, both healthy.
    double.members = double.members.filter((m) => m.id !== memberId(ids[2]!));
    await double.start();
    const group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
    const deps = (clusterSize: number): LifecycleDeps => ({
      ...world.deps,
      config: { ...world.deps.config, clusterSize },
      connection: { requestTimeoutMs: 5000, healthTimeoutMs: 5000 },
    });
    const target = { isTarget: (m: { id: bigint }) => m.id === memberId(ids[1]!), why: 'leaving' };
    assert.equal(await removeMember(group, target, deps(3)), 'unsafe');
    assert.deepEqual(removals(), []);
    assert.match(String(world.telemetry!.decisions().at(-1)?.reason), /would leave a single voter/);
    assert.equal(await removeMember(group, target, deps(1)), 'removed');
    assert.deepEqual(removals(), [`cluster/member/remove ${memberId(ids[1]!).toString()}`]);
  });
});
