import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyEvent, MalformedEventError } from '../../src/lambda/events.js';
import type { ClassifiedEvent } from '../../src/lambda/events.js';

const scope = { groupName: 'my-asg', launchHook: 'etcd-launch', terminateHook: 'etcd-terminate' };
const INSTANCE = 'i-1234567890abcdef0';

/** Shaped like the examples in the Auto Scaling user guide (lifecycle action and warm pool events). */
function lifecycleEvent(kind: 'launch' | 'terminate', detail: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789012',
    'detail-type': kind === 'launch' ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: '2021-01-13T00:12:37.214Z',
    region: 'us-west-2',
    resources: ['arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:uuid:autoScalingGroupName/my-asg'],
    detail: {
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: kind === 'launch' ? 'etcd-launch' : 'etcd-terminate',
      EC2InstanceId: INSTANCE,
      LifecycleTransition: kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
      NotificationMetadata: 'additional-info',
      ...(kind === 'launch' ? { Origin: 'EC2', Destination: 'AutoScalingGroup' } : { Origin: 'AutoScalingGroup', Destination: 'EC2' }),
      ...detail,
    },
  };
}

function ignored(result: ClassifiedEvent): string {
  assert.equal(result.kind, 'ignore');
  return result.kind === 'ignore' ? result.reason : '';
}

describe('classifyEvent', () => {
  it('classifies a launch lifecycle action', () => {
    assert.deepEqual(classifyEvent(lifecycleEvent('launch'), scope), {
      kind: 'launch',
      instanceId: INSTANCE,
      groupName: 'my-asg',
      hookName: 'etcd-launch',
      token: '87654321-4321-4321-4321-210987654321',
      transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      origin: 'EC2',
      destination: 'AutoScalingGroup',
      notificationMetadata: 'additional-info',
      eventId: '12345678-1234-1234-1234-123456789012',
      time: '2021-01-13T00:12:37.214Z',
    });
  });

  it('classifies a terminate lifecycle action, also without warm pool fields', () => {
    const result = classifyEvent(lifecycleEvent('terminate', { Origin: undefined, Destination: undefined }), scope);
    assert.equal(result.kind, 'terminate');
    assert.equal(result.kind === 'terminate' && result.instanceId, INSTANCE);
  });

  it('classifies the scheduled event as reconcile', () => {
    const scheduled = {
      version: '0',
      id: 'sched-1',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '123456789012',
      time: '2024-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:123456789012:rule/reconcile'],
      detail: {},
    };
    assert.deepEqual(classifyEvent(scheduled, scope), { kind: 'reconcile', eventId: 'sched-1', time: '2024-01-01T00:00:00Z' });
  });

  it('ignores the test notification, plain or wrapped', () => {
    const plain = {
      AccountId: '123456789012',
      RequestId: 'r-1',
      AutoScalingGroupARN: 'arn:aws:autoscaling:...',
      AutoScalingGroupName: 'my-asg',
      Service: 'AWS Auto Scaling',
      Event: 'autoscaling:TEST_NOTIFICATION',
      Time: '2024-01-01T00:00:00Z',
    };
    assert.match(ignored(classifyEvent(plain, scope)), /test notification/);
    const wrapped = {
      source: 'aws.autoscaling',
      'detail-type': 'EC2 Instance-launch Lifecycle Action',
      detail: { ...plain, LifecycleTransition: 'autoscaling:TEST_NOTIFICATION' },
    };
    assert.match(ignored(classifyEvent(wrapped, scope)), /test notification/);
  });

  it('ignores events for another group or another hook', () => {
    assert.match(
      ignored(classifyEvent(lifecycleEvent('launch', { AutoScalingGroupName: 'other' }), scope)),
      /group "other".*manages "my-asg"/,
    );
    assert.match(ignored(classifyEvent(lifecycleEvent('terminate', { LifecycleHookName: 'drain' }), scope)), /hook "drain"/);
  });

  it('ignores warm pool transitions that do not change the serving set', () => {
    assert.match(
      ignored(classifyEvent(lifecycleEvent('launch', { Origin: 'EC2', Destination: 'WarmPool' }), scope)),
      /WarmPool does not put the instance into service/,
    );
    assert.match(ignored(classifyEvent(lifecycleEvent('terminate', { Origin: 'WarmPool', Destination: 'EC2' }), scope)), /not in service/);
  });

  it('handles warm pool transitions into and out of service', () => {
    const fromPool = classifyEvent(lifecycleEvent('launch', { Origin: 'WarmPool', Destination: 'AutoScalingGroup' }), scope);
    assert.equal(fromPool.kind, 'launch');
    const backToPool = classifyEvent(lifecycleEvent('terminate', { Origin: 'AutoScalingGroup', Destination: 'WarmPool' }), scope);
    assert.equal(backToPool.kind, 'terminate');
    assert.equal(backToPool.kind === 'terminate' && backToPool.destination, 'WarmPool');
  });

  it('ignores other Auto Scaling events', () => {
    const success = { source: 'aws.autoscaling', 'detail-type': 'EC2 Instance Launch Successful', detail: {} };
    assert.match(ignored(classifyEvent(success, scope)), /not a lifecycle action/);
  });

  const malformed: [string, unknown, RegExp][] = [
    ['null', null, /not a JSON object/],
    ['an array', [], /not a JSON object/],
    ['no source', { 'detail-type': 'x' }, /not an EventBridge event.*source/],
    ['a foreign source', { source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' }, /unexpected source "aws.ec2"/],
    ['a missing token', lifecycleEvent('launch', { LifecycleActionToken: undefined }), /LifecycleActionToken/],
    ['a bad instance ID', lifecycleEvent('launch', { EC2InstanceId: 'i-../../etc' }), /EC2InstanceId: not an EC2 instance ID/],
    [
      'a transition that contradicts the detail-type',
      lifecycleEvent('launch', { LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' }),
      /expected autoscaling:EC2_INSTANCE_LAUNCHING/,
    ],
    ['an unknown Origin', lifecycleEvent('launch', { Origin: 'Moon' }), /Origin/],
    [
      'a detail that is not an object',
      { source: 'aws.autoscaling', 'detail-type': 'EC2 Instance-launch Lifecycle Action', detail: 'x' },
      /Instance-launch/,
    ],
  ];
  for (const [what, event, reason] of malformed) {
    it(`rejects ${what} as malformed with a clear reason`, () => {
      assert.throws(
        () => classifyEvent(event, scope),
        (err: unknown) => err instanceof MalformedEventError && reason.test(err.message),
      );
    });
  }
});
