// The Lambda's certificates against the simulated cloud, without etcd: the CA is created on first need (once, even
// when two invocations race), a launch stores the member's certificate (its IP and DNS name, SecureString, tagged)
// before its https drop-in, the Lambda's own client certificate is kept in memory and renewed when due, and a stored
// CA that cannot be used (malformed, expired, a key not its own, an RSA key) abandons the launch with an error
// naming the parameter, writing nothing.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { checkCertificate, createCertificateAuthority } from '../../src/adapters/pki/index.js';
import { GROUP_TAG, INSTANCE_ARN_TAG } from '../../src/adapters/aws/index.js';
import { loadGroup } from '../../src/lambda/group.js';
import { issueMemberTls, lambdaClientTls, loadClusterCa, prepareTls, renewalReason } from '../../src/lambda/tls.js';
import { privateDnsName } from '../sim/server.js';
import { parseDropin } from '../harness/systemd.js';
import { instanceArn, startWorld, type World } from '../sim/world.js';

const WRITES = ['PutParameter', 'DeleteParameter', 'AddTagsToResource'];

interface StoredTls {
  format: number;
  caCertificate: string;
  certificate: string;
  privateKey: string;
  notAfter: string;
}

describe('the cluster CA', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld({ seed: 31, boot: 'none', clusterSize: 1 });
  });
  afterEach(async () => world.close());

  test('two invocations racing to create it both end with the one stored CA, published as ca-certificate', async () => {
    const [a, b, c] = await Promise.all([loadClusterCa(world.deps), loadClusterCa(world.deps), loadClusterCa(world.deps)]);
    assert.equal(a.certificate.pem, b.certificate.pem);
    assert.equal(a.certificate.pem, c.certificate.pem);
    const stored = world.cloud.parameters.get(world.parameters.tlsCaName());
    assert.equal(stored.version, 1, 'created once');
    assert.equal(stored.type, 'SecureString');
    const record = JSON.parse(stored.value) as { format: number; certificate: string; privateKey: string; createdAt: string };
    assert.equal(record.format, 1);
    assert.equal(record.certificate, a.certificate.pem);
    assert.match(record.privateKey, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(!Number.isNaN(Date.parse(record.createdAt)));
    const published = world.cloud.parameters.get(world.parameters.tlsCaCertificateName());
    assert.equal(published.type, 'String', 'the CA certificate is public');
    assert.equal(published.value, a.certificate.pem);
    assert.ok(new X509Certificate(published.value).ca);
    // Loaded again: nothing more is written.
    const from = world.cloud.calls.length;
    await loadClusterCa(world.deps);
    assert.deepEqual(
      world.cloud.calls.slice(from).filter((call) => WRITES.includes(call.operation)),
      [],
    );
  });

  test("the Lambda's client certificate: CN elastic-etcd-lambda, one day, kept in memory, re-issued when due", async () => {
    const context = await prepareTls(world.deps);
    assert.ok(context !== undefined);
    const tls = context.deps.connection.tls;
    assert.ok(tls?.cert !== undefined && tls.key !== undefined);
    assert.equal(tls.ca, context.ca.certificate.pem);
    const facts = checkCertificate({
      certificate: { pem: String(tls.cert), source: 'lambda' },
      privateKey: { pem: String(tls.key), source: 'lambda key' },
      ca: context.ca.certificate,
      usage: 'client',
    });
    assert.equal(facts.commonName, 'elastic-etcd-lambda');
    const lifetimeHours = (facts.notAfter.getTime() - facts.notBefore.getTime()) / 3_600_000;
    assert.ok(lifetimeHours > 24 && lifetimeHours < 24.2, `one day (plus the clock-skew allowance), got ${lifetimeHours} h`);
    const config = world.config.tls!;
    assert.equal((await lambdaClientTls(context.ca, config)).cert, tls.cert, 'not due: the same certificate');
    const later = new Date(Date.now() + 20 * 3_600_000);
    const renewed = await lambdaClientTls(context.ca, config, later);
    assert.notEqual(renewed.cert, tls.cert, 'due after two thirds of its day: re-issued');
    assert.equal((await lambdaClientTls(context.ca, config, later)).cert, renewed.cert);
    // Nothing of it is stored.
    assert.ok(world.cloud.parameters.names().every((name) => !name.includes('lambda')));
  });

  test('a warm container reads the stored CA on each load, one read while it is the same; a replaced CA is used and published at once', async () => {
    const first = await loadClusterCa(world.deps);
    const from = world.cloud.calls.length;
    assert.equal((await loadClusterCa(world.deps)).certificate.pem, first.certificate.pem);
    assert.deepEqual(
      world.cloud.calls.slice(from).map((call) => [call.operation, call.params.Name]),
      [['GetParameter', world.parameters.tlsCaName()]],
    );
    // An operator replaces the CA: the next load uses the new one, never the one this container checked before.
    const made = await createCertificateAuthority({ clusterName: 'replaced' });
    const record = JSON.stringify({ format: 1, ...made, createdAt: new Date().toISOString() });
    await world.deps.parameters.put(world.parameters.tlsCaName(), record, { secure: true });
    const replaced = await loadClusterCa(world.deps);
    assert.equal(replaced.certificate.pem, made.certificate);
    assert.equal(world.cloud.parameters.value(world.parameters.tlsCaCertificateName()), made.certificate);
    // And one that cannot be used any more is refused, not served from memory.
    await world.deps.parameters.put(world.parameters.tlsCaName(), '{"format":1}', { secure: true });
    await assert.rejects(loadClusterCa(world.deps), /tls\/ca/);
  });

  test('plain HTTP: no CA, no client certificate, http URLs', async () => {
    const plain = await startWorld({ seed: 32, boot: 'none', clusterSize: 1, tls: false });
    try {
      assert.equal(await prepareTls(plain.deps), undefined);
      await plain.scaleTo(1);
      await plain.runUntilQuiet({ reconcile: 'never' });
      const [id] = plain.inService();
      const dropin = parseDropin(plain.cloud.parameters.value(plain.parameters.instanceName(id!, 'dropin'))!).settings;
      assert.match(dropin.ETCD_LISTEN_CLIENT_URLS ?? '', /^http:\/\//);
      assert.equal(dropin.ETCD_CERT_FILE, undefined);
      assert.deepEqual(
        plain.cloud.parameters.names().filter((n) => n.includes('/tls')),
        [],
      );
    } finally {
      await plain.close();
    }
  });
});

