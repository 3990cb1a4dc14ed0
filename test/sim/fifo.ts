// A simulated SQS FIFO queue and the Lambda event source mapping that polls it: the serialising queue
// (one event handled at a time, in order). Modelled on the documented FIFO behaviour:
// - within one message group, messages are received in order, and while one is in flight (received, not yet
//   deleted, its visibility timeout running) no later message of that group is handed out;
// - a message not deleted within its visibility timeout becomes visible again and is received again (the
//   event source mapping leaves a failed record in the queue: a thrown invocation or a batch item failure);
// - a message received more than maxReceiveCount times moves to the dead-letter queue (redrive policy);
// - a message whose deduplication ID was sent within the last 5 minutes is accepted but not delivered again;
// - each receive issues a new receipt handle, and only the latest one deletes the message or changes its
//   visibility (ChangeMessageVisibility: 0 to 43200 s, counted from the call); a handle that is not the latest
//   (or of a deleted message) is invalid, and a message whose visibility timeout ran out is not in flight.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { setTimeout as delay } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';

/** SQS FIFO's deduplication interval. */
export const FIFO_DEDUPLICATION_MS = 5 * 60_000;

export interface FifoMessage {
  readonly messageId: string;
  readonly body: string;
  readonly groupId: string;
  readonly deduplicationId: string;
  readonly sentAt: number;
  receiveCount: number;
  /** In flight until this time (ms since the epoch, the queue's clock); 0 when visible. */
  invisibleUntil: number;
  receiptHandle: string | undefined;
}

export interface FifoQueueOptions {
  readonly name?: string;
  readonly region?: string;
  readonly account?: string;
  readonly visibilityTimeoutMs: number;
  /** The redrive policy's maxReceiveCount. */
  readonly maxReceiveCount: number;
}

export class SimulatedFifoQueue {
  readonly name: string;
  readonly deadLetters: FifoMessage[] = [];
  /** Receives answered with nothing because the group's head was in flight: the serialisation at work. */
  blockedReceives = 0;
  private readonly messages: FifoMessage[] = [];
  private readonly sentDedupIds = new Map<string, { at: number; messageId: string }>();
  readonly region: string;
  readonly account: string;
  /** Every receive, in order, on the queue's clock: when a failed message came back, and what came next. */
  readonly receives: { readonly messageId: string; readonly at: number; readonly receiveCount: number }[] = [];
  /** Time skipped by `skipToNextVisible`: the queue's clock is real time plus this. */
  private skippedMs = 0;

  constructor(private readonly options: FifoQueueOptions) {
    this.name = options.name ?? 'elastic-etcd.fifo';
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '123456789012';
  }

  get arn(): string {
    return `arn:aws:sqs:${this.region}:${this.account}:${this.name}`;
  }

  /** The queue URL GetQueueUrl answers, under the endpoint that serves it. */
  url(endpoint: string): string {
    return `${endpoint.replace(/\/$/, '')}/${this.account}/${this.name}`;
  }

  /** The queue's clock (ms since the epoch): real time, plus whatever was skipped. */
  now(): number {
    return Date.now() + this.skippedMs;
  }

  /**
   * Lets time pass, at once, until the next in-flight message becomes visible again: a failed message waits out
   * its (realistically long: 6x the function timeout) visibility timeout without the test waiting for it.
   * Only the event source mapping calls this, and only when no invocation is running.
   */
  skipToNextVisible(): void {
    const next = Math.min(...this.messages.map((m) => m.invisibleUntil).filter((t) => t > this.now()));
    if (Number.isFinite(next)) this.skippedMs += next - this.now();
  }

  /** Lets `ms` pass at once (e.g. to move beyond the deduplication interval). */
  skip(ms: number): void {
    this.skippedMs += ms;
  }

  /** SendMessage. A deduplication ID seen within 5 minutes is accepted and answered with the first message's ID. */
  send(body: string, input: { groupId: string; deduplicationId: string }): { messageId: string; duplicate: boolean } {
    const now = this.now();
    const seen = this.sentDedupIds.get(input.deduplicationId);
    if (seen !== undefined && now - seen.at < FIFO_DEDUPLICATION_MS) return { messageId: seen.messageId, duplicate: true };
    const messageId = randomUUID();
    this.sentDedupIds.set(input.deduplicationId, { at: now, messageId });
    this.messages.push({
      messageId,
      body,
      groupId: input.groupId,
      deduplicationId: input.deduplicationId,
      sentAt: now,
      receiveCount: 0,
      invisibleUntil: 0,
      receiptHandle: undefined,
    });
    return { messageId, duplicate: false };
  }

