// The Lambda on a TLS group (issue 16), end to end: real etcd members started from the certificates the handler
// issued into SSM, the simulated instances booting them as the boot script does.
//   - a launch gets a member certificate naming the instance's private IP and DNS name, served on both listeners;
//   - the deployed members refuse a client without a certificate and one with another CA's;
//   - the reconcile pass renews a certificate that is due; after the instances' refresh the members serve the new
//     one on new connections without a restart, with quorum kept throughout;
//   - a CA parameter that cannot be used: the launch is ABANDONed with an error naming it, and no drop-in written.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { checkCertificate, createCertificateAuthority, issueClientCertificate } from '../../src/adapters/pki/index.js';
import { CLIENT_PORT, PEER_PORT, httpsJson, servedCertificate } from '../harness/index.js';
import { privateDnsName } from '../sim/server.js';
import { startWorld, type World } from '../sim/world.js';
import { assertSettled, TIMEOUT } from '../sim/scenario.js';

interface StoredLeaf {
  readonly caCertificate: string;
  readonly certificate: string;
  readonly privateKey: string;
  readonly notAfter: string;
}

function storedLeaf(world: World, instanceId: string): StoredLeaf {
  const raw = world.cloud.parameters.value(world.tlsParameterName(instanceId));
  assert.ok(raw !== undefined, `${instanceId} has a tls parameter`);
  return JSON.parse(raw) as StoredLeaf;
}

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

