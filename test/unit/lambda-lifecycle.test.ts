// The lifecycle handler (handleEvent) against the simulated cloud, without any etcd: what it does and does not
// call on AWS for malformed and ignored events, skipped and repeated launches, terminates when no member
// answers, the first wave's bootstrap record (and a malformed one), crashes between steps and throttling.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_TAG, INSTANCE_ARN_TAG } from '../../src/adapters/aws/index.js';
import { parseBootstrapRecord } from '../../src/lambda/first-wave.js';
import { parseDropin } from '../harness/systemd.js';
import { instanceArn, SimulatedCrash, startWorld, type World } from '../sim/world.js';

type LifecycleEventShape = { detail: Record<string, unknown> } & Record<string, unknown>;

/** Operations the handler called on the simulated cloud since `from`. */
function operationsSince(world: World, from: number): string[] {
  return world.cloud.calls.slice(from).map((c) => c.operation);
}

const WRITES = ['PutParameter', 'DeleteParameter', 'AddTagsToResource', 'CompleteLifecycleAction'];

describe('events that change nothing', () => {
  let world: World;
  let launch: LifecycleEventShape;
  before(async () => {
    world = await startWorld({ seed: 1, boot: 'none' });
    await world.scaleTo(1);
    launch = world.queue[0]!.event as LifecycleEventShape;
  });
  after(async () => world.close());

  test('a malformed event is rejected without any AWS call', async () => {
    const from = world.cloud.calls.length;
    for (const event of [
      null,
      [],
      'text',
      { ...launch, detail: { ...launch.detail, LifecycleActionToken: '' } },
      { ...launch, source: 'aws.ec2' },
    ]) {
      const delivery = await world.invokeDirect(event);
      assert.equal(delivery.result?.kind, 'malformed', JSON.stringify(event));
    }
    assert.deepEqual(operationsSince(world, from), []);
    assert.equal(world.telemetry?.total('Malformed'), 5);
  });

  test('events of another group, another hook or the warm pool are ignored without any AWS call', async () => {
    const from = world.cloud.calls.length;
    const events = [
      { ...launch, detail: { ...launch.detail, AutoScalingGroupName: 'someone-elses-asg' } },
      { ...launch, detail: { ...launch.detail, LifecycleHookName: 'another-hook' } },
      { ...launch, detail: { ...launch.detail, Destination: 'WarmPool' } },
      world.group.testNotification(),
      { ...launch, 'detail-type': 'EC2 Instance Launch Successful' },
    ];
    for (const event of events) assert.equal((await world.invokeDirect(event)).result?.kind, 'ignore');
    assert.deepEqual(operationsSince(world, from), []);
    assert.equal(world.group.pendingActions().length, 1);
  });

  test('a launch event of an instance that is no longer launching, or gone, is skipped without writing', async () => {
    const id = world.idsIn('Pending:Wait')[0]!;
    await world.group.completeLifecycleAction({
      groupName: world.group.name,
      hookName: world.config.launchHook,
      instanceId: id,
      result: 'CONTINUE',
    });
    const from = world.cloud.calls.length;
    assert.deepEqual((await world.invokeDirect(launch)).result, { kind: 'launch', outcome: 'not-launching' });
    const gone = { ...launch, detail: { ...launch.detail, EC2InstanceId: 'i-0123456789abcdef0' } };
    assert.deepEqual((await world.invokeDirect(gone)).result, { kind: 'launch', outcome: 'not-launching' });
    assert.deepEqual(
      operationsSince(world, from).filter((op) => WRITES.includes(op)),
      [],
    );
    assert.deepEqual(
      world.telemetry
        ?.decisions()
        .slice(-2)
        .map((d) => d.decision),
      ['skip', 'skip'],
    );
  });
});