  /** ReceiveMessage with MaxNumberOfMessages 1: the head of the first group that has nothing in flight. */
  receive(): FifoMessage | undefined {
    const now = this.now();
    const blockedGroups = new Set<string>();
    for (const message of [...this.messages]) {
      if (blockedGroups.has(message.groupId)) continue;
      if (message.invisibleUntil > now) {
        blockedGroups.add(message.groupId);
        this.blockedReceives++;
        continue;
      }
      if (message.receiveCount >= this.options.maxReceiveCount) {
        // Redrive: the message used up its receives; it leaves the group so the next one can go.
        this.messages.splice(this.messages.indexOf(message), 1);
        this.deadLetters.push(message);
        continue;
      }
      message.receiveCount++;
      message.invisibleUntil = now + this.options.visibilityTimeoutMs;
      message.receiptHandle = randomUUID();
      this.receives.push({ messageId: message.messageId, at: now, receiveCount: message.receiveCount });
      return message;
    }
    return undefined;
  }

  /** DeleteMessage; a stale receipt handle (the message was received again since) is ignored, as SQS may. */
  delete(receiptHandle: string): void {
    const index = this.messages.findIndex((m) => m.receiptHandle === receiptHandle);
    if (index >= 0) this.messages.splice(index, 1);
  }

  /**
   * ChangeMessageVisibility: the message becomes visible `seconds` after this call. Throws a
   * SimQueueError with SQS's code for a handle that is not the message's latest (ReceiptHandleIsInvalid),
   * a message no longer in flight (MessageNotInflight) or a timeout outside 0..43200 s (InvalidParameterValue).
   */
  changeVisibility(receiptHandle: string, seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 43_200) {
      throw new SimQueueError(
        'InvalidParameterValue',
        `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.`,
      );
    }
    const message = this.messages.find((m) => m.receiptHandle === receiptHandle);
    if (message === undefined)
      throw new SimQueueError('ReceiptHandleIsInvalid', `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`);
    const now = this.now();
    if (message.invisibleUntil <= now)
      throw new SimQueueError('MessageNotInflight', 'Message does not exist or is not available for visibility timeout change.');
    message.invisibleUntil = now + seconds * 1000;
  }

  /** Messages not yet deleted (in flight included). */
  get depth(): number {
    return this.messages.length;
  }
}

/** An SQS error, answered by the simulated endpoint in the SQS protocol's shape. */
export class SimQueueError extends Error {
  constructor(
    readonly code: 'ReceiptHandleIsInvalid' | 'MessageNotInflight' | 'InvalidParameterValue' | 'QueueDoesNotExist',
    message: string,
  ) {
    super(message);
    this.name = 'SimQueueError';
  }
}

/** One SQS record as the event source mapping hands it to Lambda. */
export function sqsEventOf(queue: SimulatedFifoQueue, message: FifoMessage): SQSEvent {
  return {
    Records: [
      {
        messageId: message.messageId,
        receiptHandle: message.receiptHandle ?? '',
        body: message.body,
        attributes: {
          ApproximateReceiveCount: String(message.receiveCount),
          SentTimestamp: String(message.sentAt),
          SenderId: 'events.amazonaws.com',
          ApproximateFirstReceiveTimestamp: String(message.sentAt),
          MessageGroupId: message.groupId,
          MessageDeduplicationId: message.deduplicationId,
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queue.arn,
        awsRegion: queue.region,
      },
    ],
  };
}

/**
 * The Lambda event source mapping with batch size 1 and ReportBatchItemFailures: `pollers` concurrent pollers
 * receive, invoke, and delete what succeeded. Runs until the queue is empty (dead letters aside).
 */
export async function runEventSourceMapping(
  queue: SimulatedFifoQueue,
  invoke: (event: SQSEvent) => Promise<SQSBatchResponse>,
  options: { pollers: number; pollIntervalMs?: number; timeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let running = 0;
  const poller = async (): Promise<void> => {
    while (queue.depth > 0) {
      if (Date.now() > deadline) throw new Error(`the queue did not drain in time: ${queue.depth} message(s) left`);
      const message = queue.receive();
      if (message === undefined) {
        // Nothing receivable and nothing running: only a failed message's visibility timeout is left to wait out.
        if (running === 0) queue.skipToNextVisible();
        await delay(options.pollIntervalMs ?? 20);
        continue;
      }
      running++;
      const handle = message.receiptHandle!;
      let failed: boolean;
      try {
        const response = await invoke(sqsEventOf(queue, message));
        failed = response.batchItemFailures.some((f) => f.itemIdentifier === message.messageId);
      } catch {
        failed = true; // a thrown invocation fails the whole batch
      } finally {
        running--;
      }
      if (!failed) queue.delete(handle);
    }
  };
  await Promise.all(Array.from({ length: options.pollers }, poller));
}
