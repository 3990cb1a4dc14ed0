// Each membership decision of the Lambda closes its etcd client before it returns, whatever the outcome: a warm
// Lambda runs many invocations, and a client left open keeps its pooled keep-alive connections to the members.
// Fast: the simulated cloud and the etcd gateway double (which counts the connections open to it), no etcd processes.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { LifecycleDeps } from '../../src/lambda/deps.js';
import { loadGroup, type GroupView } from '../../src/lambda/group.js';
import { promoteReadyLearners, removeGoneMembers, removeMember } from '../../src/lambda/members.js';
import { startWorld, type World } from '../sim/world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble } from './etcd-gateway-double.js';

describe('the decisions close their etcd clients', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  let group: GroupView;
  const memberId = (instanceId: string): bigint => doubleMemberId(ids, instanceId);
  const deps = (): LifecycleDeps => ({ ...world.deps, connection: { requestTimeoutMs: 5000, healthTimeoutMs: 5000 } });
  /** Waits (bounded) until no connection to the double is open: closing a client closes its sockets at once. */
  const allClosed = async (): Promise<number> => {
    for (let i = 0; i < 50 && double.openConnections > 0; i++) await delay(100);
    return double.openConnections;
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
    assert.equal(await removeMember(group, { isTarget: (m) => m.id === memberId(ids[2]!), why: 'leaving' }, deps()), 'removed');
    assert.equal(await allClosed(), 0);
  });

  test('removeGoneMembers, with nothing gone', async () => {
    assert.deepEqual(await removeGoneMembers(group, deps()), { reachable: true, removed: [] });
    assert.equal(await allClosed(), 0);
  });

  test('promoteReadyLearners, after a promotion', async () => {
    double.members = double.members.map((m) => (m.id === memberId(ids[2]!) ? { ...m, isLearner: true } : m));
    assert.deepEqual(await promoteReadyLearners(group, deps()), [ids[2]]);
    assert.equal(await allClosed(), 0);
  });
});
