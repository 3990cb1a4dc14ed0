import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { ParameterStore } from '../../src/adapters/aws/parameters.js';
import type { ParameterName } from '../../src/adapters/aws/parameters.js';
import { AwsCallError } from '../../src/adapters/aws/errors.js';
import {
  InvalidIdentifierError,
  validateClusterName,
  validateInstanceId,
  validateParameterPrefix,
} from '../../src/adapters/aws/identifiers.js';

const client = new SSMClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const mock = mockClient(client);
const store = new ParameterStore(client, { prefix: '/elastic-etcd', cluster: 'prod' });
const I1 = 'i-0123456789abcdef0';
const I2 = 'i-00000000000000002';
const meta = { $metadata: {} };

describe('identifier validation', () => {
  it('accepts good identifiers and names the kind of a bad one', () => {
    assert.equal(validateClusterName('prod_eu-1.a'), 'prod_eu-1.a');
    assert.equal(validateParameterPrefix('/team/etcd/'), '/team/etcd');
    assert.equal(validateInstanceId('i-0123abcd'), 'i-0123abcd');
    for (const bad of ['', '..', 'a/b', 'x'.repeat(65), 'sp ace']) assert.throws(() => validateClusterName(bad), InvalidIdentifierError);
    for (const bad of ['etcd', '//x', '/a/../b', '/a b', '/a//b']) assert.throws(() => validateParameterPrefix(bad), /parameter-prefix/);
    for (const bad of ['i-XYZ', 'i-0123', 'i-0123456789abcdef01', ' i-0123abcd', 42])
      assert.throws(() => validateInstanceId(bad), /instance-id/);
  });

  it('refuses a store whose cluster or prefix would escape the layout', () => {
    assert.throws(() => new ParameterStore(client, { prefix: '/elastic-etcd', cluster: '../other' }), InvalidIdentifierError);
    assert.throws(() => new ParameterStore(client, { prefix: 'relative', cluster: 'prod' }), InvalidIdentifierError);
  });
});

describe('ParameterStore', () => {
  beforeEach(() => mock.reset());

  it('builds the layout from validated identifiers', () => {
    assert.equal(store.bootstrapName(), '/elastic-etcd/prod/bootstrap');
    assert.equal(store.instanceName(I1, 'env'), `/elastic-etcd/prod/instances/${I1}/env`);
    assert.equal(store.instanceName(I1, 'dropin'), `/elastic-etcd/prod/instances/${I1}/dropin`);
    assert.throws(() => store.instanceName('i-../../bootstrap', 'env'), InvalidIdentifierError);
  });

  it('gets a value, and undefined for ParameterNotFound', async () => {
    mock
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Name: 'x', Value: 'v1' } })
      .rejectsOnce(new ParameterNotFound({ message: 'nope', ...meta }));
    assert.equal(await store.get(store.bootstrapName()), 'v1');
    assert.equal(await store.get(store.bootstrapName()), undefined);
    assert.equal(mock.commandCalls(GetParameterCommand)[0]?.args[0].input.Name, '/elastic-etcd/prod/bootstrap');
  });

  it('puts with Overwrite', async () => {
    mock.on(PutParameterCommand).resolves({ Version: 2 });
    await store.put(store.instanceName(I1, 'env'), 'ETCD_NAME=x');
    const input = mock.commandCalls(PutParameterCommand)[0]?.args[0].input;
    assert.equal(input?.Overwrite, true);
    assert.equal(input?.Value, 'ETCD_NAME=x');
    assert.equal(input?.Type, 'String');
  });

  it('createOnly writes without Overwrite and reports creation', async () => {
    mock.on(PutParameterCommand).resolves({ Version: 1 });
    assert.deepEqual(await store.createOnly(store.bootstrapName(), 'mine'), { created: true, value: 'mine' });
    assert.equal(mock.commandCalls(PutParameterCommand)[0]?.args[0].input.Overwrite, false);
  });

  it('createOnly returns the existing value when the parameter already exists', async () => {
    mock.on(PutParameterCommand).rejects(new ParameterAlreadyExists({ message: 'exists', ...meta }));
    mock.on(GetParameterCommand).resolves({ Parameter: { Value: 'theirs' } });
    assert.deepEqual(await store.createOnly(store.bootstrapName(), 'mine'), { created: false, value: 'theirs' });
  });

  it('createOnly tries again when the existing parameter vanished in between', async () => {
    mock
      .on(PutParameterCommand)
      .rejectsOnce(new ParameterAlreadyExists({ message: 'exists', ...meta }))
      .resolvesOnce({ Version: 1 });
    mock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'gone', ...meta }));
    assert.deepEqual(await store.createOnly(store.bootstrapName(), 'mine'), { created: true, value: 'mine' });
  });

  it('delete is idempotent', async () => {
    mock
      .on(DeleteParameterCommand)
      .resolvesOnce({})
      .rejectsOnce(new ParameterNotFound({ message: 'nope', ...meta }));
    assert.equal(await store.delete(store.bootstrapName()), true);
    assert.equal(await store.delete(store.bootstrapName()), false);
  });

  it('deleteInstance deletes env, drop-in, restore and tls', async () => {
    mock.on(DeleteParameterCommand).rejects(new ParameterNotFound({ message: 'nope', ...meta }));
    await store.deleteInstance(I1);
    assert.deepEqual(
      mock.commandCalls(DeleteParameterCommand).map((c) => c.args[0].input.Name),
      [
        `/elastic-etcd/prod/instances/${I1}/env`,
        `/elastic-etcd/prod/instances/${I1}/dropin`,
        `/elastic-etcd/prod/instances/${I1}/restore`,
        `/elastic-etcd/prod/instances/${I1}/tls`,
      ],
    );
  });

  it('lists instance IDs across pages, recursively, skipping foreign names', async () => {
    const base = '/elastic-etcd/prod/instances';
    mock
      .on(GetParametersByPathCommand)
      .resolvesOnce({ Parameters: [{ Name: `${base}/${I2}/env` }, { Name: `${base}/${I1}/env` }], NextToken: 'p2' })
      .resolvesOnce({ Parameters: [{ Name: `${base}/${I1}/dropin` }, { Name: `${base}/not-an-id/env` }, { Name: '/elsewhere/x' }] });
    assert.deepEqual(await store.listInstanceIds(), [I2, I1]); // sorted
    const calls = mock.commandCalls(GetParametersByPathCommand);
    assert.equal(calls[0]?.args[0].input.Path, base);
    assert.equal(calls[0]?.args[0].input.Recursive, true);
    assert.equal(calls[1]?.args[0].input.NextToken, 'p2');
  });

  it('wraps other SSM errors as AwsCallError', async () => {
    mock
      .on(GetParameterCommand)
      .rejects(new SSMServiceException({ name: 'ThrottlingException', message: 'Rate exceeded', $fault: 'client', ...meta }));
    await assert.rejects(
      store.get('/elastic-etcd/prod/bootstrap' as ParameterName),
      (err: unknown) => err instanceof AwsCallError && err.transient,
    );
    mock
      .on(PutParameterCommand)
      .rejects(new SSMServiceException({ name: 'AccessDeniedException', message: 'no', $fault: 'client', ...meta }));
    await assert.rejects(
      store.put(store.bootstrapName(), 'x'),
      (err: unknown) => err instanceof AwsCallError && err.code === 'AccessDeniedException' && !err.transient,
    );
  });
});

