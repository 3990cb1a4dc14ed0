// The queue handler's failure path: a failed record is made visible again after the short retry delay
// (ChangeMessageVisibility through the real SDK client, mocked with aws-sdk-client-mock) before it is
// reported; when that call fails, the record is still reported.
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { ChangeMessageVisibilityCommand, GetQueueUrlCommand, ReceiptHandleIsInvalid, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { InvalidQueueArnError, parseQueueArn, QueueAdapter } from '../../src/adapters/aws/queue.js';
import { createCapturingTelemetry } from '../../src/lambda/log.js';
import { handleSqsEvent, RETRY_DELAY_BASE_S, RETRY_DELAY_MAX_S, retryDelaySeconds } from '../../src/lambda/sqs.js';

const client = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const mock = mockClient(client);
const ARN = 'arn:aws:sqs:eu-west-1:123456789012:elastic-etcd-Queue.fifo';
const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/elastic-etcd-Queue.fifo';
/** The launch hook's default heartbeat timeout: every retry delay must stay far below it. */
const HEARTBEAT_TIMEOUT_S = 600;

function record(id: string, body: string, receiveCount = 1): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `handle-${id}-${receiveCount}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 'events.amazonaws.com',
      ApproximateFirstReceiveTimestamp: '0',
      MessageGroupId: 'elastic-etcd-membership',
      MessageDeduplicationId: id,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: ARN,
    awsRegion: 'eu-west-1',
  };
}

const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
const failing = (body: unknown) =>
  (body as { fail?: boolean }).fail === true ? Promise.reject(new Error('learner not promoted yet')) : Promise.resolve('ok');

describe('retry delay', () => {
  it('starts at the base, doubles with each receive, and stays capped far below the heartbeat timeout', () => {
    assert.deepEqual([1, 2, 3, 4, 10, 1000].map(retryDelaySeconds), [15, 30, 60, 60, 60, 60]);
    assert.equal(retryDelaySeconds(1), RETRY_DELAY_BASE_S);
    // A missing or odd ApproximateReceiveCount counts as a first receive.
    assert.equal(retryDelaySeconds(Number.NaN), RETRY_DELAY_BASE_S);
    assert.equal(retryDelaySeconds(0), RETRY_DELAY_BASE_S);
    assert.ok(RETRY_DELAY_MAX_S * 5 <= HEARTBEAT_TIMEOUT_S);
  });
});

describe('queue ARNs', () => {
  it('parses a queue ARN in any partition and refuses what is not one', () => {
    assert.deepEqual(parseQueueArn('arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo'), {
      partition: 'aws-cn',
      region: 'cn-north-1',
      account: '123456789012',
      name: 'q.fifo',
    });
    for (const bad of [
      '',
      'arn:aws:sns:eu-west-1:123456789012:q',
      'arn:aws:sqs:eu-west-1:1234:q',
      'arn:aws:sqs:eu-west-1:123456789012:a/b',
      `arn:aws:sqs:eu-west-1:123456789012:${'x'.repeat(81)}`,
    ]) {
      assert.throws(() => parseQueueArn(bad), InvalidQueueArnError, bad);
    }
  });
});

describe('a failed queue record', () => {
  let adapter: QueueAdapter;
  beforeEach(() => {
    mock.reset();
    mock.on(GetQueueUrlCommand).resolves({ QueueUrl: URL });
    mock.on(ChangeMessageVisibilityCommand).resolves({});
    adapter = new QueueAdapter(client);
  });
  const changeVisibility = (arn: string, handle: string, seconds: number) => adapter.changeVisibility(arn, handle, seconds);

  it('is made visible again after the retry delay, then reported', async () => {
    const telemetry = createCapturingTelemetry();
    const response = await handleSqsEvent(batch(record('m1', '{"fail":true}', 2)), failing, telemetry, changeVisibility);
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'm1' }]);
    assert.deepEqual(
      mock.commandCalls(GetQueueUrlCommand).map((c) => c.args[0].input),
      [{ QueueName: 'elastic-etcd-Queue.fifo', QueueOwnerAWSAccountId: '123456789012' }],
    );
    assert.deepEqual(
      mock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input),
      [{ QueueUrl: URL, ReceiptHandle: 'handle-m1-2', VisibilityTimeout: 30 }],
    );
    assert.ok(telemetry.logs.some((l) => l.level === 'INFO' && l.attributes.retryDelaySeconds === 30));
  });

  it('on FIFO: the records after it are reported and come back with it; the queue URL is looked up once', async () => {
    const response = await handleSqsEvent(
      batch(record('m1', '{"fail":true}'), record('m2', '{}'), record('m3', '{}')),
      failing,
      createCapturingTelemetry(),
      changeVisibility,
    );
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      ['m1', 'm2', 'm3'],
    );
    assert.deepEqual(
      mock.commandCalls(ChangeMessageVisibilityCommand).map((c) => [c.args[0].input.ReceiptHandle, c.args[0].input.VisibilityTimeout]),
      [
        ['handle-m1-1', 15],
        ['handle-m2-1', 15],
        ['handle-m3-1', 15],
      ],
    );
    assert.equal(mock.commandCalls(GetQueueUrlCommand).length, 1);
  });

  it('is still reported when ChangeMessageVisibility fails (it then waits out the visibility timeout)', async () => {
    mock
      .on(ChangeMessageVisibilityCommand)
      .rejects(new ReceiptHandleIsInvalid({ message: 'The input receipt handle is not a valid receipt handle.', $metadata: {} }));
    const telemetry = createCapturingTelemetry();
    const response = await handleSqsEvent(batch(record('m1', '{"fail":true}')), failing, telemetry, changeVisibility);
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'm1' }]);
    const logged = telemetry.logs.find((l) => l.level === 'ERROR' && l.attributes.messageId === 'm1' && /visibility/.test(l.message));
    assert.ok(logged, JSON.stringify(telemetry.logs));
    assert.match(String(logged.attributes.error), /ReceiptHandleIsInvalid/);
  });

  it('is still reported when the queue URL cannot be looked up, and the lookup is tried again next time', async () => {
    mock.on(GetQueueUrlCommand).rejectsOnce(new Error('socket hang up')).resolves({ QueueUrl: URL });
    const first = await handleSqsEvent(batch(record('m1', '{"fail":true}')), failing, createCapturingTelemetry(), changeVisibility);
    assert.deepEqual(first.batchItemFailures, [{ itemIdentifier: 'm1' }]);
    assert.equal(mock.commandCalls(ChangeMessageVisibilityCommand).length, 0);
    const second = await handleSqsEvent(batch(record('m1', '{"fail":true}', 2)), failing, createCapturingTelemetry(), changeVisibility);
    assert.deepEqual(second.batchItemFailures, [{ itemIdentifier: 'm1' }]);
    assert.equal(mock.commandCalls(ChangeMessageVisibilityCommand).length, 1);
  });

  it('success and dropped bodies touch no visibility', async () => {
    const response = await handleSqsEvent(
      batch(record('m1', '{}'), record('m2', 'not json')),
      failing,
      createCapturingTelemetry(),
      changeVisibility,
    );
    assert.deepEqual(response.batchItemFailures, []);
    assert.equal(mock.commandCalls(ChangeMessageVisibilityCommand).length, 0);
    assert.equal(mock.commandCalls(GetQueueUrlCommand).length, 0);
  });

  it('without a queue adapter is reported as before', async () => {
    const response = await handleSqsEvent(batch(record('m1', '{"fail":true}')), failing, createCapturingTelemetry());
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'm1' }]);
    assert.equal(mock.commandCalls(ChangeMessageVisibilityCommand).length, 0);
  });
});
