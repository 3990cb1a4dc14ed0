// Auto Scaling: the group's instances, and completing or extending lifecycle actions.
import {
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceHealthCommand,
  paginateDescribeAutoScalingGroups,
  paginateDescribeAutoScalingInstances,
} from '@aws-sdk/client-auto-scaling';
import type { AutoScalingClient, AutoScalingInstanceDetails } from '@aws-sdk/client-auto-scaling';
import { awsErrorCode, GroupNotFoundError, MalformedAwsResponseError, rethrowAws, toAwsCallError } from './errors.js';
import { validateGroupName, validateHookName, validateInstanceId } from './identifiers.js';

export interface GroupInstance {
  readonly instanceId: string;
  /** e.g. Pending:Wait, InService, Terminating:Wait, Warmed:Running (see the Auto Scaling docs). */
  readonly lifecycleState: string;
  readonly availabilityZone: string | undefined;
  /** Healthy or Unhealthy. */
  readonly healthStatus: string | undefined;
}

export interface GroupDescription {
  readonly groupName: string;
  readonly desiredCapacity: number | undefined;
  readonly instances: readonly GroupInstance[];
}

export interface InstanceMembership extends GroupInstance {
  readonly groupName: string;
}

export type LifecycleActionResult = 'CONTINUE' | 'ABANDON';

/** Identifies one lifecycle action: by token, by instance ID, or both (AWS accepts either). */
export interface LifecycleActionRef {
  readonly groupName: string;
  readonly hookName: string;
  readonly instanceId?: string;
  readonly token?: string;
}

/** `completed` when this call finished the action; `already-completed` when none was pending any more. */
export type LifecycleOutcome = 'completed' | 'already-completed';

// DescribeAutoScalingInstances accepts at most 50 IDs per call.
const MAX_IDS_PER_DESCRIBE = 50;

export class AutoScalingAdapter {
  constructor(private readonly client: AutoScalingClient) {}

  /** The group's desired capacity and all its instances, following NextToken. */
  async describeGroup(groupName: string): Promise<GroupDescription> {
    const name = validateGroupName(groupName);
    const instances: GroupInstance[] = [];
    let found = false;
    let desiredCapacity: number | undefined;
    try {
      for await (const page of paginateDescribeAutoScalingGroups({ client: this.client }, { AutoScalingGroupNames: [name] })) {
        for (const group of page.AutoScalingGroups ?? []) {
          if (group.AutoScalingGroupName !== name) continue;
          found = true;
          desiredCapacity = group.DesiredCapacity;
          for (const instance of group.Instances ?? []) instances.push(toGroupInstance('DescribeAutoScalingGroups', instance));
        }
      }
    } catch (err) {
      rethrowAws('DescribeAutoScalingGroups', err);
    }
    if (!found) throw new GroupNotFoundError(name);
    return { groupName: name, desiredCapacity, instances };
  }

  /** The group's instances (see describeGroup). */
  async listGroupInstances(groupName: string): Promise<readonly GroupInstance[]> {
    return (await this.describeGroup(groupName)).instances;
  }

  /** Group membership of the given instances; IDs Auto Scaling does not know are simply absent. */
  async describeInstances(instanceIds: readonly string[]): Promise<readonly InstanceMembership[]> {
    const ids = [...new Set(instanceIds.map(validateInstanceId))];
    const result: InstanceMembership[] = [];
    try {
      for (let i = 0; i < ids.length; i += MAX_IDS_PER_DESCRIBE) {
        const batch = ids.slice(i, i + MAX_IDS_PER_DESCRIBE);
        for await (const page of paginateDescribeAutoScalingInstances({ client: this.client }, { InstanceIds: batch })) {
          for (const details of page.AutoScalingInstances ?? []) result.push(toMembership(details));
        }
      }
    } catch (err) {
      rethrowAws('DescribeAutoScalingInstances', err);
    }
    return result;
  }

  /**
   * Completes a lifecycle action. Idempotent: when AWS says no such action is active (completed by an
   * earlier delivery of the same event, or timed out), the answer is `already-completed`, not an error.
   */
  async completeLifecycleAction(ref: LifecycleActionRef, result: LifecycleActionResult): Promise<LifecycleOutcome> {
    const input = { ...lifecycleInput(ref), LifecycleActionResult: result };
    try {
      await this.client.send(new CompleteLifecycleActionCommand(input));
      return 'completed';
    } catch (err) {
      if (isNoActiveLifecycleAction(err)) return 'already-completed';
      throw toAwsCallError('CompleteLifecycleAction', err);
    }
  }

  /** Extends the action's timeout. `already-completed` when there is nothing left to extend. */
  async recordHeartbeat(ref: LifecycleActionRef): Promise<LifecycleOutcome> {
    try {
      await this.client.send(new RecordLifecycleActionHeartbeatCommand(lifecycleInput(ref)));
      return 'completed';
    } catch (err) {
      if (isNoActiveLifecycleAction(err)) return 'already-completed';
      throw toAwsCallError('RecordLifecycleActionHeartbeat', err);
    }
  }

  /**
   * Reports an instance Unhealthy: the group terminates it (through its terminate hook) and launches a
   * replacement. The group's health check grace period is not respected: callers decide on their own,
   * longer threshold.
   */
  async setInstanceUnhealthy(instanceId: string): Promise<void> {
    const input = { InstanceId: validateInstanceId(instanceId), HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false };
    try {
      await this.client.send(new SetInstanceHealthCommand(input));
    } catch (err) {
      throw toAwsCallError('SetInstanceHealth', err);
    }
  }
}

/** AWS answers a ValidationError "No active Lifecycle Action found with instance ID ..." (or token). */
export function isNoActiveLifecycleAction(err: unknown): boolean {
  return awsErrorCode(err) === 'ValidationError' && err instanceof Error && /no active lifecycle action/i.test(err.message);
}

function lifecycleInput(ref: LifecycleActionRef) {
  if (ref.instanceId === undefined && ref.token === undefined) {
    throw new TypeError('a lifecycle action needs an instance ID or a token');
  }
  return {
    AutoScalingGroupName: validateGroupName(ref.groupName),
    LifecycleHookName: validateHookName(ref.hookName),
    ...(ref.instanceId === undefined ? {} : { InstanceId: validateInstanceId(ref.instanceId) }),
    ...(ref.token === undefined ? {} : { LifecycleActionToken: ref.token }),
  };
}

/** The fields Instance and AutoScalingInstanceDetails share. */
interface InstanceFields {
  readonly InstanceId?: string | undefined;
  readonly LifecycleState?: string | undefined;
  readonly AvailabilityZone?: string | undefined;
  readonly HealthStatus?: string | undefined;
}

function toGroupInstance(operation: string, instance: InstanceFields): GroupInstance {
  if (instance.InstanceId === undefined || instance.LifecycleState === undefined) {
    throw new MalformedAwsResponseError(operation, 'an instance without InstanceId or LifecycleState');
  }
  return {
    instanceId: instance.InstanceId,
    lifecycleState: instance.LifecycleState,
    availabilityZone: instance.AvailabilityZone,
    healthStatus: instance.HealthStatus,
  };
}

function toMembership(details: AutoScalingInstanceDetails): InstanceMembership {
  const operation = 'DescribeAutoScalingInstances';
  if (details.AutoScalingGroupName === undefined) throw new MalformedAwsResponseError(operation, 'an instance without a group');
  return { ...toGroupInstance(operation, details), groupName: details.AutoScalingGroupName };
}