describe('the first wave without a running cluster', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 2, boot: 'none' });
    await world.scaleTo(3);
  });
  after(async () => world.close());

  test('every first-wave instance gets a new-cluster configuration from one recorded decision', async () => {
    const ids = world.idsIn('Pending:Wait');
    const deliveries = await world.runUntilQuiet({ reconcile: 'never' });
    assert.deepEqual(
      deliveries.map((d) => d.result?.outcome ?? d.error?.message),
      ['continue', 'continue', 'continue'],
    );
    assert.deepEqual(
      world.completions().map((c) => c.result),
      ['CONTINUE', 'CONTINUE', 'CONTINUE'],
    );

    // One create-only write of the record; every later invocation read it.
    const recordWrites = world.cloud.callsOf('PutParameter').filter((c) => c.params.Name === world.parameters.bootstrapName());
    assert.equal(recordWrites.length, 1);
    const record = parseBootstrapRecord(world.cloud.parameters.value(world.parameters.bootstrapName())!, 'bootstrap');
    assert.deepEqual(record.members.map((m) => m.name).sort(), [...ids].sort());

    for (const id of ids) {
      const ip = world.instance(id).privateIp;
      const env = parseDropin(world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin'))!).settings;
      assert.equal(env.ETCD_NAME, id);
      assert.equal(env.ETCD_INITIAL_CLUSTER_STATE, 'new');
      assert.equal(env.ETCD_INITIAL_CLUSTER_TOKEN, record.token);
      assert.deepEqual(env.ETCD_INITIAL_CLUSTER?.split(',').sort(), record.members.map((m) => `${m.name}=${m.peerURLs[0] ?? ''}`).sort());
      // TLS by default: https everywhere, and the member's certificate stored (SecureString, tagged) before its drop-in.
      assert.equal(env.ETCD_LISTEN_CLIENT_URLS, `https://${ip}:2379`);
      assert.equal(env.ETCD_INITIAL_ADVERTISE_PEER_URLS, `https://${ip}:2380`);
      assert.equal(env.ETCD_CLIENT_CERT_AUTH, 'true');
      assert.equal(env.ETCD_PEER_CLIENT_CERT_AUTH, 'true');
      const tlsName = world.parameters.instanceName(id, 'tls');
      assert.equal(world.cloud.parameters.get(tlsName).type, 'SecureString');
      assert.equal(world.cloud.parameters.tags(tlsName)?.[INSTANCE_ARN_TAG], instanceArn(world.group.region, world.group.account, id));
      const puts = world.cloud.callsOf('PutParameter').map((c) => c.params.Name);
      assert.ok(puts.indexOf(tlsName) < puts.indexOf(world.parameters.instanceName(id, 'dropin')), 'tls is written before the drop-in');
      assert.equal(env.ETCD_DATA_DIR, world.config.dataDir);
      // The drop-in is the only file (nothing read the env file, so it is no longer written); it is tagged for the instance's
      // own role and with the group that wrote it.
      assert.equal(world.cloud.parameters.value(world.parameters.instanceName(id, 'env')), undefined);
      const tags = world.cloud.parameters.tags(world.parameters.instanceName(id, 'dropin'));
      assert.equal(tags?.[INSTANCE_ARN_TAG], instanceArn(world.group.region, world.group.account, id));
      assert.equal(tags?.[GROUP_TAG], world.group.name);
    }
  });

  test('the stored drop-in passes the boot script check (its first section is [Service])', () => {
    const id = world.inService()[0]!;
    const dropin = world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin'))!;
    // The same rule as infra/userdata/boot-etcd.sh: the first line that is neither a comment nor blank.
    assert.equal(
      dropin.split('\n').find((line) => !line.startsWith('#') && line.trim() !== ''),
      '[Service]',
    );
    assert.ok(!dropin.includes('[Unit]'), 'the Lambda stores only a [Service] section');
  });
});

