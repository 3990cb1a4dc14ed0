// Every branch of the quorum-guarded removal (removeMember) and of the reconcile pass's removal of gone members
// (removeGoneMembers), fast: the simulated cloud and the etcd gateway double, no etcd processes. Each test pins
// one decision by what it did to the cluster (which member/remove and lock calls reached etcd), what it returned,
// and the decision record it logged, so a branch that is skipped or taken wrongly fails a test here.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Health, Member, MemberId } from '../../src/core/types.js';
import type { LifecycleDeps } from '../../src/lambda/deps.js';
import { loadGroup, type GroupView } from '../../src/lambda/group.js';
import { removeGoneMembers, removeMember } from '../../src/lambda/members.js';
import type { Observed } from '../../src/services/observe.js';
import type { World } from '../sim/world.js';
import { startBareGroupOfThree } from './double-world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble, type DoubleMember } from './etcd-gateway-double.js';
import { BASE_ID } from './fixtures.js';

describe('removal decisions against a live cluster of three', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  let group: GroupView;
  let earlierDecisions: number;
  let earlierRemovals: number;
  const memberId = (instanceId: string): bigint => doubleMemberId(ids, instanceId);
  const byId = (instanceId: string) => (m: Member) => m.id === memberId(instanceId);

  // One group for all (the tests call the decisions directly and change only the etcd double, made anew each time);
  // the one test that terminates an instance through the handler runs last.
  before(async () => {
    ({ world, ids } = await startBareGroupOfThree(600));
    group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
  });
  after(async () => world.close());
  beforeEach(() => {
    double = new EtcdGatewayDouble(doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort));
    earlierDecisions = world.telemetry!.decisions().length;
    earlierRemovals = world.telemetry!.total('Removals');
  });
  afterEach(async () => double.close());
  /**
   * The handler's dependencies with generous etcd timeouts: a member that is down refuses at once, so nothing
   * waits for them, and a loaded machine must not turn a slow answer into "unhealthy".
   */
  const deps = (): LifecycleDeps => ({ ...world.deps, connection: { requestTimeoutMs: 5000, healthTimeoutMs: 5000 } });

  /** The decisions logged by this test (the launches and earlier tests logged theirs). */
  const decisions = () => world.telemetry!.decisions().slice(earlierDecisions);
  const removalCount = () => world.telemetry!.total('Removals') - earlierRemovals;
  const removals = () => double.operations.filter((op) => op.startsWith('cluster/member/remove'));
  const lockCalls = (from = 0) => double.operations.slice(from).filter((op) => op === 'lease/grant' || op === 'kv/txn');
  /** What an observer would have seen a moment ago: every member of the double, all healthy. */
  const allHealthy = (extra: Member[] = []): Observed => {
    const members: Member[] = [...double.members, ...extra];
    return { kind: 'reachable', members, health: new Map<MemberId, Health>(members.map((m) => [m.id, 'healthy'])) };
  };

  test('a removal: the member goes under the lock, counted, with a decision naming it', async () => {
    await double.start();
    const outcome = await removeMember(group, { isTarget: byId(ids[2]!), why: 'because' }, deps());
    assert.equal(outcome, 'removed');
    assert.deepEqual(removals(), [`cluster/member/remove ${memberId(ids[2]!).toString()}`]);
    assert.deepEqual(lockCalls().slice(0, 2), ['lease/grant', 'kv/txn'], 'the lock was taken first');
    assert.equal(removalCount(), 1);
    const [record] = decisions();
    assert.equal(record?.decision, 'remove');
    assert.match(String(record?.reason), new RegExp(`^because: removed .*${ids[2]!}`));
  });

  test('a duplicate: the member is already gone, so absent, decided without the lock and without a removal', async () => {
    await double.start();
    assert.equal(await removeMember(group, { isTarget: byId(ids[1]!), why: 'first' }, deps()), 'removed');
    const before = double.operations.length;
    assert.equal(await removeMember(group, { isTarget: byId(ids[1]!), why: 'again' }, deps()), 'absent');
    assert.deepEqual(lockCalls(before), [], 'no lock taken for a member that is not there');
    assert.equal(removals().length, 1);
    const record = decisions().at(-1);
    assert.deepEqual([record?.decision, record?.reason], ['skip', 'again; it is not a member (already removed, or never joined)']);
  });

  test('a removal that would cost the quorum: unsafe, decided before the lock (which could not be had), nothing removed', async () => {
    await double.start([memberId(ids[1]!)]);
    assert.equal(await removeMember(group, { isTarget: byId(ids[0]!), why: 'leaving' }, deps()), 'unsafe');
    assert.deepEqual(lockCalls(), []);
    assert.deepEqual(removals(), []);
    const [record] = decisions();
    assert.equal(record?.decision, 'keep');
    assert.match(String(record?.reason), /^leaving, but removing .* would leave 1 healthy of 2 voting members, below the quorum of 2$/);
  });

  test('the locked re-check decides: a member gone by the time the lock is held is absent, not removed', async () => {
    await double.start();
    const ghost: Member = {
      id: BASE_ID + 99n,
      name: 'i-0123456789abcdef0',
      peerURLs: ['http://10.9.9.9:2380'],
      clientURLs: [],
      isLearner: true,
    };
    const outcome = await removeMember(
      group,
      { isTarget: (m) => m.id === ghost.id, why: 'ghost', justObserved: allHealthy([ghost]) },
      deps(),
    );
    assert.equal(outcome, 'absent');
    assert.deepEqual(lockCalls().slice(0, 2), ['lease/grant', 'kv/txn'], 'decided under the lock');
    assert.deepEqual(removals(), []);
  });

  test('the locked re-check decides: a voter that went down meanwhile makes the removal unsafe', async () => {
    // The caller's observation says all three are healthy; the cluster has lost one since.
    await double.start([memberId(ids[1]!)]);
    const outcome = await removeMember(group, { isTarget: byId(ids[0]!), why: 'leaving', justObserved: allHealthy() }, deps());
    assert.equal(outcome, 'unsafe');
    assert.deepEqual(removals(), []);
    assert.deepEqual(lockCalls().slice(0, 2), ['lease/grant', 'kv/txn']);
    assert.deepEqual(
      decisions().map((d) => d.decision),
      ['keep'],
    );
    assert.match(String(decisions()[0]?.reason), /^leaving, but removing .* below the quorum of 2$/);
  });

  test('the locked re-check decides: a cluster that stops answering once the lock is held keeps the member', async () => {
    await double.start();
    double.onOperation = (op) => {
      if (op === 'kv/txn') {
        double.refusing.add('/v3/cluster/member/list');
        double.refusing.add('/v3/maintenance/status');
      }
    };
    const outcome = await removeMember(group, { isTarget: byId(ids[0]!), why: 'leaving', justObserved: allHealthy() }, deps());
    assert.equal(outcome, 'kept');
    assert.deepEqual(removals(), []);
  });

  test('a member removed by someone else between the re-check and the removal: absent (member not found is not an error)', async () => {
    await double.start();
    const target = memberId(ids[2]!);
    const racing: LifecycleDeps = {
      ...deps(),
      faultPoint: (step) => {
        if (step === 'remove-member') double.members = double.members.filter((m) => m.id !== target);
      },
    };
    assert.equal(await removeMember(group, { isTarget: byId(ids[2]!), why: 'leaving' }, racing), 'absent');
    assert.equal(removalCount(), 0);
  });

  test('any other etcd error on the removal fails the removal (no outcome is made up)', async () => {
    await double.start();
    double.failNext.set('/v3/cluster/member/remove', { status: 403, message: 'etcdserver: permission denied', code: 7, times: 1 });
    await assert.rejects(removeMember(group, { isTarget: byId(ids[2]!), why: 'leaving' }, deps()), /permission denied/);
    assert.equal(double.members.length, 3);
  });

  test('a transient refusal of the removal is retried (and logged), then the member goes', async () => {
    await double.start();
    // On every member once: the client's own fail-over does not help, so the retry must.
    const logsBefore = world.telemetry!.logs.length;
    double.failNext.set('/v3/cluster/member/remove', { status: 503, message: 'etcdserver: unhealthy cluster', code: 14, times: 3 });
    assert.equal(await removeMember(group, { isTarget: byId(ids[2]!), why: 'leaving' }, deps()), 'removed');
    assert.equal(double.members.length, 2);
    assert.ok(world.telemetry!.logs.slice(logsBefore).some((l) => /etcd is not ready .*; retrying/.test(l.message)));
  });

  test('without a fault-injection hook (as in production) the removal runs', async () => {
    await double.start();
    const production = Object.fromEntries(Object.entries(deps()).filter(([key]) => key !== 'faultPoint')) as unknown as LifecycleDeps;
    assert.equal(await removeMember(group, { isTarget: byId(ids[2]!), why: 'leaving' }, production), 'removed');
  });

  describe('the reconcile pass: members whose instances are gone', () => {
    test('a started member named after a gone instance and an unstarted one on an address no instance has: both removed, one at a time, the live ones kept', async () => {
      const goneNamed: DoubleMember = {
        id: BASE_ID + 7n,
        name: 'i-0000000000000dead',
        peerURLs: ['http://10.9.9.7:2380'],
        clientURLs: ['http://10.9.9.7:2379'],
        isLearner: false,
      };
      const goneUnstarted: DoubleMember = {
        id: BASE_ID + 8n,
        name: '',
        peerURLs: ['http://10.9.9.8:2380'],
        clientURLs: [],
        isLearner: true,
      };
      // A member named like nothing the group knows stays: only instance IDs can be known to be gone.
      const foreign: DoubleMember = {
        id: BASE_ID + 9n,
        name: 'etcd-admin',
        peerURLs: ['http://10.9.9.9:2380'],
        clientURLs: ['http://10.9.9.9:2379'],
        isLearner: true,
      };
      double.members.push(goneNamed, goneUnstarted, foreign);
      await double.start([goneNamed.id, foreign.id]);
      const result = await removeGoneMembers(group, deps());
      assert.equal(result.reachable, true);
      assert.equal(result.removed.length, 2);
      assert.match(result.removed[0]!, /i-0000000000000dead/);
      assert.deepEqual(removals(), [
        `cluster/member/remove ${goneNamed.id.toString()}`,
        `cluster/member/remove ${goneUnstarted.id.toString()}`,
      ]);
      assert.deepEqual(double.members.map((m) => m.name).sort(), ['etcd-admin', ...ids].sort());
    });

    test('a gone member whose removal would cost the quorum stays, and is not reported as removed', async () => {
      const gone: DoubleMember = {
        id: BASE_ID + 7n,
        name: 'i-0000000000000dead',
        peerURLs: ['http://10.9.9.7:2380'],
        clientURLs: ['http://10.9.9.7:2379'],
        isLearner: false,
      };
      double.members.push(gone);
      // 4 voters, 2 answer: removing the dead one leaves 2 healthy of 3, enough; with a second dead it is not.
      await double.start([memberId(ids[0]!), memberId(ids[1]!), gone.id]);
      const result = await removeGoneMembers(group, deps());
      assert.deepEqual(result, { reachable: true, removed: [] });
      assert.deepEqual(removals(), []);
    });

    test('no member answers: not reachable, nothing removed', async () => {
      assert.deepEqual(await removeGoneMembers(group, deps()), { reachable: false, removed: [] });
    });

    test('nothing gone: nothing removed, no lock taken', async () => {
      await double.start();
      assert.deepEqual(await removeGoneMembers(group, deps()), { reachable: true, removed: [] });
      assert.deepEqual(lockCalls(), []);
    });
  });

  test('(last: changes the group) through the handler, no member answers: kept (nothing to remove or protect), the termination completes, and the decision says why', async () => {
    // The double is never started: every client URL refuses.
    await world.terminate(ids[0]!);
    const delivery = await world.deliver();
    assert.deepEqual(delivery?.result, { kind: 'terminate', outcome: 'kept' });
    assert.deepEqual(
      decisions().map((d) => [d.decision, d.reason]),
      [['keep', `instance ${ids[0]!} is terminating, but no member answers; the reconcile pass removes it later`]],
    );
  });
});