describe('instance files tagged with the instance ARN', () => {
  const tagged = new ParameterStore(client, {
    prefix: '/elastic-etcd',
    cluster: 'prod',
    instanceArn: (id) => `arn:aws:ec2:us-east-1:123456789012:instance/${id}`,
  });
  const tag = [{ Key: 'elastic-etcd:instance-arn', Value: `arn:aws:ec2:us-east-1:123456789012:instance/${I1}` }];
  beforeEach(() => mock.reset());

  it('creates a new parameter with the tag in one call', async () => {
    mock.on(PutParameterCommand).resolves({ ...meta, Version: 1 });
    await tagged.putInstanceFile(I1, 'dropin', '[Service]\n');
    const puts = mock.commandCalls(PutParameterCommand);
    assert.equal(puts.length, 1);
    assert.deepEqual(puts[0]!.args[0].input.Tags, tag);
    assert.equal(puts[0]!.args[0].input.Overwrite, false);
    assert.equal(mock.commandCalls(AddTagsToResourceCommand).length, 0);
  });

  it('overwrites an existing parameter, then tags it (SSM refuses tags with overwrite)', async () => {
    mock
      .on(PutParameterCommand, { Overwrite: false })
      .rejects(new ParameterAlreadyExists({ message: 'exists', $metadata: {} }))
      .on(PutParameterCommand, { Overwrite: true })
      .resolves({ ...meta, Version: 2 });
    mock.on(AddTagsToResourceCommand).resolves(meta);
    await tagged.putInstanceFile(I1, 'env', 'ETCD_NAME="x"\n');
    const puts = mock.commandCalls(PutParameterCommand).map((c) => c.args[0].input);
    assert.deepEqual(
      puts.map((p) => [p.Overwrite, p.Tags === undefined]),
      [
        [false, false],
        [true, true],
      ],
    );
    const tags = mock.commandCalls(AddTagsToResourceCommand);
    assert.equal(tags.length, 1);
    assert.deepEqual(tags[0]!.args[0].input, {
      ResourceType: 'Parameter',
      ResourceId: `/elastic-etcd/prod/instances/${I1}/env`,
      Tags: tag,
    });
  });
});
