import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { AutoScalingAdapter } from '../../src/adapters/aws/autoscaling.js';
import { AwsCallError, GroupNotFoundError, MalformedAwsResponseError } from '../../src/adapters/aws/errors.js';
import { InvalidIdentifierError } from '../../src/adapters/aws/identifiers.js';

const client = new AutoScalingClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const mock = mockClient(client);
const adapter = new AutoScalingAdapter(client);

function serviceError(name: string, message: string, status = 400): AutoScalingServiceException {
  return new AutoScalingServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode: status } });
}

const I1 = 'i-0123456789abcdef0';
const I2 = 'i-0123456789abcdef1';
const I3 = 'i-0123456789abcdef2';

describe('AutoScalingAdapter', () => {
  beforeEach(() => mock.reset());

  it('lists the group instances across pages and sends the group name', async () => {
    mock
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: 'etcd',
            DesiredCapacity: 3,
            Instances: [{ InstanceId: I1, LifecycleState: 'InService', AvailabilityZone: 'eu-west-1a', HealthStatus: 'Healthy' }],
          } as never,
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: 'etcd',
            DesiredCapacity: 3,
            Instances: [{ InstanceId: I2, LifecycleState: 'Pending:Wait', AvailabilityZone: 'eu-west-1b', HealthStatus: 'Healthy' }],
          } as never,
        ],
      });
    const group = await adapter.describeGroup('etcd');
    assert.equal(group.desiredCapacity, 3);
    assert.deepEqual(
      group.instances.map((i) => [i.instanceId, i.lifecycleState, i.availabilityZone, i.healthStatus]),
      [
        [I1, 'InService', 'eu-west-1a', 'Healthy'],
        [I2, 'Pending:Wait', 'eu-west-1b', 'Healthy'],
      ],
    );
    const calls = mock.commandCalls(DescribeAutoScalingGroupsCommand);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0]?.args[0].input.AutoScalingGroupNames, ['etcd']);
    assert.equal(calls[1]?.args[0].input.NextToken, 'page-2');
  });

  it('reports a missing group as GroupNotFoundError', async () => {
    mock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    await assert.rejects(adapter.listGroupInstances('etcd'), GroupNotFoundError);
  });

  it('rejects an instance without an ID as a malformed answer', async () => {
    mock
      .on(DescribeAutoScalingGroupsCommand)
      .resolves({ AutoScalingGroups: [{ AutoScalingGroupName: 'etcd', Instances: [{ LifecycleState: 'InService' }] } as never] });
    await assert.rejects(adapter.listGroupInstances('etcd'), MalformedAwsResponseError);
  });

  it('wraps throttling that outlasted the SDK retries as a transient AwsCallError', async () => {
    mock.on(DescribeAutoScalingGroupsCommand).rejects(serviceError('Throttling', 'Rate exceeded'));
    await assert.rejects(adapter.listGroupInstances('etcd'), (err: unknown) => {
      assert.ok(err instanceof AwsCallError);
      assert.equal(err.code, 'Throttling');
      assert.equal(err.transient, true);
      assert.equal(err.operation, 'DescribeAutoScalingGroups');
      return true;
    });
  });

  it('describes instances in batches of 50, following NextToken', async () => {
    const ids = Array.from({ length: 51 }, (_, n) => `i-${n.toString(16).padStart(17, '0')}`);
    mock
      .on(DescribeAutoScalingInstancesCommand)
      .resolvesOnce({
        AutoScalingInstances: [
          {
            InstanceId: I1,
            AutoScalingGroupName: 'etcd',
            LifecycleState: 'InService',
            AvailabilityZone: 'a',
            HealthStatus: 'HEALTHY',
            ProtectedFromScaleIn: false,
          },
        ],
        NextToken: 'more',
      })
      .resolves({ AutoScalingInstances: [] });
    const result = await adapter.describeInstances(ids);
    assert.deepEqual(
      result.map((r) => [r.instanceId, r.groupName]),
      [[I1, 'etcd']],
    );
    const calls = mock.commandCalls(DescribeAutoScalingInstancesCommand);
    assert.equal(calls.length, 3);
    assert.equal(calls[0]?.args[0].input.InstanceIds?.length, 50);
    assert.equal(calls[1]?.args[0].input.NextToken, 'more');
    assert.deepEqual(calls[2]?.args[0].input.InstanceIds, [ids[50]]);
  });

  it('refuses an invalid instance ID before calling AWS', async () => {
    await assert.rejects(adapter.describeInstances(['i-../../x']), InvalidIdentifierError);
    assert.equal(mock.calls().length, 0);
  });

  it('completes a lifecycle action by token and instance ID', async () => {
    mock.on(CompleteLifecycleActionCommand).resolves({});
    const outcome = await adapter.completeLifecycleAction(
      { groupName: 'etcd', hookName: 'launch', instanceId: I3, token: 'tok-1' },
      'ABANDON',
    );
    assert.equal(outcome, 'completed');
    assert.deepEqual(mock.commandCalls(CompleteLifecycleActionCommand)[0]?.args[0].input, {
      AutoScalingGroupName: 'etcd',
      LifecycleHookName: 'launch',
      InstanceId: I3,
      LifecycleActionToken: 'tok-1',
      LifecycleActionResult: 'ABANDON',
    });
  });

  it('treats "No active Lifecycle Action found" as already completed', async () => {
    mock
      .on(CompleteLifecycleActionCommand)
      .rejects(serviceError('ValidationError', `No active Lifecycle Action found with instance ID ${I3}`));
    assert.equal(
      await adapter.completeLifecycleAction({ groupName: 'etcd', hookName: 'launch', instanceId: I3 }, 'CONTINUE'),
      'already-completed',
    );
  });

  it('passes other validation errors on as AwsCallError', async () => {
    mock.on(CompleteLifecycleActionCommand).rejects(serviceError('ValidationError', 'Lifecycle hook not found'));
    await assert.rejects(
      adapter.completeLifecycleAction({ groupName: 'etcd', hookName: 'launch', token: 't' }, 'CONTINUE'),
      (err: unknown) => err instanceof AwsCallError && err.code === 'ValidationError' && !err.transient,
    );
  });

  it('requires a token or an instance ID', async () => {
    await assert.rejects(adapter.completeLifecycleAction({ groupName: 'etcd', hookName: 'launch' }, 'CONTINUE'), TypeError);
  });

  it('records a heartbeat, and reports a finished action as already completed', async () => {
    mock
      .on(RecordLifecycleActionHeartbeatCommand)
      .resolvesOnce({})
      .rejectsOnce(serviceError('ValidationError', `No active Lifecycle Action found with token tok-1`));
    const ref = { groupName: 'etcd', hookName: 'launch', token: 'tok-1' };
    assert.equal(await adapter.recordHeartbeat(ref), 'completed');
    assert.equal(await adapter.recordHeartbeat(ref), 'already-completed');
    assert.equal(mock.commandCalls(RecordLifecycleActionHeartbeatCommand)[0]?.args[0].input.LifecycleActionToken, 'tok-1');
  });

  it('reports an instance Unhealthy without respecting the grace period; errors carry the operation', async () => {
    mock.on(SetInstanceHealthCommand).resolves({});
    await adapter.setInstanceUnhealthy(I1);
    assert.deepEqual(mock.commandCalls(SetInstanceHealthCommand)[0]?.args[0].input, {
      InstanceId: I1,
      HealthStatus: 'Unhealthy',
      ShouldRespectGracePeriod: false,
    });
    mock.on(SetInstanceHealthCommand).rejects(serviceError('ResourceContention', 'You already have a pending update'));
    await assert.rejects(
      adapter.setInstanceUnhealthy(I1),
      (err: unknown) => err instanceof AwsCallError && /SetInstanceHealth/.test(err.message),
    );
    await assert.rejects(adapter.setInstanceUnhealthy('not-an-instance'), InvalidIdentifierError);
  });
});