describe('repeats, crashes between steps, and AWS trouble', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld({ seed: 3, boot: 'none', clusterSize: 1 });
  });
  afterEach(async () => world.close());

  test('a crash before storing the parameters leaves the action pending; the redelivery finishes it', async () => {
    await world.scaleTo(1);
    const id = world.idsIn('Pending:Wait')[0]!;
    world.crashAt('store-parameters');
    const first = await world.deliver();
    assert.ok(first?.error instanceof SimulatedCrash);
    assert.equal(first.requeued, true);
    assert.equal(await world.parameters.get(world.parameters.instanceName(id, 'dropin')), undefined);
    assert.ok(world.group.pendingAction(id) !== undefined);
    assert.deepEqual((await world.deliver())?.result, { kind: 'launch', outcome: 'continue' });
    assert.equal(world.instance(id).lifecycleState, 'InService');
  });

  test('a repeated launch whose parameters are stored only completes the action (CONTINUE), writing nothing', async () => {
    await world.scaleTo(1);
    const id = world.idsIn('Pending:Wait')[0]!;
    world.crashAt('complete');
    assert.ok((await world.deliver())?.error instanceof SimulatedCrash);
    const stored = world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin'));
    assert.notEqual(stored, undefined);
    const from = world.cloud.calls.length;
    assert.deepEqual((await world.deliver())?.result, { kind: 'launch', outcome: 'duplicate' });
    assert.deepEqual(
      operationsSince(world, from).filter((op) => WRITES.includes(op)),
      ['CompleteLifecycleAction'],
    );
    assert.deepEqual(world.completions(), [{ instanceId: id, transition: 'launch', result: 'CONTINUE' }]);
    assert.equal(world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin')), stored);
  });

  test('a terminate when no member answers: the member is kept for the reconcile, parameters deleted, CONTINUE', async () => {
    await world.scaleTo(1);
    await world.runUntilQuiet({ reconcile: 'never' });
    const id = world.inService()[0]!;
    await world.terminate(id);
    const delivery = await world.deliver();
    assert.deepEqual(delivery?.result, { kind: 'terminate', outcome: 'kept' });
    assert.deepEqual(world.completions().at(-1), { instanceId: id, transition: 'terminate', result: 'CONTINUE' });
    assert.deepEqual(await world.parameters.listInstanceIds(), []);
    assert.equal(world.instance(id).lifecycleState, 'Terminated');
  });

  test('a repeated terminate event completes nothing twice and does not fail', async () => {
    await world.scaleTo(1);
    await world.runUntilQuiet({ reconcile: 'never' });
    const id = world.inService()[0]!;
    await world.terminate(id);
    world.duplicate('terminate');
    const outcomes = (await world.runUntilQuiet({ reconcile: 'never' })).map((d) => d.result?.outcome ?? d.error?.message);
    assert.deepEqual(outcomes, ['kept', 'kept']);
    assert.deepEqual(
      world.completions().filter((c) => c.transition === 'terminate'),
      [{ instanceId: id, transition: 'terminate', result: 'CONTINUE' }],
    );
  });

  test('throttling beyond the SDK retries fails the invocation for redelivery; the redelivery completes', async () => {
    await world.scaleTo(1);
    const id = world.idsIn('Pending:Wait')[0]!;
    world.cloud.throttle('CompleteLifecycleAction', 3);
    const first = await world.deliver();
    assert.match(first?.error?.message ?? '', /CompleteLifecycleAction/);
    assert.equal(first?.requeued, true);
    assert.ok(world.telemetry?.logs.some((l) => l.message === 'invocation failed; the event will be delivered again'));
    assert.deepEqual((await world.deliver())?.result, { kind: 'launch', outcome: 'duplicate' });
    assert.deepEqual(world.completions(), [{ instanceId: id, transition: 'launch', result: 'CONTINUE' }]);
  });

  test('the reconcile pass without a cluster deletes the parameters of instances that are gone', async () => {
    await world.scaleTo(1);
    await world.runUntilQuiet({ reconcile: 'never' });
    const live = world.inService()[0]!;
    const gone = 'i-0fedcba9876543210';
    await world.parameters.putInstanceFile(gone, 'env', 'ETCD_NAME="old"\n');
    await world.parameters.putInstanceFile(gone, 'dropin', '[Service]\n');
    const pass = await world.reconcile();
    const report = JSON.parse(pass.result!.outcome) as { deletedParameters: string[]; clusterReachable: boolean; removed: string[] };
    assert.deepEqual(report.deletedParameters, [gone]);
    assert.equal(report.clusterReachable, false);
    assert.deepEqual(report.removed, []);
    assert.deepEqual(await world.parameters.listInstanceIds(), [live]);
  });
});

describe('the bootstrap record', () => {
  const valid = {
    version: 1,
    token: 'sim-0123456789',
    members: [{ name: 'i-0123456789abcdef0', peerURLs: ['http://10.0.0.1:2380'] }],
    createdAt: '2024-01-01T00:00:00Z',
  };

  test('parses a valid record and names the parameter in every error', () => {
    assert.deepEqual(parseBootstrapRecord(JSON.stringify(valid), '/p/bootstrap'), valid);
    assert.throws(() => parseBootstrapRecord('{not json', '/p/bootstrap'), /\/p\/bootstrap is not JSON; fix or delete it/);
    for (const broken of [
      { ...valid, version: 2 },
      { ...valid, members: [] },
      { ...valid, token: 'short' },
      { ...valid, members: [{ name: 'x', peerURLs: [] }] },
      [],
    ]) {
      assert.throws(
        () => parseBootstrapRecord(JSON.stringify(broken), '/p/bootstrap'),
        /\/p\/bootstrap is malformed \(.+\); fix or delete it/,
        JSON.stringify(broken),
      );
    }
  });

  test('a malformed stored record fails the launch with that error, and nothing is written', async () => {
    const world = await startWorld({ seed: 4, boot: 'none' });
    try {
      await world.parameters.put(world.parameters.bootstrapName(), '{"version":1,"token":"x"}');
      await world.scaleTo(3);
      const from = world.cloud.calls.length;
      const delivery = await world.deliver();
      assert.match(delivery?.error?.message ?? '', /bootstrap record .*bootstrap is malformed .*fix or delete it/);
      // Only the cluster's CA, created on the first launch's need (before the record is read), is written.
      const caNames = [world.parameters.tlsCaName(), world.parameters.tlsCaCertificateName()];
      assert.deepEqual(
        world.cloud.calls
          .slice(from)
          .filter((c) => WRITES.includes(c.operation) && !caNames.includes(c.params.Name as never))
          .map((c) => c.operation),
        [],
      );
      assert.deepEqual(await world.parameters.listInstanceIds(), []);
      assert.equal(world.group.pendingActions().length, 3);
    } finally {
      await world.close();
    }
  });
});
