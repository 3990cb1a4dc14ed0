// One invocation: classify the event, run the matching decision (launch.ts, terminate.ts, reconcile.ts), flush
// metrics. Malformed events are rejected with a log line and change nothing; they are not thrown, because
// delivering them again cannot help. Transient failures are thrown so the event source delivers the event again.
//
// Every decision is safe to run twice for the same event and tolerates events that come late or out of order:
// it looks at the group and the cluster as they are now, not at what the event claims. Membership changes happen
// under the cluster lock in etcd (shared with the CLI), and the serialising FIFO queue (one message group) hands
// the Lambda one event at a time. Transient trouble (a join still in progress, etcd briefly unhealthy, AWS
// throttling) ends in a thrown error, so the event is delivered again and the reconcile pass catches whatever
// is left over. The modules of src/lambda are imported directly; there is no barrel.
import { errorMessage } from '../core/errors.js';
import { AwsCallError } from '../adapters/aws/index.js';
import { classifyEvent, MalformedEventError } from './events.js';
import type { LifecycleDeps } from './deps.js';
import { RetryLaterError } from './errors.js';
import { handleLaunch } from './launch.js';
import { reconcile } from './reconcile.js';
import { handleTerminate } from './terminate.js';
import type { SQSBatchResponse } from 'aws-lambda';
import { checkNamespace } from './namespace.js';
import { handleSqsEvent, isSqsEvent } from './sqs.js';
import { prepareTls } from './tls.js';

/**
 * One invocation of the function: an SQS batch from the serialising queue (answered with the records to
 * deliver again), or a directly delivered EventBridge event (answered with what was decided; a thrown error
 * makes the event source deliver it again).
 */
export async function handleInvocation(event: unknown, deps: LifecycleDeps): Promise<InvocationResult | SQSBatchResponse> {
  if (isSqsEvent(event)) {
    const queue = deps.queue;
    const changeVisibility =
      queue === undefined ? undefined : (arn: string, handle: string, seconds: number) => queue.changeVisibility(arn, handle, seconds);
    return handleSqsEvent(event, (body) => handleEvent(body, deps), deps.telemetry, changeVisibility);
  }
  return handleEvent(event, deps);
}

/** What an event was taken for (launch, terminate, reconcile, ignore, malformed, ...) and what was decided. */
export interface InvocationResult {
  readonly kind: string;
  readonly outcome: string;
}

/**
 * One EventBridge event: a lifecycle action of this function's group, the scheduled reconcile pass, or anything
 * else (ignored, or rejected as malformed; both change nothing and are answered, not thrown). Throws when the
 * event must be delivered again (RetryLaterError, a transient AWS failure, any other failure). Safe to run twice
 * for the same event. Resets the event's log keys and flushes the metrics however it ends.
 */
export async function handleEvent(event: unknown, deps: LifecycleDeps): Promise<InvocationResult> {
  const { telemetry, config } = deps;
  try {
    let classified;
    try {
      classified = classifyEvent(event, {
        groupName: config.autoScalingGroup,
        launchHook: config.launchHook,
        terminateHook: config.terminateHook,
      });
    } catch (err) {
      if (!(err instanceof MalformedEventError)) throw err;
      telemetry.error('rejected a malformed event; nothing was changed', { reason: err.reason });
      telemetry.count('Malformed');
      return { kind: 'malformed', outcome: err.reason };
    }
    if (classified.kind === 'ignore') {
      telemetry.info('ignored an event', { reason: classified.reason });
      telemetry.count('Ignored');
      return { kind: 'ignore', outcome: classified.reason };
    }
    // Every decision below may write or delete parameters: only the namespace's own group may make them.
    const claim = await checkNamespace(deps);
    if (claim.kind === 'foreign') {
      telemetry.error('refused to act: the parameter namespace belongs to another Auto Scaling group; nothing was changed', {
        reason: claim.reason,
        owner: claim.owner,
        group: config.autoScalingGroup,
      });
      telemetry.count('Refusals');
      return { kind: 'namespace-refused', outcome: claim.reason };
    }
    if (claim.how === 'taken-over') {
      telemetry.warn('took over the parameter namespace of a group that no longer exists', { previousOwner: claim.previousOwner });
    }
    switch (classified.kind) {
      case 'launch':
        telemetry.appendKeys({ instanceId: classified.instanceId, eventId: classified.eventId });
        return { kind: 'launch', outcome: await handleLaunch(classified, deps) };
      case 'terminate':
        telemetry.appendKeys({ instanceId: classified.instanceId, eventId: classified.eventId });
        // A launch prepares its own TLS (it abandons when it cannot); here a CA that cannot be used is an error.
        return { kind: 'terminate', outcome: await handleTerminate(classified, (await prepareTls(deps))?.deps ?? deps) };
      case 'reconcile': {
        const report = await reconcile(deps);
        return { kind: 'reconcile', outcome: JSON.stringify(report) };
      }
    }
  } catch (err) {
    telemetry.count('Failures');
    const retry = err instanceof RetryLaterError || (err instanceof AwsCallError && err.transient);
    telemetry.error(retry ? 'invocation failed; the event will be delivered again' : 'invocation failed', {
      error: errorMessage(err),
    });
    throw err;
  } finally {
    telemetry.resetKeys();
    telemetry.flush();
  }
}
