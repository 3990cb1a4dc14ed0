// Builders for the real-shaped events the simulated cloud emits (see the Auto Scaling user guide,
// "Lifecycle action events" and "Warm pool example events"; and EventBridge scheduled events).

export interface EventBridgeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface LifecycleEventInput {
  readonly id: string;
  readonly time: Date;
  readonly region: string;
  readonly account: string;
  readonly groupName: string;
  readonly hookName: string;
  readonly instanceId: string;
  readonly token: string;
  readonly transition: 'launch' | 'terminate';
  readonly origin?: 'EC2' | 'AutoScalingGroup' | 'WarmPool';
  readonly destination?: 'EC2' | 'AutoScalingGroup' | 'WarmPool';
  readonly notificationMetadata?: string;
}

export function groupArn(region: string, account: string, groupName: string): string {
  return `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:00000000-0000-4000-a000-000000000000:autoScalingGroupName/${groupName}`;
}

export function lifecycleActionEvent(input: LifecycleEventInput): EventBridgeEvent {
  const launch = input.transition === 'launch';
  return {
    version: '0',
    id: input.id,
    'detail-type': launch ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: input.account,
    time: input.time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: input.region,
    resources: [groupArn(input.region, input.account, input.groupName)],
    detail: {
      LifecycleActionToken: input.token,
      AutoScalingGroupName: input.groupName,
      LifecycleHookName: input.hookName,
      EC2InstanceId: input.instanceId,
      LifecycleTransition: launch ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
      ...(input.notificationMetadata === undefined ? {} : { NotificationMetadata: input.notificationMetadata }),
      Origin: input.origin ?? (launch ? 'EC2' : 'AutoScalingGroup'),
      Destination: input.destination ?? (launch ? 'AutoScalingGroup' : 'EC2'),
    },
  };
}

/** The scheduled event an EventBridge rule delivers (the reconcile pass). */
export function scheduledEvent(input: { id: string; time: Date; region: string; account: string; ruleName?: string }): EventBridgeEvent {
  return {
    version: '0',
    id: input.id,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: input.account,
    time: input.time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: input.region,
    resources: [`arn:aws:events:${input.region}:${input.account}:rule/${input.ruleName ?? 'elastic-etcd-reconcile'}`],
    detail: {},
  };
}

/** The test notification Auto Scaling sends when a hook is put on a group. */
export function testNotification(input: { requestId: string; time: Date; region: string; account: string; groupName: string }) {
  return {
    AccountId: input.account,
    RequestId: input.requestId,
    AutoScalingGroupARN: groupArn(input.region, input.account, input.groupName),
    AutoScalingGroupName: input.groupName,
    Service: 'AWS Auto Scaling',
    Event: 'autoscaling:TEST_NOTIFICATION',
    Time: input.time.toISOString(),
  };
}
