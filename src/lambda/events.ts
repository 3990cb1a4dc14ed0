// Classifies what invoked the Lambda: a lifecycle action of our group (launch or terminate), the
// scheduled reconcile pass, something to ignore (with the reason, for the log), or a malformed event.
// Shapes follow the EventBridge events of Amazon EC2 Auto Scaling ("Lifecycle action events" and
// "Warm pool example events" in the Auto Scaling user guide) and of scheduled rules.
import * as z from '../adapters/zod.js';
import { isInstanceId } from '../adapters/aws/identifiers.js';

export const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
export const SCHEDULED_DETAIL_TYPE = 'Scheduled Event';
export const LAUNCH_TRANSITION = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATE_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';
export const TEST_NOTIFICATION = 'autoscaling:TEST_NOTIFICATION';

/** Where an instance comes from or goes to (warm pools add WarmPool; without one, EC2 and AutoScalingGroup). */
export type Place = 'EC2' | 'AutoScalingGroup' | 'WarmPool';

export interface LifecycleEvent {
  readonly kind: 'launch' | 'terminate';
  readonly instanceId: string;
  readonly groupName: string;
  readonly hookName: string;
  readonly token: string;
  readonly transition: string;
  readonly origin: Place | undefined;
  readonly destination: Place | undefined;
  readonly notificationMetadata: string | undefined;
  /** The EventBridge event ID and time, for logs and duplicate detection. */
  readonly eventId: string | undefined;
  readonly time: string | undefined;
}

export type ClassifiedEvent =
  | LifecycleEvent
  | { readonly kind: 'reconcile'; readonly eventId: string | undefined; readonly time: string | undefined }
  | { readonly kind: 'ignore'; readonly reason: string };

export class MalformedEventError extends Error {
  constructor(readonly reason: string) {
    super(`malformed event: ${reason}`);
    this.name = 'MalformedEventError';
  }
}

/** What this function manages; events about anything else are ignored. */
export interface EventScope {
  readonly groupName: string;
  readonly launchHook: string;
  readonly terminateHook: string;
}

const place = z.enum(['EC2', 'AutoScalingGroup', 'WarmPool']);

const envelope = z.object({
  'detail-type': z.string(),
  source: z.string(),
  id: z.optional(z.string()),
  time: z.optional(z.string()),
  detail: z.optional(z.unknown()),
});

const lifecycleDetail = z.object({
  LifecycleActionToken: z.string().check(z.minLength(1), z.maxLength(36 * 4)),
  AutoScalingGroupName: z.string().check(z.minLength(1), z.maxLength(255)),
  LifecycleHookName: z.string().check(z.minLength(1), z.maxLength(255)),
  EC2InstanceId: z.string().check(z.refine(isInstanceId, 'not an EC2 instance ID')),
  LifecycleTransition: z.string(),
  NotificationMetadata: z.optional(z.string()),
  Origin: z.optional(place),
  Destination: z.optional(place),
});

/** Classifies one incoming event. Throws MalformedEventError with the reason when it cannot be understood. */
export function classifyEvent(event: unknown, scope: EventScope): ClassifiedEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new MalformedEventError('not a JSON object');
  if (isTestNotification(event)) return { kind: 'ignore', reason: 'Auto Scaling test notification' };

  const parsedEnvelope = envelope.safeParse(event);
  if (!parsedEnvelope.success) throw new MalformedEventError(`not an EventBridge event (${describeIssues(parsedEnvelope.error)})`);
  const { source, 'detail-type': detailType, id: eventId, time, detail } = parsedEnvelope.data;

  if (source === 'aws.events' && detailType === SCHEDULED_DETAIL_TYPE) return { kind: 'reconcile', eventId, time };
  if (source !== 'aws.autoscaling')
    throw new MalformedEventError(`unexpected source ${JSON.stringify(source)} with detail-type ${JSON.stringify(detailType)}`);
  if (detailType !== LAUNCH_DETAIL_TYPE && detailType !== TERMINATE_DETAIL_TYPE) {
    return { kind: 'ignore', reason: `Auto Scaling event ${JSON.stringify(detailType)} is not a lifecycle action` };
  }

  const parsedDetail = lifecycleDetail.safeParse(detail);
  if (!parsedDetail.success) throw new MalformedEventError(`${detailType}: ${describeIssues(parsedDetail.error)}`);
  const d = parsedDetail.data;
  const kind = detailType === LAUNCH_DETAIL_TYPE ? 'launch' : 'terminate';
  const expectedTransition = kind === 'launch' ? LAUNCH_TRANSITION : TERMINATE_TRANSITION;
  if (d.LifecycleTransition !== expectedTransition) {
    throw new MalformedEventError(
      `${detailType} with LifecycleTransition ${JSON.stringify(d.LifecycleTransition)}, expected ${expectedTransition}`,
    );
  }

  if (d.AutoScalingGroupName !== scope.groupName) {
    return {
      kind: 'ignore',
      reason: `event for group ${JSON.stringify(d.AutoScalingGroupName)}, this function manages ${JSON.stringify(scope.groupName)}`,
    };
  }
  const ourHook = kind === 'launch' ? scope.launchHook : scope.terminateHook;
  if (d.LifecycleHookName !== ourHook) {
    // Another hook on the same group belongs to someone else: completing its action is not ours to do.
    return { kind: 'ignore', reason: `${kind} action of hook ${JSON.stringify(d.LifecycleHookName)}, ours is ${JSON.stringify(ourHook)}` };
  }

  const warmPoolReason = warmPoolIgnoreReason(kind, d.Origin, d.Destination);
  if (warmPoolReason !== undefined) return { kind: 'ignore', reason: `${d.EC2InstanceId}: ${warmPoolReason}` };

  return {
    kind,
    instanceId: d.EC2InstanceId,
    groupName: d.AutoScalingGroupName,
    hookName: d.LifecycleHookName,
    token: d.LifecycleActionToken,
    transition: d.LifecycleTransition,
    origin: d.Origin,
    destination: d.Destination,
    notificationMetadata: d.NotificationMetadata,
    eventId,
    time,
  };
}

/**
 * Warm pool transitions that neither put an instance into service nor take one out of it.
 * - launch into the warm pool (EC2 -> WarmPool): the instance is prepared and stopped, it serves nothing yet;
 * - terminate from the warm pool (WarmPool -> EC2): it never served.
 * Launch from the warm pool into the group, and terminate out of the group (to EC2 or back into the warm
 * pool), change the serving set and are handled.
 */
function warmPoolIgnoreReason(kind: 'launch' | 'terminate', origin: Place | undefined, destination: Place | undefined): string | undefined {
  if (kind === 'launch' && destination !== undefined && destination !== 'AutoScalingGroup') {
    return `launch into ${destination} does not put the instance into service`;
  }
  if (kind === 'terminate' && origin !== undefined && origin !== 'AutoScalingGroup') {
    return `terminate from ${origin}: the instance was not in service`;
  }
  return undefined;
}

/**
 * The test notification Auto Scaling sends when a hook or notification target is set up: a plain
 * object with `Event: autoscaling:TEST_NOTIFICATION`, possibly wrapped as an EventBridge detail.
 */
function isTestNotification(event: object): boolean {
  const e = event as { Event?: unknown; LifecycleTransition?: unknown; detail?: { Event?: unknown; LifecycleTransition?: unknown } };
  return [e.Event, e.LifecycleTransition, e.detail?.Event, e.detail?.LifecycleTransition].includes(TEST_NOTIFICATION);
}

function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length === 0 ? 'event' : issue.path.join('.')}: ${issue.message}`)
    .join('; ');
}
