// The serialising queue's side of an invocation (contract 1): EventBridge delivers lifecycle and schedule events
// into one SQS FIFO queue with a single message group, and the Lambda consumes it through an event source
// mapping. Each record's body is the EventBridge event, handled exactly as a directly delivered one.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Telemetry } from './log.js';

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
 * `batchItemFailures` so SQS delivers it again (after the visibility timeout; the redrive policy moves it to
 * the dead-letter queue after its last attempt); on a FIFO queue the records after it are reported too, as
 * AWS requires, so the message group's order is kept. A body that is not JSON is logged and dropped (it is
 * deleted, not retried: delivering it again cannot help); a JSON body the classifier cannot understand is
 * dropped by `handleOne` the same way.
 */
export async function handleSqsEvent(
  event: SQSEvent,
  handleOne: (body: unknown) => Promise<unknown>,
  telemetry: Telemetry,
): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    if (failures.length > 0) {
      failures.push({ itemIdentifier: record.messageId });
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
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}
