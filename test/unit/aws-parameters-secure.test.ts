// SecureString through the real SSM client against the simulated SSM: the adapter writes secrets as SecureString
// (under the configured KMS key) and reads them decrypted; the simulated SSM stores type and key, refuses a key
// the account does not have, answers a ciphertext-like value without decryption, and refuses oversized values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { GetParameterCommand, GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { createAwsClients } from '../../src/adapters/aws/clients.js';
import { AwsCallError } from '../../src/adapters/aws/errors.js';
import { GROUP_TAG, INSTANCE_ARN_TAG, ParameterStore } from '../../src/adapters/aws/parameters.js';
import { DEFAULT_SSM_KEY } from '../sim/parameters.js';
import { SIMULATED_CREDENTIALS, startSimulatedCloud, type SimulatedCloud } from '../sim/server.js';

const I1 = 'i-0123456789abcdef0';
const SECRET = '{"format":1,"privateKey":"-----BEGIN PRIVATE KEY-----\\nsecret\\n-----END PRIVATE KEY-----\\n"}';

describe('SecureString parameters', () => {
  let cloud: SimulatedCloud;
  let ssm: SSMClient;
  let key: ReturnType<SimulatedCloud['createKmsKey']>;
  const store = (kmsKeyId?: string) =>
    new ParameterStore(ssm, {
      prefix: '/elastic-etcd',
      cluster: 'prod',
      group: 'etcd-asg',
      instanceArn: (id) => `arn:aws:ec2:us-east-1:111122223333:instance/${id}`,
      ...(kmsKeyId !== undefined && { kmsKeyId }),
    });

  before(async () => {
    cloud = await startSimulatedCloud({ group: { groupName: 'etcd-asg', launchHook: null, terminateHook: null } });
    ssm = createAwsClients({ region: 'us-east-1', endpoints: cloud.endpoints, credentials: SIMULATED_CREDENTIALS, maxAttempts: 1 }).ssm;
    key = cloud.createKmsKey('etcd-secrets');
  });
  after(async () => {
    ssm.destroy();
    await cloud.close();
  });

  test('an instance tls is written SecureString under the configured key, tagged like env and drop-in, read decrypted', async () => {
    const s = store(key.aliasName);
    await s.putInstanceFile(I1, 'tls', SECRET);
    await s.putInstanceFile(I1, 'dropin', '[Service]\n');
    const name = s.instanceName(I1, 'tls');
    const stored = cloud.parameters.get(name);
    assert.equal(stored.type, 'SecureString');
    assert.equal(stored.keyId, 'alias/etcd-secrets');
    assert.deepEqual(cloud.parameters.tags(name), cloud.parameters.tags(s.instanceName(I1, 'dropin')));
    assert.equal(cloud.parameters.tags(name)?.[INSTANCE_ARN_TAG], `arn:aws:ec2:us-east-1:111122223333:instance/${I1}`);
    assert.equal(cloud.parameters.tags(name)?.[GROUP_TAG], 'etcd-asg');
    assert.equal(cloud.parameters.get(s.instanceName(I1, 'dropin')).type, 'String', 'the drop-in holds no secret');
    assert.equal(await s.get(name), SECRET);
    const put = cloud.calls.filter((c) => c.operation === 'PutParameter' && c.params.Name === name);
    assert.deepEqual([put[0]?.params.Type, put[0]?.params.KeyId], ['SecureString', 'alias/etcd-secrets']);
    const get = cloud.calls.filter((c) => c.operation === 'GetParameter' && c.params.Name === name);
    assert.equal(get.at(-1)?.params.WithDecryption, true);

    // Written again (a re-issue): overwritten, still SecureString, still tagged.
    await s.putInstanceFile(I1, 'tls', `${SECRET} `);
    assert.equal(cloud.parameters.get(name).type, 'SecureString');
    assert.equal(cloud.parameters.get(name).version, 2);
    assert.equal(cloud.parameters.tags(name)?.[GROUP_TAG], 'etcd-asg');

    // Deleted with the instance's other files.
    assert.deepEqual((await s.deleteOwnInstanceFiles(I1)).deleted.sort(), [s.instanceName(I1, 'dropin'), name].sort());
    assert.equal(cloud.parameters.value(name), undefined);
  });

  test('without decryption SSM answers a ciphertext, never the plain text, for GetParameter and GetParametersByPath', async () => {
    const s = store();
    await s.put(s.tlsClientName('app'), SECRET, { secure: true });
    assert.equal(cloud.parameters.get(s.tlsClientName('app')).keyId, DEFAULT_SSM_KEY, "no key given: SSM's default key");
    const plain = await ssm.send(new GetParameterCommand({ Name: s.tlsClientName('app') }));
    assert.equal(plain.Parameter?.Type, 'SecureString');
    assert.notEqual(plain.Parameter?.Value, SECRET);
    assert.ok(!plain.Parameter?.Value?.includes('PRIVATE KEY'));
    assert.match(plain.Parameter?.Value ?? '', /^[A-Za-z0-9+/]+=*$/);
    const listed = await ssm.send(new GetParametersByPathCommand({ Path: '/elastic-etcd/prod/tls', Recursive: true }));
    assert.ok(listed.Parameters?.every((p) => !p.Value?.includes('PRIVATE KEY')));
    const decrypted = await ssm.send(
      new GetParametersByPathCommand({ Path: '/elastic-etcd/prod/tls', Recursive: true, WithDecryption: true }),
    );
    assert.equal(decrypted.Parameters?.find((p) => p.Name === s.tlsClientName('app'))?.Value, SECRET);
    assert.equal(await s.get(s.tlsClientName('app')), SECRET);
  });

  test('create-only SecureString: the first value wins and comes back decrypted', async () => {
    const s = store(key.arn);
    const first = await s.createOnly(s.tlsCaName(), 'first', { secure: true });
    const second = await s.createOnly(s.tlsCaName(), 'second', { secure: true });
    assert.deepEqual(first, { created: true, value: 'first' });
    assert.deepEqual(second, { created: false, value: 'first' });
    assert.equal(cloud.parameters.get(s.tlsCaName()).keyId, key.arn);
  });

  test('a KMS key the account does not have is InvalidKeyId, and nothing is written', async () => {
    const s = store('alias/no-such-key');
    const name = s.instanceName('i-00000000000000002', 'tls');
    await assert.rejects(s.putInstanceFile('i-00000000000000002', 'tls', SECRET), (err: unknown) => {
      assert.ok(err instanceof AwsCallError);
      assert.match(err.message, /InvalidKeyId/);
      return true;
    });
    assert.equal(cloud.parameters.value(name), undefined);
    // The key applies to SecureString only: a String parameter of the same store is written.
    await s.put(s.tlsCaCertificateName(), 'public');
    assert.equal(cloud.parameters.get(s.tlsCaCertificateName()).type, 'String');
  });

  test("a SecureString over the tier's size limit is refused like any other value", async () => {
    const s = store();
    await assert.rejects(s.put(s.tlsClientName('big'), 'x'.repeat(8193), { secure: true }), /ValidationException|between 1 and 8192/);
    assert.equal(cloud.parameters.value(s.tlsClientName('big')), undefined);
  });

  test('client names are checked before they become parameter names', () => {
    const s = store();
    assert.equal(s.tlsClientName('app-1'), '/elastic-etcd/prod/tls/clients/app-1');
    for (const bad of ['', 'App', '../ca', 'a/b', '-x']) assert.throws(() => s.tlsClientName(bad), /invalid client name/);
  });
});
