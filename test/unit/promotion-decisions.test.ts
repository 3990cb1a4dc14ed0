// Every branch of the reconcile pass's promotion of learners that caught up (promoteReadyLearners), fast: the
// simulated cloud and the etcd gateway double, no etcd processes. Each test pins one decision by what reached
// etcd (member list, status checks, promote calls), what the function returned, and what it counted and logged.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LifecycleDeps } from '../../src/lambda/deps.js';
import { loadGroup, type GroupView } from '../../src/lambda/group.js';
import { promoteReadyLearners } from '../../src/lambda/members.js';
import { startWorld, type World } from '../sim/world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble } from './etcd-gateway-double.js';

describe('promotion of learners that caught up, against a group of four (three voters, one learner)', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  let group: GroupView;
  let earlierLogs: number;
  let earlierPromotions: number;
  const memberId = (instanceId: string): bigint => doubleMemberId(ids, instanceId);
  const learnerId = (): bigint => memberId(ids[3]!);

  before(async () => {
    world = await startWorld({ seed: 16, boot: 'none', clusterSize: 4, handlerPollMs: 50, tls: false });
    await world.scaleTo(4);
    await world.runUntilQuiet({ reconcile: 'never' });
    ids = world.inService().sort();
    assert.equal(ids.length, 4);
    group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
  });
  after(async () => world.close());
  beforeEach(() => {
    // The fourth instance runs a started learner: named, with its client URL.
    double = new EtcdGatewayDouble(
      doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort).map((m) =>
        m.id === learnerId() ? { ...m, isLearner: true } : m,
      ),
    );
    earlierLogs = world.telemetry!.logs.length;
    earlierPromotions = world.telemetry!.total('Promotions');
  });
  afterEach(async () => double.close());
  const deps = (): LifecycleDeps => ({ ...world.deps, connection: { requestTimeoutMs: 5000, healthTimeoutMs: 5000 } });

  const logs = () => world.telemetry!.logs.slice(earlierLogs);
  const decisions = () => logs().filter((l) => l.message === 'decision');
  const promotions = () => world.telemetry!.total('Promotions') - earlierPromotions;
  const promoteCalls = () => double.operations.filter((op) => op.startsWith('cluster/member/promote'));
  const statusCalls = () => double.operations.filter((op) => op === 'maintenance/status');
  const label = (instanceId: string): string => `${instanceId} [${memberId(instanceId).toString(16)}]`;

  test('a healthy learner with a healthy quorum is promoted, counted, with a decision naming it', async () => {
    await double.start();
    assert.deepEqual(await promoteReadyLearners(group, deps()), [ids[3]]);
    assert.deepEqual(promoteCalls(), [`cluster/member/promote ${learnerId().toString()}`]);
    assert.equal(double.members.find((m) => m.id === learnerId())?.isLearner, false, 'etcd now lists it as a voter');
    assert.equal(promotions(), 1);
    const [record, ...more] = decisions().map((d) => d.attributes);
    assert.deepEqual(more, []);
    assert.deepEqual(
      [record?.trigger, record?.instanceId, record?.decision, record?.reason, record?.member],
      ['reconcile', ids[3], 'promote', 'the learner caught up', label(ids[3]!)],
    );
  });

  test('two learners that caught up are both promoted, in the order etcd lists them', async () => {
    double.members = double.members.map((m) => (m.id === memberId(ids[2]!) ? { ...m, isLearner: true } : m));
    // Two voters of two healthy: promoting either keeps 2 of 3, a quorum.
    await double.start();
    assert.deepEqual(await promoteReadyLearners(group, deps()), [ids[2], ids[3]]);
    assert.equal(promotions(), 2);
  });

  test('no learner: nothing is checked or promoted', async () => {
    double.members = double.members.map((m) => ({ ...m, isLearner: false }));
    await double.start();
    assert.deepEqual(await promoteReadyLearners(group, deps()), []);
    assert.deepEqual(statusCalls(), [], 'no health check without a learner');
    assert.deepEqual(promoteCalls(), []);
  });

  test('an unstarted learner is no candidate: nothing is checked or promoted', async () => {
    double.members = double.members.map((m) => (m.id === learnerId() ? { ...m, name: '', clientURLs: [] } : m));
    await double.start();
    assert.deepEqual(await promoteReadyLearners(group, deps()), []);
    assert.deepEqual(statusCalls(), [], 'no health check for a learner that never started');
    assert.deepEqual(promoteCalls(), []);
  });

  test('a learner that does not answer is not promoted', async () => {
    await double.start([learnerId()]);
    assert.deepEqual(await promoteReadyLearners(group, deps()), []);
    assert.ok(statusCalls().length > 0, 'the members were checked');
    assert.deepEqual(promoteCalls(), []);
    assert.equal(promotions(), 0);
    assert.deepEqual(decisions(), []);
  });

  test('a promotion that would need more healthy voters than there are waits, and says why', async () => {
    await double.start([memberId(ids[0]!)]);
    // 2 healthy of 3 voters: a fourth voter needs 3 healthy should it fail.
    assert.deepEqual(await promoteReadyLearners(group, deps()), []);
    assert.deepEqual(promoteCalls(), [], 'the quorum rule refused before asking etcd');
    const waiting = logs().filter((l) => l.message === 'learner not promoted yet');
    assert.equal(waiting.length, 1);
    assert.equal(waiting[0]!.level, 'INFO');
    assert.equal(waiting[0]!.attributes.member, label(ids[3]!));
    assert.match(String(waiting[0]!.attributes.reason), /would need 3 healthy voters should it fail, only 2 are healthy/);
    assert.equal(promotions(), 0);
  });

  test('a learner etcd finds not in sync yet is not promoted, and the log says so', async () => {
    double.failNext.set('/v3/cluster/member/promote', {
      status: 400,
      message: 'etcdserver: can only promote a learner member which is in sync with leader',
      code: 9,
      times: 1,
    });
    await double.start();
    assert.deepEqual(await promoteReadyLearners(group, deps()), []);
    const waiting = logs().filter((l) => l.message === 'learner not promoted yet');
    assert.equal(waiting.length, 1);
    assert.match(String(waiting[0]!.attributes.reason), /is not in sync with the leader yet/);
    assert.equal(promotions(), 0);
    assert.deepEqual(decisions(), []);
  });

  test('a learner already promoted by someone else: nothing counted, nothing logged as waiting', async () => {
    double.failNext.set('/v3/cluster/member/promote', {
      status: 400,
      message: 'etcdserver: can only promote a learner member',
      code: 9,
      times: 1,
    });
    await double.start();
    assert.deepEqual(await promoteReadyLearners(group, deps()), []);
    assert.deepEqual(
      logs().filter((l) => l.message === 'learner not promoted yet'),
      [],
    );
    assert.equal(promotions(), 0);
  });

  test('no member answers the member list: nothing promoted, no error', async () => {
    // Nothing started: every endpoint refuses the connection.
    assert.deepEqual(await promoteReadyLearners(group, deps()), []);
    assert.deepEqual(double.operations, []);
  });

  test('every member refuses the member list as timed out: nothing promoted, no error', async () => {
    await double.start();
    double.refusing.add('/v3/cluster/member/list');
    assert.deepEqual(await promoteReadyLearners(group, { ...deps(), connection: { requestTimeoutMs: 300, healthTimeoutMs: 300 } }), []);
    assert.deepEqual(promoteCalls(), []);
  });

  test('any other error of the member list is not swallowed', async () => {
    double.failNext.set('/v3/cluster/member/list', {
      status: 400,
      message: 'etcdserver: permission denied',
      code: 7,
      times: 100,
    });
    await double.start();
    await assert.rejects(promoteReadyLearners(group, deps()), /permission denied/);
  });
});
