// Each membership decision of the Lambda leaves no connections behind beyond the process's shared pool: a warm
// Lambda runs many invocations, and they reuse the kept-alive connections to the members (clientFor's shared
// agents) rather than opening more each time. Fast: the simulated cloud and the etcd gateway double (which counts
// the connections open to it), no etcd processes.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { LifecycleDeps } from '../../src/lambda/deps.js';
import { loadGroup, type GroupView } from '../../src/lambda/group.js';
import { promoteReadyLearners, removeGoneMembers, removeMember } from '../../src/lambda/members.js';
import { startWorld, type World } from '../sim/world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble } from './etcd-gateway-double.js';

describe('the decisions reuse the shared etcd connections, opening no more on the next invocation', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  let group: GroupView;
  const memberId = (instanceId: string): bigint => doubleMemberId(ids, instanceId);
  const deps = (): LifecycleDeps => ({ ...world.deps, connection: { requestTimeoutMs: 5000, healthTimeoutMs: 5000 } });
  /** The connections open to the double once the last answers were read (the pool keeps them open). */
  const open = async (): Promise<number> => {
    await delay(50);
    return double.openConnections;
  };
  /** Runs a decision twice: the second opens no connection beyond those the first left in the pool. */
  const reusesConnections = async (decide: () => Promise<unknown>): Promise<void> => {
    await decide();
    const first = await open();
    assert.ok(first > 0, 'the pool keeps the connections open');
    await decide();
    assert.equal(await open(), first, 'the second run opened connections of its own');
  };

  before(async () => {
    world = await startWorld({ seed: 17, boot: 'none', clusterSize: 3, handlerPollMs: 50, tls: false });
    await world.scaleTo(3);
    await world.runUntilQuiet({ reconcile: 'never' });
    ids = world.inService().sort();
    group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
  });
  after(async () => world.close());
  beforeEach(async () => {
    double = new EtcdGatewayDouble(doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort));
    await double.start();
  });
  afterEach(async () => double.close());

  test('removeMember, after a removal', async () => {
    await reusesConnections(async () => {
      double.members = doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort);
      assert.equal(await removeMember(group, { isTarget: (m) => m.id === memberId(ids[2]!), why: 'leaving' }, deps()), 'removed');
    });
  });

  test('removeGoneMembers, with nothing gone', async () => {
    await reusesConnections(async () => assert.deepEqual(await removeGoneMembers(group, deps()), { reachable: true, removed: [] }));
  });

  test('promoteReadyLearners, after a promotion', async () => {
    await reusesConnections(async () => {
      double.members = double.members.map((m) => (m.id === memberId(ids[2]!) ? { ...m, isLearner: true } : m));
      assert.deepEqual(await promoteReadyLearners(group, deps()), [ids[2]]);
    });
  });
});
