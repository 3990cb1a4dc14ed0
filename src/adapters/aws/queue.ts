// SQS: giving a message the Lambda failed on back to its queue after a short delay instead of the queue's long
// visibility timeout. The queue is named by the record's eventSourceARN; its URL comes from GetQueueUrl (once
// per queue and container), not from pasting the ARN's parts into a host name: the SQS Developer Guide shows
// what a queue URL looks like but documents no rule for building one, and older editions warned not to build
// it from its components. The client's own endpoint resolution (region, partition, AWS_ENDPOINT_URL_SQS)
// decides where both calls go.
import { ChangeMessageVisibilityCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { MalformedAwsResponseError, rethrowAws } from './errors.js';

/** SQS's limits on a message's visibility timeout (ChangeMessageVisibility, API Reference): 0 s to 12 h. */
export const MAX_VISIBILITY_TIMEOUT_S = 43_200;

/** An event source ARN that does not name an SQS queue: arn:PARTITION:sqs:REGION:ACCOUNT:NAME. */
export class InvalidQueueArnError extends Error {
  constructor(readonly arn: string) {
    super(`${JSON.stringify(arn)} is not an SQS queue ARN (arn:PARTITION:sqs:REGION:ACCOUNT:NAME)`);
    this.name = 'InvalidQueueArnError';
  }
}

export interface QueueArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

/** Splits a queue ARN; queue names are 1-80 of [A-Za-z0-9_-], FIFO ones ending in `.fifo`. */
export function parseQueueArn(arn: string): QueueArn {
  const match = /^arn:([a-z0-9-]+):sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,75}(?:\.fifo)?|[A-Za-z0-9_-]{76,80})$/.exec(arn);
  if (match === null) throw new InvalidQueueArnError(arn);
  const [, partition = '', region = '', account = '', name = ''] = match;
  return { partition, region, account, name };
}

export class QueueAdapter {
  /** Queue URLs by ARN: a queue's URL does not change while it exists. */
  private readonly urls = new Map<string, Promise<string>>();

  constructor(private readonly client: SQSClient) {}

  /** The queue's URL, looked up once (GetQueueUrl with the owner's account from the ARN). */
  async queueUrl(arn: string): Promise<string> {
    const queue = parseQueueArn(arn);
    let url = this.urls.get(arn);
    if (url === undefined) {
      url = this.lookUp(queue);
      this.urls.set(arn, url);
      url.catch(() => this.urls.delete(arn)); // a failed lookup is tried again next time
    }
    return url;
  }

  /**
   * Makes a received message visible again `seconds` from now (ChangeMessageVisibility counts from the call).
   * A receipt handle that is no longer valid (the message was received again or deleted) or a message no
   * longer in flight fails with an AwsCallError whose code says so (ReceiptHandleIsInvalid, MessageNotInflight).
   */
  async changeVisibility(arn: string, receiptHandle: string, seconds: number): Promise<void> {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_TIMEOUT_S) {
      throw new RangeError(`a visibility timeout is 0 to ${MAX_VISIBILITY_TIMEOUT_S} whole seconds, not ${seconds}`);
    }
    const QueueUrl = await this.queueUrl(arn);
    try {
      await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
    } catch (err) {
      rethrowAws('ChangeMessageVisibility', err);
    }
  }

  private async lookUp(queue: QueueArn): Promise<string> {
    try {
      const answer = await this.client.send(new GetQueueUrlCommand({ QueueName: queue.name, QueueOwnerAWSAccountId: queue.account }));
      if (answer.QueueUrl === undefined || answer.QueueUrl === '') throw new MalformedAwsResponseError('GetQueueUrl', 'no QueueUrl');
      return answer.QueueUrl;
    } catch (err) {
      rethrowAws('GetQueueUrl', err);
    }
  }
}
