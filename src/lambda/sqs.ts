// The serialising queue's side of an invocation (one event handled at a time, in order): EventBridge delivers lifecycle and schedule events
// into one SQS FIFO queue with a single message group, and the Lambda consumes it through an event source
// mapping. Each record's body is the EventBridge event, handled exactly as a directly delivered one.
import { errorMessage } from '../core/errors.js';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Telemetry } from './log.js';

/**
 * How long a failed record stays invisible before SQS delivers it again: 15 s after its first receive,
 * doubling with each further receive up to RETRY_DELAY_MAX_S. Without this the record would wait out the
 * queue's visibility timeout (30 min: six times the function timeout), and on the FIFO queue's single group
 * nothing else, reconcile passes included, is delivered meanwhile. A launch waiting for its learner's
 * promotion fails on purpose and is retried this way; the delay stays far below the lifecycle hooks'
 * heartbeat timeout (10 min by default), and every attempt of a held action records a heartbeat.
 */
export const RETRY_DELAY_BASE_S = 15;
/** The longest retry delay: a minute, a tenth of the default launch heartbeat timeout. */
export const RETRY_DELAY_MAX_S = 60;

/** The retry delay for a record received `receiveCount` times (ApproximateReceiveCount; 1 on the first receive). */
export function retryDelaySeconds(receiveCount: number): number {
  const attempt = Number.isInteger(receiveCount) && receiveCount >= 1 ? receiveCount : 1;
  return Math.min(RETRY_DELAY_MAX_S, RETRY_DELAY_BASE_S * 2 ** Math.min(attempt - 1, 16));
}

/** Makes a received message visible again after `seconds` (SQS ChangeMessageVisibility on its receipt handle). */
export type ChangeVisibility = (queueArn: string, receiptHandle: string, seconds: number) => Promise<void>;

/** A record the queue delivered: enough of SQS's shape to tell a queue batch from an EventBridge event. */
const SQS_EVENT_SOURCE = 'aws:sqs';

/** True for an SQS event source mapping's batch (every record from `aws:sqs`). */
export function isSqsEvent(event: unknown): event is SQSEvent {
  if (typeof event !== 'object' || event === null || !('Records' in event)) return false;
  const records = event.Records;
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every((r: unknown) => typeof r === 'object' && r !== null && (r as { eventSource?: unknown }).eventSource === SQS_EVENT_SOURCE)
  );
}

/**
 * Handles a batch record by record, in order. A record whose handling throws is reported in
 * `batchItemFailures` so SQS delivers it again; on a FIFO queue the records after it are reported too, as
 * AWS requires, so the message group's order is kept. Each reported record is first made visible again after
 * `retryDelaySeconds` (`changeVisibility`), not after the queue's long visibility timeout; when that call
 * fails it is logged and the record is reported all the same (it then waits out the visibility timeout). The
 * redrive policy moves a record to the dead-letter queue after its last receive. A body that is not JSON is logged and dropped (it is
 * deleted, not retried: delivering it again cannot help); a JSON body the classifier cannot understand is
 * dropped by `handleOne` the same way.
 */
export async function handleSqsEvent(
  event: SQSEvent,
  handleOne: (body: unknown) => Promise<unknown>,
  telemetry: Telemetry,
  changeVisibility?: ChangeVisibility,
): Promise<SQSBatchResponse> {
  const failed: SQSRecord[] = [];
  for (const record of event.Records) {
    if (failed.length > 0) {
      failed.push(record);
      continue;
    }
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      telemetry.error('dropped a queue message whose body is not JSON; nothing was changed', {
        messageId: record.messageId,
        bodyLength: record.body.length,
      });
      telemetry.count('Malformed');
      continue;
    }
    try {
      await handleOne(body);
    } catch {
      // handleOne logged why; the message goes back to the queue.
      failed.push(record);
    }
  }
  if (changeVisibility !== undefined) {
    for (const record of failed) await retrySoon(record, changeVisibility, telemetry);
  }
  return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
}

async function retrySoon(record: SQSRecord, changeVisibility: ChangeVisibility, telemetry: Telemetry): Promise<void> {
  const seconds = retryDelaySeconds(Number(record.attributes.ApproximateReceiveCount));
  try {
    await changeVisibility(record.eventSourceARN, record.receiptHandle, seconds);
    telemetry.info('a failed queue message is delivered again after the retry delay', {
      messageId: record.messageId,
      retryDelaySeconds: seconds,
    });
  } catch (err) {
    telemetry.error("could not shorten a failed queue message's visibility; it is delivered again after the queue's visibility timeout", {
      messageId: record.messageId,
      error: errorMessage(err),
    });
  }
}