describe('a launch on TLS', () => {
  let world: World;
  let id: string;
  before(async () => {
    world = await startWorld({ seed: 33, boot: 'none', clusterSize: 1 });
    await world.scaleTo(1);
    await world.runUntilQuiet({ reconcile: 'never' });
    [id] = world.inService() as [string];
  });
  after(async () => world.close());

  test("the group view has the instance's private DNS name from DescribeInstances", async () => {
    const group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
    const instance = world.instance(id);
    assert.equal(group.instances.get(id)?.privateDnsName, privateDnsName(instance));
    assert.match(group.instances.get(id)?.privateDnsName ?? '', /^ip-127-0-\d+-\d+\.ec2\.internal$/);
  });

  test('stores the member certificate (its IP and DNS name, SecureString, tagged) before the https drop-in', () => {
    const instance = world.instance(id);
    const tlsName = world.parameters.instanceName(id, 'tls');
    const stored = world.cloud.parameters.get(tlsName);
    assert.equal(stored.type, 'SecureString');
    assert.equal(world.cloud.parameters.tags(tlsName)?.[INSTANCE_ARN_TAG], instanceArn(world.group.region, world.group.account, id));
    assert.equal(world.cloud.parameters.tags(tlsName)?.[GROUP_TAG], world.group.name);
    const record = JSON.parse(stored.value) as StoredTls;
    assert.equal(record.format, 1);
    assert.equal(record.caCertificate, world.cloud.parameters.value(world.parameters.tlsCaCertificateName()));
    const facts = checkCertificate({
      certificate: { pem: record.certificate, source: 'member' },
      privateKey: { pem: record.privateKey, source: 'member key' },
      ca: { pem: record.caCertificate, source: 'ca' },
      usage: 'member',
      names: { ips: [instance.privateIp], dnsNames: [privateDnsName(instance)] },
    });
    assert.equal(facts.commonName, id);
    assert.equal(record.notAfter, facts.notAfter.toISOString());
    const days = (facts.notAfter.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `the configured 30 days, got ${days}`);

    const puts = world.cloud.callsOf('PutParameter').map((c) => c.params.Name);
    assert.ok(puts.indexOf(tlsName) >= 0 && puts.indexOf(tlsName) < puts.indexOf(world.parameters.instanceName(id, 'dropin')));
    const env = parseDropin(world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin'))!).settings;
    for (const key of [
      'ETCD_LISTEN_CLIENT_URLS',
      'ETCD_ADVERTISE_CLIENT_URLS',
      'ETCD_LISTEN_PEER_URLS',
      'ETCD_INITIAL_ADVERTISE_PEER_URLS',
    ]) {
      assert.equal(env[key]?.startsWith('https://'), true, key);
    }
    assert.match(env.ETCD_INITIAL_CLUSTER ?? '', /=https:\/\//);
    assert.equal(env.ETCD_CERT_FILE, '/etc/etcd/pki/member.crt');
    assert.equal(env.ETCD_KEY_FILE, '/etc/etcd/pki/member.key');
    assert.equal(env.ETCD_TRUSTED_CA_FILE, '/etc/etcd/pki/ca.crt');
    assert.equal(env.ETCD_PEER_CERT_FILE, '/etc/etcd/pki/member.crt');
    assert.equal(env.ETCD_CLIENT_CERT_AUTH, 'true');
    assert.equal(env.ETCD_PEER_CLIENT_CERT_AUTH, 'true');
  });

  test('the same launch again does no harm, and never leaves a drop-in without its tls', async () => {
    const tlsName = world.parameters.instanceName(id, 'tls');
    const dropin = world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin'));
    world.cloud.parameters.delete(tlsName); // lost (or written before TLS was on)
    const context = await prepareTls(world.deps);
    // The launch path for an instance that already has its drop-in: handled as a duplicate, tls written again.
    const { handleLaunch } = await import('../../src/lambda/launch.js');
    assert.equal(await handleLaunch({ instanceId: id, token: '' }, context!.deps, 'adopt'), 'duplicate');
    assert.ok(world.cloud.parameters.value(tlsName) !== undefined, 'the tls parameter is back');
    assert.equal(world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin')), dropin, 'the drop-in is unchanged');
  });
});

/** A CA record as stored, for the bad-input cases. */
async function caRecord(parts: { certificate?: string; privateKey?: string; now?: Date; validityDays?: number } = {}): Promise<string> {
  const made = await createCertificateAuthority({
    clusterName: 'sim',
    ...(parts.now !== undefined && { now: parts.now }),
    ...(parts.validityDays !== undefined && { validityDays: parts.validityDays }),
  });
  return JSON.stringify({
    format: 1,
    certificate: parts.certificate ?? made.certificate,
    privateKey: parts.privateKey ?? made.privateKey,
    createdAt: new Date().toISOString(),
  });
}

describe('a stored CA that cannot be used: the launch is abandoned, nothing is written', () => {
  const cases: { name: string; value: () => Promise<string>; error: RegExp }[] = [
    { name: 'not JSON', value: () => Promise.resolve('-----BEGIN CERTIFICATE-----'), error: /tls\/ca: does not hold JSON/ },
    {
      name: 'JSON without a key',
      value: () => Promise.resolve('{"format":1,"certificate":"x","createdAt":"now"}'),
      error: /tls\/ca: is not .*privateKey/,
    },
    {
      name: 'a certificate that is no certificate',
      value: async () => caRecord({ certificate: 'not a certificate' }),
      error: /tls\/ca \(certificate\): holds no PEM certificate/,
    },
    {
      name: 'an expired CA',
      value: async () => caRecord({ now: new Date(Date.now() - 3 * 86_400_000), validityDays: 1 }),
      error: /tls\/ca \(certificate\): expired at/,
    },
    {
      name: 'a key that is not the CA key',
      value: async () => caRecord({ privateKey: (await createCertificateAuthority({ clusterName: 'other' })).privateKey }),
      error: /tls\/ca \(privateKey\): is not the key of the CA certificate/,
    },
    {
      name: 'an RSA key',
      value: async () =>
        caRecord({
          privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        }),
      error: /tls\/ca \(privateKey\): is an RSA key; expected an ECDSA P-256 key/,
    },
    {
      name: 'a CA that expires before the member certificate would',
      value: async () => caRecord({ validityDays: 10 }),
      error: /tls\/ca \(certificate\): the CA expires at .* renew the CA first/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const world = await startWorld({ seed: 34, boot: 'none', clusterSize: 1 });
      try {
        await world.parameters.put(world.parameters.tlsCaName(), await c.value(), { secure: true });
        await world.scaleTo(1);
        const [pending] = world.idsIn('Pending:Wait');
        const from = world.cloud.calls.length;
        const delivery = await world.deliver();
        assert.deepEqual(delivery?.result, { kind: 'launch', outcome: 'abandon' });
        assert.deepEqual(world.completions(), [{ instanceId: pending, transition: 'launch', result: 'ABANDON' }]);
        const refusal = world.telemetry?.decisions().at(-1);
        assert.equal(refusal?.decision, 'refuse');
        assert.equal(refusal?.code, 'tls-unusable');
        assert.match(String(refusal?.reason), c.error);
        assert.match(String(refusal?.reason), /\/elastic-etcd\/sim\/tls\/ca/, 'names the parameter');
        assert.deepEqual(
          world.cloud.calls.slice(from).filter((call) => WRITES.includes(call.operation)),
          [],
          'nothing written: no CA certificate, no tls, no drop-in',
        );
        assert.equal(world.cloud.parameters.value(world.parameters.instanceName(pending!, 'dropin')), undefined);
        // The reconcile pass changes nothing either and says why.
        const pass = await world.reconcile();
        assert.match(String(pass.result?.outcome), /"deferred":\["tls: [^"]*tls\/ca/);
        assert.deepEqual(
          world.cloud.calls.slice(from).filter((call) => WRITES.includes(call.operation)),
          [],
        );
      } finally {
        await world.close();
      }
    });
  }
});

describe('checking a member certificate', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 35, boot: 'none', clusterSize: 1 });
  });
  after(async () => world.close());

  test('a certificate that does not name the instance (SAN mismatch) is found by checkCertificate and must be re-issued', async () => {
    const ca = await loadClusterCa(world.deps);
    const tls = world.config.tls!;
    const instance = { instanceId: 'i-00000000000000001', lifecycleState: 'InService', privateIp: '10.0.0.1', ec2State: 'running' };
    const issued = await issueMemberTls(ca, { ...instance, privateDnsName: 'ip-10-0-0-1.ec2.internal' }, tls);
    const input = { parameter: 'p', ca, usage: 'member' as const, commonName: instance.instanceId };
    assert.equal(renewalReason(issued, { ...input, names: { ips: ['10.0.0.1'], dnsNames: ['ip-10-0-0-1.ec2.internal'] } }, tls), undefined);
    assert.match(
      renewalReason(issued, { ...input, names: { ips: ['10.0.0.2'], dnsNames: [] } }, tls) ?? '',
      /cannot be used: p \(certificate\): does not name IP 10\.0\.0\.2 \(it names IP 10\.0\.0\.1, DNS ip-10-0-0-1\.ec2\.internal\)/,
    );
    assert.match(renewalReason('{"format":1}', { ...input }, tls) ?? '', /cannot be used: p: is not a certificate record/);
    assert.equal(renewalReason(undefined, input, tls), 'it has no certificate yet');
    assert.match(renewalReason(issued, { ...input, commonName: 'i-0ffff' }, tls) ?? '', /names "i-00000000000000001", not "i-0ffff"/);
  });

  test('a DNS name that is no DNS name: a clear error naming the instance, nothing issued', async () => {
    const ca = await loadClusterCa(world.deps);
    const instance = { instanceId: 'i-00000000000000001', lifecycleState: 'Pending:Wait', privateIp: '10.0.0.1', ec2State: 'running' };
    await assert.rejects(
      issueMemberTls(ca, { ...instance, privateDnsName: 'bad name' }, world.config.tls!),
      /"bad name" is not a DNS name/,
    );
  });
});
