import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import type { DescribeInstancesCommandOutput } from '@aws-sdk/client-ec2';
import { Ec2Adapter, isGoneState } from '../../src/adapters/aws/ec2.js';
import { AwsCallError, MalformedAwsResponseError } from '../../src/adapters/aws/errors.js';

const client = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const mock = mockClient(client);
const adapter = new Ec2Adapter(client);

const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const launched = new Date('2024-01-02T03:04:05.000Z');

function reservation(...ids: string[]): Partial<DescribeInstancesCommandOutput> {
  return {
    Reservations: [
      {
        Instances: ids.map((i, n) => ({
          InstanceId: i,
          PrivateIpAddress: `10.0.0.${n + 1}`,
          State: { Name: 'running', Code: 16 },
          LaunchTime: launched,
        })),
      },
    ],
  };
}

function notFound(message: string): EC2ServiceException {
  return new EC2ServiceException({ name: 'InvalidInstanceID.NotFound', message, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

describe('Ec2Adapter', () => {
  beforeEach(() => mock.reset());

  it('returns IP, state and launch time, following NextToken', async () => {
    mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ ...reservation(id(1)), NextToken: 'n2' })
      .resolvesOnce(reservation(id(2)));
    const result = await adapter.describeInstances([id(1), id(2)]);
    assert.deepEqual(result.gone, []);
    assert.deepEqual(result.found[0], { instanceId: id(1), privateIpAddress: '10.0.0.1', state: 'running', launchTime: launched });
    assert.equal(result.found.length, 2);
    const calls = mock.commandCalls(DescribeInstancesCommand);
    assert.deepEqual(calls[0]?.args[0].input.InstanceIds, [id(1), id(2)]);
    assert.equal(calls[1]?.args[0].input.NextToken, 'n2');
  });

  it('asks in batches of 100', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await adapter.describeInstances(Array.from({ length: 150 }, (_, n) => id(n + 1)));
    assert.deepEqual(
      mock.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.InstanceIds?.length),
      [100, 50],
    );
  });

  it('marks the IDs named by InvalidInstanceID.NotFound as gone and asks again for the rest', async () => {
    mock
      .on(DescribeInstancesCommand)
      .rejectsOnce(notFound(`The instance IDs '${id(2)}, ${id(3)}' do not exist`))
      .resolvesOnce(reservation(id(1)));
    const result = await adapter.describeInstances([id(1), id(2), id(3)]);
    assert.deepEqual(
      result.found.map((i) => i.instanceId),
      [id(1)],
    );
    assert.deepEqual([...result.gone].sort(), [id(2), id(3)]);
    assert.deepEqual(mock.commandCalls(DescribeInstancesCommand)[1]?.args[0].input.InstanceIds, [id(1)]);
  });

  it('falls back to one call per ID when the message names no ID', async () => {
    mock.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
      if ((input.InstanceIds ?? []).includes(id(2))) throw notFound('Some instance does not exist');
      return reservation(...(input.InstanceIds ?? []));
    });
    const result = await adapter.describeInstances([id(1), id(2)]);
    assert.deepEqual(
      result.found.map((i) => i.instanceId),
      [id(1)],
    );
    assert.deepEqual(result.gone, [id(2)]);
  });

  it('wraps other errors, and rejects an instance without state', async () => {
    mock.on(DescribeInstancesCommand).rejectsOnce(
      new EC2ServiceException({
        name: 'RequestLimitExceeded',
        message: 'slow down',
        $fault: 'client',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    await assert.rejects(adapter.describeInstances([id(1)]), (err: unknown) => err instanceof AwsCallError && err.transient);
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: id(1) }] }] });
    await assert.rejects(adapter.describeInstances([id(1)]), MalformedAwsResponseError);
  });

  it('knows which states are gone for good', () => {
    assert.equal(isGoneState('terminated'), true);
    assert.equal(isGoneState('shutting-down'), true);
    assert.equal(isGoneState('stopped'), false);
    assert.equal(isGoneState('running'), false);
  });
});
