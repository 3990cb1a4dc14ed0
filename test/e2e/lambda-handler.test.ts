// lambda/handler.ts as Lambda runs it: configured only through ELASTIC_ETCD_* variables, its SDK clients
// pointed at the simulated cloud only through AWS_ENDPOINT_URL_<SERVICE>. The module reads its configuration
// when it is imported, so it is imported after the environment is set.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSBatchResponse } from 'aws-lambda';
import type { InvocationResult } from '../../src/lambda/handle.js';
import { startWorld, type World } from '../sim/world.js';

type Handler = (
  event: unknown,
  context?: { getRemainingTimeInMillis(): number; awsRequestId: string; invokedFunctionArn: string },
) => Promise<InvocationResult | SQSBatchResponse>;

describe('lambda/handler.ts', () => {
  let world: World;
  let handler: Handler;
  const saved = { ...process.env };

  before(async () => {
    // No etcd is needed: nothing here gets as far as planning a join.
    world = await startWorld({ seed: 404, boot: 'none' });
    await world.scaleTo(1);
    for (const [key, value] of Object.entries(world.env)) process.env[key] = value;
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    ({ handler } = await import('../../lambda/handler.js'));
  });

  after(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await world.close();
  });

  const context = {
    getRemainingTimeInMillis: () => 60_000,
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:elastic-etcd',
  };

  test('the Auto Scaling test notification is ignored and changes nothing', async () => {
    const callsBefore = world.cloud.calls.length;
    const result = (await handler(world.group.testNotification(), context)) as InvocationResult;
    assert.equal(result.kind, 'ignore');
    assert.match(result.outcome, /test notification/i);
    assert.equal(world.cloud.calls.length, callsBefore, 'no AWS call');
  });

  test('a malformed event is rejected: no AWS call, the pending action and the parameters untouched', async () => {
    const [instance] = world.idsIn('Pending:Wait');
    assert.ok(instance !== undefined);
    const valid = world.queue[0]!.event as { detail: Record<string, unknown> };
    const callsBefore = world.cloud.calls.length;
    const namesBefore = world.cloud.parameters.names();
    const malformed = [
      'not even an object',
      { ...valid, detail: { ...valid.detail, EC2InstanceId: 'i-NOT-AN-ID' } },
      { ...valid, detail: { ...valid.detail, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' } },
      { source: 'aws.autoscaling' },
    ];
    for (const event of malformed) {
      const result = (await handler(event, context)) as InvocationResult;
      assert.equal(result.kind, 'malformed', JSON.stringify(event));
    }
    assert.equal(world.cloud.calls.length, callsBefore, 'no AWS call');
    assert.deepEqual(world.cloud.parameters.names(), namesBefore);
    assert.equal(world.instance(instance).lifecycleState, 'Pending:Wait');
    assert.ok(world.group.pendingAction(instance) !== undefined);
  });

  test('reaches the simulated cloud through AWS_ENDPOINT_URL_*: a launch of an instance already in service is skipped', async () => {
    const event = world.queue[0]!.event;
    const [instance] = world.idsIn('Pending:Wait');
    await world.group.completeLifecycleAction({
      groupName: world.group.name,
      hookName: world.config.launchHook,
      instanceId: instance!,
      result: 'CONTINUE',
    });
    const callsBefore = world.cloud.calls.length;
    const result = (await handler(event, context)) as InvocationResult;
    assert.deepEqual(result, { kind: 'launch', outcome: 'not-launching' });
    const calls = world.cloud.calls.slice(callsBefore).map((c) => c.operation);
    assert.ok(calls.includes('DescribeAutoScalingGroups'), calls.join(', '));
    assert.ok(!calls.includes('CompleteLifecycleAction'));
  });

  /** An SQS event source mapping's batch, one record per body, as Lambda delivers it from a FIFO queue. */
  function sqsBatch(...bodies: string[]) {
    return {
      Records: bodies.map((body, i) => ({
        messageId: `0000000${i}-0000-4000-8000-000000000000`,
        receiptHandle: `handle-${i}`,
        body,
        attributes: {
          MessageGroupId: 'elastic-etcd',
          MessageDeduplicationId: `dedup-${i}`,
          ApproximateReceiveCount: '1',
          SentTimestamp: '0',
          SenderId: 'events',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:elastic-etcd.fifo',
        awsRegion: 'us-east-1',
      })),
    };
  }

  test('an SQS batch: each body is handled as a direct event; a malformed body is dropped, not retried', async () => {
    const callsBefore = world.cloud.calls.length;
    const namesBefore = world.cloud.parameters.names();
    const response = await handler(
      sqsBatch('{not json', JSON.stringify(world.group.testNotification()), JSON.stringify({ source: 'aws.autoscaling' })),
      context,
    );
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(world.cloud.calls.length, callsBefore, 'no AWS call');
    assert.deepEqual(world.cloud.parameters.names(), namesBefore);
  });

  test('an SQS record that fails is reported in batchItemFailures, and on a FIFO queue so is every record after it', async () => {
    // A reconcile pass that fails: Auto Scaling answers throttling to every attempt the SDK makes.
    world.cloud.throttle('DescribeAutoScalingGroups', 10);
    const reconcile = JSON.stringify(world.group.emitScheduledEvent());
    world.queue.splice(0); // emitted into the world's queue too; this test delivers it itself
    const response = await handler(
      sqsBatch(JSON.stringify(world.group.testNotification()), reconcile, JSON.stringify(world.group.testNotification())),
      context,
    );
    assert.deepEqual(response, {
      batchItemFailures: [
        { itemIdentifier: '00000001-0000-4000-8000-000000000000' },
        { itemIdentifier: '00000002-0000-4000-8000-000000000000' },
      ],
    });
  });
});