describe('the Lambda on a TLS group', TIMEOUT, () => {
  let world: World;

  before(async () => {
    world = await startWorld({ seed: 1602, clusterSize: 3 });
    assert.ok(world.config.tls !== undefined, 'TLS is the default');
    assertSettled((await world.bootstrap(3)).problems);
    await world.put('/tls/before', 'kept');
  });
  after(() => world?.close());

  test('each launch got a member certificate naming its IP and DNS name, served on the client and the peer listener', async () => {
    for (const id of world.inService()) {
      const instance = world.instance(id);
      const leaf = storedLeaf(world, id);
      const dns = privateDnsName(instance);
      const facts = checkCertificate({
        certificate: { pem: leaf.certificate, source: id },
        privateKey: { pem: leaf.privateKey, source: `${id} key` },
        ca: { pem: leaf.caCertificate, source: 'stored CA' },
        usage: 'member',
      });
      assert.deepEqual(facts.names, { ips: [instance.privateIp], dnsNames: [dns] });
      assert.equal(world.cloud.parameters.value(`${world.parameters.root}/tls/ca-certificate`), leaf.caCertificate);
      const client = (await world.clientTls())!;
      for (const port of [CLIENT_PORT, PEER_PORT]) {
        const served = await servedCertificate(instance.privateIp, port, client);
        assert.equal(served.serialNumber, serialOf(leaf.certificate), `${id} serves its certificate on port ${port}`);
        assert.match(served.subjectAltName, new RegExp(`DNS:${dns.replaceAll('.', '\\.')}`));
      }
      const dropin = world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin')) ?? '';
      assert.doesNotMatch(dropin, /http:\/\//, 'no plain URL in the drop-in');
      assert.match(dropin, /ETCD_CLIENT_CERT_AUTH=true/);
      assert.match(dropin, /ETCD_PEER_CLIENT_CERT_AUTH=true/);
    }
  });

  test("the members refuse a client without a certificate and one with another CA's", async () => {
    const client = (await world.clientTls())!;
    const other = await createCertificateAuthority({ clusterName: 'intruder' });
    const foreign = await issueClientCertificate(
      { certificate: { pem: other.certificate, source: 'other CA' }, privateKey: { pem: other.privateKey, source: 'other CA key' } },
      { commonName: 'intruder' },
    );
    for (const url of world.endpoints()) {
      const status = `${url}/v3/maintenance/status`;
      assert.equal((await httpsJson(status, client, { body: {} })).ok, true, "the control: a client of the cluster's CA gets in");
      assert.equal((await httpsJson(status, { ca: client.ca }, { body: {} })).ok, false, `${url}: no client certificate, refused`);
      const outcome = await httpsJson(status, { ca: client.ca, cert: foreign.certificate, key: foreign.privateKey }, { body: {} });
      assert.equal(outcome.ok, false, `${url}: another CA's client certificate, refused`);
      const plain = await fetch(status.replace('https://', 'http://'), { method: 'POST', body: '{}' }).then(
        (r) => r.status,
        () => 'refused',
      );
      assert.notEqual(plain, 200, `${url}: plain HTTP gets nothing`);
    }
  });

  test('the reconcile pass renews certificates that are due; the members serve the new ones without a restart, quorum kept', async () => {
    const ids = world.inService();
    const before = Object.fromEntries(ids.map((id) => [id, serialOf(storedLeaf(world, id).certificate)]));
    const pids = Object.fromEntries(ids.map((id) => [id, world.etcdOf(id)!.pid]));
    await world.reconcile();
    assert.deepEqual(
      Object.fromEntries(ids.map((id) => [id, serialOf(storedLeaf(world, id).certificate)])),
      before,
      'nothing is due yet: nothing re-issued',
    );

    world.setTlsRenewAt(0.0000001); // every certificate is past this fraction of its lifetime
    const delivery = await world.reconcile();
    assert.equal(delivery.error, undefined, delivery.error?.message);
    const renewed = Object.fromEntries(ids.map((id) => [id, serialOf(storedLeaf(world, id).certificate)]));
    for (const id of ids) assert.notEqual(renewed[id], before[id], `${id}'s certificate was re-issued`);

    assert.deepEqual((await world.refreshTls()).sort(), [...ids].sort(), 'every instance rewrote its files');
    const client = (await world.clientTls())!;
    for (const id of ids) {
      const ip = world.instance(id).privateIp;
      assert.equal((await servedCertificate(ip, CLIENT_PORT, client)).serialNumber, renewed[id], `${id}'s client listener`);
      assert.equal((await servedCertificate(ip, PEER_PORT, client)).serialNumber, renewed[id], `${id}'s peer listener`);
      assert.equal(world.etcdOf(id)!.pid, pids[id], `${id}'s etcd was not restarted`);
    }
    // Quorum kept: every member answers with a leader, and the cluster takes writes and keeps the old ones.
    await world.waitForHealthyMembers();
    await world.put('/tls/after', 'written');
    assert.equal(await world.get('/tls/before'), 'kept');
    assertSettled((await world.check()).problems);
  });
});

describe('a CA parameter that cannot be used', TIMEOUT, () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 1603, clusterSize: 3 });
  });
  after(() => world?.close());

  test('the launch is ABANDONed with an error naming the parameter, and no drop-in is written', async () => {
    const name = world.caParameterName();
    world.cloud.parameters.put(
      name,
      JSON.stringify({ format: 1, certificate: 'not a PEM', privateKey: 'nor this', createdAt: 'now' }),
      false,
      undefined,
      {
        type: 'SecureString',
      },
    );
    await world.scaleTo(1);
    const [id] = world.group.instances().map((i) => i.id) as [string];
    const delivery = await world.deliver();
    assert.equal(delivery?.error, undefined, delivery?.error?.message);
    assert.deepEqual(delivery?.result, { kind: 'launch', outcome: 'abandon' });
    assert.ok(
      world.completions().some((c) => c.instanceId === id && c.result === 'ABANDON'),
      'the launch was completed with ABANDON',
    );
    const errors = world.telemetry!.logs.filter((r) => r.level === 'ERROR' || r.level === 'WARN' || r.message === 'decision');
    assert.ok(
      errors.some((r) => JSON.stringify(r).includes(name)),
      `an error names ${name}: ${JSON.stringify(errors)}`,
    );
    assert.equal(world.cloud.parameters.value(world.parameters.instanceName(id, 'dropin')), undefined, 'no drop-in');
    assert.equal(world.cloud.parameters.value(world.tlsParameterName(id)), undefined, 'no certificate');
    assert.equal(world.etcdOf(id), undefined, 'no etcd started');
  });
});
