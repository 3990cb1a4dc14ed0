// The AWS adapters against the simulated cloud, through the real SDK clients (protocols, signatures,
// pagination, error shapes and the SDK's own retries included).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AutoScalingAdapter } from '../../src/adapters/aws/autoscaling.js';
import { createAwsClients } from '../../src/adapters/aws/clients.js';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { Ec2Adapter } from '../../src/adapters/aws/ec2.js';
import { AwsCallError, GroupNotFoundError } from '../../src/adapters/aws/errors.js';
import { ParameterStore } from '../../src/adapters/aws/parameters.js';
import { QueueAdapter } from '../../src/adapters/aws/queue.js';
import { SimulatedFifoQueue } from '../sim/fifo.js';
import { classifyEvent } from '../../src/lambda/events.js';
import { SimulatedGroup, startSimulatedCloud } from '../sim/index.js';
import type { EventBridgeEvent, SimInstance, SimulatedCloud } from '../sim/index.js';

const HOOKS = { launchHook: 'etcd-launch', terminateHook: 'etcd-terminate' };

describe('AWS adapters against the simulated cloud', () => {
  let cloud: SimulatedCloud;
  let clients: AwsClients;
  let autoScaling: AutoScalingAdapter;
  let ec2: Ec2Adapter;
  let store: ParameterStore;
  const events: EventBridgeEvent[] = [];
  const booted: string[] = [];
  const shutDown: string[] = [];

  before(async () => {
    cloud = await startSimulatedCloud({
      group: {
        groupName: 'etcd-asg',
        seed: 7,
        ...HOOKS,
        onBoot: (i: SimInstance) => void booted.push(i.id),
        onShutdown: (i: SimInstance) => void shutDown.push(i.id),
      },
      pageSizes: { autoScalingInstances: 2, ec2Instances: 1, parameters: 2 },
    });
    cloud.group.subscribe((event) => events.push(event));
    clients = createAwsClients({
      region: 'us-east-1',
      endpoints: cloud.endpoints,
      credentials: { accessKeyId: 'AKIDSIMULATED', secretAccessKey: 'secret' },
      maxAttempts: 3,
    });
    autoScaling = new AutoScalingAdapter(clients.autoScaling);
    ec2 = new Ec2Adapter(clients.ec2);
    store = new ParameterStore(clients.ssm, { prefix: '/elastic-etcd', cluster: 'sim' });
  });

  after(async () => {
    clients.autoScaling.destroy();
    clients.ec2.destroy();
    clients.ssm.destroy();
    clients.sqs.destroy();
    await cloud.group.setDesired(0);
    for (const action of cloud.group.pendingActions()) {
      await cloud.group.completeLifecycleAction({
        groupName: 'etcd-asg',
        hookName: action.hookName,
        instanceId: action.instanceId,
        result: 'CONTINUE',
      });
    }
    await cloud.group.idle();
    await cloud.close();
  });

  it('launches instances into Pending:Wait with real-shaped events, and lists them', async () => {
    await cloud.group.setDesired(3);
    await cloud.group.idle();
    const group = await autoScaling.describeGroup('etcd-asg');
    assert.equal(group.desiredCapacity, 3);
    assert.equal(group.instances.length, 3);
    assert.ok(group.instances.every((i) => i.lifecycleState === 'Pending:Wait' && i.healthStatus === 'Healthy'));
    assert.deepEqual(
      booted,
      group.instances.map((i) => i.instanceId),
    );
    assert.equal(events.length, 3);
    for (const event of events) {
      const classified = classifyEvent(event, { groupName: 'etcd-asg', ...HOOKS });
      assert.equal(classified.kind, 'launch');
    }
    await assert.rejects(autoScaling.describeGroup('no-such-group'), GroupNotFoundError);
  });

  it('describes group membership across pages of DescribeAutoScalingInstances', async () => {
    const ids = cloud.group.instances().map((i) => i.id);
    const before = cloud.callsOf('DescribeAutoScalingInstances').length;
    const memberships = await autoScaling.describeInstances([...ids, 'i-00000000000000bad']);
    assert.deepEqual(memberships.map((m) => m.instanceId).sort(), [...ids].sort());
    assert.ok(memberships.every((m) => m.groupName === 'etcd-asg'));
    assert.equal(cloud.callsOf('DescribeAutoScalingInstances').length - before, 2, 'page size 2: two calls for three instances');
  });

  it('completes a launch action once, then reports it already completed', async () => {
    const [first] = cloud.group.instances();
    assert.ok(first);
    const action = cloud.group.pendingAction(first.id);
    assert.ok(action);
    const ref = { groupName: 'etcd-asg', hookName: 'etcd-launch', instanceId: first.id, token: action.token };
    assert.equal(await autoScaling.recordHeartbeat(ref), 'completed');
    assert.equal(action.heartbeats, 1);
    assert.equal(await autoScaling.completeLifecycleAction(ref, 'CONTINUE'), 'completed');
    assert.equal(cloud.group.instance(first.id)?.lifecycleState, 'InService');
    assert.equal(await autoScaling.completeLifecycleAction(ref, 'CONTINUE'), 'already-completed');
    assert.equal(await autoScaling.recordHeartbeat(ref), 'already-completed');
    await assert.rejects(
      autoScaling.completeLifecycleAction({ ...ref, hookName: 'not-a-hook' }, 'CONTINUE'),
      (err: unknown) => err instanceof AwsCallError && err.code === 'ValidationError',
    );
  });

  it('ABANDON on launch terminates the instance and the group launches a replacement', async () => {
    const second = cloud.group.instances()[1];
    assert.ok(second);
    events.length = 0;
    const outcome = await autoScaling.completeLifecycleAction(
      { groupName: 'etcd-asg', hookName: 'etcd-launch', instanceId: second.id },
      'ABANDON',
    );
    assert.equal(outcome, 'completed');
    await cloud.group.idle();
    assert.equal(cloud.group.instance(second.id)?.lifecycleState, 'Terminated');
    assert.ok(shutDown.includes(second.id));
    const instances = await autoScaling.listGroupInstances('etcd-asg');
    assert.equal(instances.length, 3);
    assert.ok(!instances.some((i) => i.instanceId === second.id));
    assert.equal(events.length, 1, 'one launch event for the replacement');
    assert.equal(events[0]?.['detail-type'], 'EC2 Instance-launch Lifecycle Action');
  });

  it('terminating emits a terminate action, and completing it terminates the instance', async () => {
    const [first] = cloud.group.instances();
    assert.ok(first);
    events.length = 0;
    await cloud.group.terminate(first.id);
    assert.equal(cloud.group.instance(first.id)?.lifecycleState, 'Terminating:Wait');
    const classified = classifyEvent(events[0], { groupName: 'etcd-asg', ...HOOKS });
    assert.equal(classified.kind, 'terminate');
    assert.equal(classified.kind === 'terminate' && classified.instanceId, first.id);
    const token = classified.kind === 'terminate' ? classified.token : '';
    assert.equal(
      await autoScaling.completeLifecycleAction({ groupName: 'etcd-asg', hookName: 'etcd-terminate', token }, 'CONTINUE'),
      'completed',
    );
    assert.equal(cloud.group.instance(first.id)?.lifecycleState, 'Terminated');
    assert.equal(cloud.group.desiredCapacity, 2);
  });

  it('EC2: private IPs and states across pages; unknown IDs are gone', async () => {
    const all = cloud.group.ec2Instances();
    const terminated = all.filter((i) => i.ec2State === 'terminated');
    assert.equal(terminated.length, 2);
    const [forgotten] = terminated;
    assert.ok(forgotten);
    cloud.group.forget(forgotten.id);
    const never = 'i-0000000000000dead';
    const lookup = await ec2.describeInstances([...all.map((i) => i.id), never]);
    assert.deepEqual([...lookup.gone].sort(), [forgotten.id, never].sort());
    const running = lookup.found.filter((i) => i.state === 'running');
    assert.equal(running.length, cloud.group.instances().length);
    for (const instance of running) {
      assert.equal(instance.privateIpAddress, cloud.group.instance(instance.instanceId)?.privateIp);
      assert.match(instance.privateIpAddress ?? '', /^127\./);
      assert.ok(instance.launchTime instanceof Date);
    }
    assert.equal(lookup.found.filter((i) => i.state === 'terminated').length, 1);
  });

  it('SSM: create-only, get, overwrite, idempotent delete, listing across pages', async () => {
    const bootstrap = store.bootstrapName();
    assert.equal(await store.get(bootstrap), undefined);
    assert.deepEqual(await store.createOnly(bootstrap, 'decision-A'), { created: true, value: 'decision-A' });
    assert.deepEqual(await store.createOnly(bootstrap, 'decision-B'), { created: false, value: 'decision-A' });
    const ids = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'];
    for (const id of ids) {
      await store.put(store.instanceName(id, 'env'), `ETCD_NAME=${id}\n`);
      await store.put(store.instanceName(id, 'dropin'), '[Service]\n');
    }
    await store.put(store.instanceName(ids[0] ?? '', 'env'), 'ETCD_NAME=changed\n');
    assert.equal(await store.get(store.instanceName(ids[0] ?? '', 'env')), 'ETCD_NAME=changed\n');
    const pagesBefore = cloud.callsOf('GetParametersByPath').length;
    assert.deepEqual(await store.listInstanceIds(), ids);
    assert.equal(cloud.callsOf('GetParametersByPath').length - pagesBefore, 3, 'six parameters, page size 2');
    await store.deleteInstance(ids[1] ?? '');
    await store.deleteInstance(ids[1] ?? '');
    assert.deepEqual(await store.listInstanceIds(), [ids[0], ids[2]]);
    assert.equal(await store.delete(bootstrap), true);
    assert.equal(await store.delete(bootstrap), false);
  });

  it('throttling is retried by the SDK, and surfaces as a transient error once retries run out', async () => {
    const name = store.instanceName('i-00000000000000001', 'env');
    cloud.throttle('GetParameter', 2);
    const before = cloud.callsOf('GetParameter').length;
    assert.equal(await store.get(name), 'ETCD_NAME=changed\n');
    assert.deepEqual(
      cloud
        .callsOf('GetParameter')
        .slice(before)
        .map((c) => c.error),
      ['ThrottlingException', 'ThrottlingException', undefined],
    );

    cloud.throttle('DescribeAutoScalingGroups', 1);
    assert.equal((await autoScaling.listGroupInstances('etcd-asg')).length, 2);
    cloud.throttle('DescribeInstances', 1);
    assert.equal((await ec2.describeInstances([cloud.group.instances()[0]?.id ?? ''])).found.length, 1);

    cloud.throttle('PutParameter', 3);
    await assert.rejects(store.put(name, 'x'), (err: unknown) => {
      assert.ok(err instanceof AwsCallError);
      assert.equal(err.code, 'ThrottlingException');
      assert.equal(err.transient, true);
      return true;
    });
  });

  it('SQS: a queue URL from GetQueueUrl (looked up once), ChangeMessageVisibility on the latest receipt handle only', async () => {
    const queue = new SimulatedFifoQueue({ name: 'adapter.fifo', visibilityTimeoutMs: 1_800_000, maxReceiveCount: 5 });
    cloud.attachQueue(queue);
    const adapter = new QueueAdapter(clients.sqs);
    queue.send('{}', { groupId: 'g', deduplicationId: 'd1' });
    const first = queue.receive();
    assert.ok(first?.receiptHandle !== undefined);
    const firstHandle = first.receiptHandle;
    const receivedAt = queue.now();
    await adapter.changeVisibility(queue.arn, firstHandle, 20);
    assert.equal(
      first.invisibleUntil - receivedAt >= 20_000 && first.invisibleUntil - receivedAt < 1_800_000,
      true,
      'visible again in 20 s, not 30 min',
    );
    assert.equal(queue.receive(), undefined, 'still in flight');
    await adapter.changeVisibility(queue.arn, firstHandle, 0);
    const again = queue.receive();
    assert.ok(again?.receiptHandle !== undefined);
    assert.equal(again.messageId, first.messageId);
    assert.equal(cloud.callsOf('GetQueueUrl').length, 1, 'the URL is looked up once');
    assert.deepEqual(
      cloud.callsOf('ChangeMessageVisibility').map((c) => c.params.QueueUrl),
      [queue.url(cloud.url), queue.url(cloud.url)],
    );

    const rejected = async (handle: string, seconds: number, code: string) =>
      assert.rejects(adapter.changeVisibility(queue.arn, handle, seconds), (err: unknown) => {
        assert.ok(err instanceof AwsCallError, String(err));
        assert.equal(err.code, code);
        assert.equal(err.transient, false);
        return true;
      });
    // The handle of an earlier receive is no longer valid; the real error code comes through the SDK.
    await rejected(firstHandle, 20, 'ReceiptHandleIsInvalid');
    const handle = again.receiptHandle;
    // SQS accepts 0..43200 s; the adapter refuses anything else before asking.
    await assert.rejects(adapter.changeVisibility(queue.arn, handle, 43_201), RangeError);
    queue.skip(1_800_000);
    await rejected(handle, 20, 'AWS.SimpleQueueService.MessageNotInflight');
    queue.delete(queue.receive()!.receiptHandle!);
    await rejected(handle, 20, 'ReceiptHandleIsInvalid');
    await assert.rejects(adapter.changeVisibility('arn:aws:sqs:us-east-1:123456789012:missing.fifo', 'h', 20), (err: unknown) => {
      assert.ok(err instanceof AwsCallError);
      assert.equal(err.operation, 'GetQueueUrl');
      return true;
    });
  });

  it('IMDSv2: token first, then the instance ID and private IP', async () => {
    const instance = cloud.group.instances()[0];
    assert.ok(instance);
    const base = cloud.imdsUrl(instance.id);
    assert.equal((await fetch(`${base}/latest/meta-data/instance-id`)).status, 401);
    const tokenResponse = await fetch(`${base}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
    });
    assert.equal(tokenResponse.status, 200);
    const token = await tokenResponse.text();
    const get = (path: string) => fetch(`${base}/latest/meta-data/${path}`, { headers: { 'X-aws-ec2-metadata-token': token } });
    assert.equal(await (await get('instance-id')).text(), instance.id);
    assert.equal(await (await get('local-ipv4')).text(), instance.privateIp);
    const other = cloud.group.instances()[1];
    assert.ok(other);
    const foreign = await fetch(`${cloud.imdsUrl(other.id)}/latest/meta-data/instance-id`, {
      headers: { 'X-aws-ec2-metadata-token': token },
    });
    assert.equal(foreign.status, 401, "one instance's token does not open another's metadata");
  });
});

describe('SDK clients configured only through the environment', () => {
  it('reach the simulated cloud via AWS_ENDPOINT_URL_<SERVICE>', async () => {
    const cloud = await startSimulatedCloud({ group: { groupName: 'env-asg', launchHook: null, terminateHook: null } });
    const saved = { ...process.env };
    Object.assign(process.env, cloud.env);
    const clients = createAwsClients();
    try {
      const instance = await cloud.group.launch();
      assert.deepEqual(
        (await new AutoScalingAdapter(clients.autoScaling).listGroupInstances('env-asg')).map((i) => i.instanceId),
        [instance.id],
      );
      assert.equal((await new Ec2Adapter(clients.ec2).describeInstances([instance.id])).found[0]?.privateIpAddress, instance.privateIp);
      const store = new ParameterStore(clients.ssm, { prefix: '/elastic-etcd', cluster: 'env' });
      await store.put(store.bootstrapName(), 'x');
      assert.equal(cloud.parameters.value('/elastic-etcd/env/bootstrap'), 'x');
      const queue = new SimulatedFifoQueue({
        name: 'env.fifo',
        account: cloud.group.account,
        visibilityTimeoutMs: 60_000,
        maxReceiveCount: 3,
      });
      cloud.attachQueue(queue);
      assert.equal(await new QueueAdapter(clients.sqs).queueUrl(queue.arn), queue.url(cloud.url));
      await cloud.group.terminate(instance.id);
      await cloud.group.idle();
    } finally {
      for (const key of Object.keys(cloud.env)) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
      clients.autoScaling.destroy();
      clients.ec2.destroy();
      clients.ssm.destroy();
      clients.sqs.destroy();
      await cloud.close();
    }
  });
});

describe('SimulatedGroup determinism', () => {
  it('hands out the same IDs, tokens and events for the same seed', async () => {
    const run = async (seed: number) => {
      let n = 0;
      const group = new SimulatedGroup({
        seed,
        allocateIp: () => Promise.resolve(`127.0.99.${++n}`),
        releaseIp: () => undefined,
        clock: () => new Date(0),
      });
      const seen: EventBridgeEvent[] = [];
      group.subscribe((e) => seen.push(e));
      await group.setDesired(2);
      return { ids: group.instances().map((i) => i.id), seen };
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.ids, c.ids);
    assert.ok(a.ids.every((id) => /^i-[0-9a-f]{17}$/.test(id)));
  });
});
