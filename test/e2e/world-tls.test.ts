// The simulated instances' TLS boot, against the contract of issue 16 rather than the Lambda: the test writes the
// CA, the instance's `tls` parameter and a drop-in asking for TLS itself (as the Lambda would), and checks that
// the instance boots etcd with the certificate in its own sandbox dir, that the world's own clients reach it
// with a client certificate issued from the stored CA, that the renewal step serves a new certificate without a
// restart, and that a drop-in asking for TLS without a usable `tls` parameter does not start etcd.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueMemberCertificate,
  type CertificateAndKey,
} from '../../src/adapters/pki/index.js';
import { CLIENT_PORT, PEER_PORT, httpsJson, pollUntil, servedCertificate } from '../harness/index.js';
import { startWorld, type World } from '../sim/world.js';
import { TIMEOUT } from '../sim/scenario.js';

const authority = (ca: CertificateAndKey) => ({
  certificate: { pem: ca.certificate, source: 'test CA' },
  privateKey: { pem: ca.privateKey, source: 'test CA key' },
});

/** What the Lambda writes for a one-member cluster, in the contract's shapes (drop-in last). */
async function admit(world: World, ca: CertificateAndKey, instanceId: string, options: { tls?: 'valid' | 'none' | 'foreign' } = {}) {
  const ip = world.instance(instanceId).privateIp;
  const store = world.cloud.parameters;
  const tags = { 'elastic-etcd:instance-arn': `arn:aws:ec2:${world.group.region}:${world.group.account}:instance/${instanceId}` };
  const signer = options.tls === 'foreign' ? await createCertificateAuthority({ clusterName: 'foreign' }) : ca;
  if ((options.tls ?? 'valid') !== 'none') {
    const member = await issueMemberCertificate(authority(signer), { name: instanceId, ips: [ip], dnsNames: ['ip.sim.internal'] });
    const value = {
      format: 1,
      caCertificate: ca.certificate,
      certificate: member.certificate,
      privateKey: member.privateKey,
      notAfter: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    };
    store.put(world.tlsParameterName(instanceId), JSON.stringify(value), false, tags, { type: 'SecureString' });
  }
  const pki = '/etc/etcd/pki';
  const settings = {
    ETCD_NAME: instanceId,
    ETCD_DATA_DIR: '/var/lib/etcd',
    ETCD_INITIAL_ADVERTISE_PEER_URLS: `https://${ip}:${PEER_PORT}`,
    ETCD_LISTEN_PEER_URLS: `https://${ip}:${PEER_PORT}`,
    ETCD_LISTEN_CLIENT_URLS: `https://${ip}:${CLIENT_PORT}`,
    ETCD_ADVERTISE_CLIENT_URLS: `https://${ip}:${CLIENT_PORT}`,
    ETCD_INITIAL_CLUSTER: `${instanceId}=https://${ip}:${PEER_PORT}`,
    ETCD_INITIAL_CLUSTER_STATE: 'new',
    ETCD_INITIAL_CLUSTER_TOKEN: `token-${instanceId}`,
    ETCD_CERT_FILE: `${pki}/member.crt`,
    ETCD_KEY_FILE: `${pki}/member.key`,
    ETCD_TRUSTED_CA_FILE: `${pki}/ca.crt`,
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_CERT_FILE: `${pki}/member.crt`,
    ETCD_PEER_KEY_FILE: `${pki}/member.key`,
    ETCD_PEER_TRUSTED_CA_FILE: `${pki}/ca.crt`,
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
  };
  const dropin = ['[Service]', ...Object.entries(settings).map(([k, v]) => `Environment="${k}=${v}"`), ''].join('\n');
  store.put(world.parameters.instanceName(instanceId, 'dropin'), dropin, false, tags);
}

describe('simulated instances boot TLS from their parameters', TIMEOUT, () => {
  let world: World;
  let ca: CertificateAndKey;

  before(async () => {
    world = await startWorld({ seed: 1601, clusterSize: 1, boot: 'etcd', bootWaitMs: 30_000 });
    ca = await createCertificateAuthority({ clusterName: 'sim' });
    const caValue = { format: 1, certificate: ca.certificate, privateKey: ca.privateKey, createdAt: new Date().toISOString() };
    world.cloud.parameters.put(world.caParameterName(), JSON.stringify(caValue), false, undefined, { type: 'SecureString' });
  });
  after(() => world.close());

  test('an instance writes its certificate into its own dir and etcd serves it; the world reaches it with a client certificate', async () => {
    await world.scaleTo(1);
    const [id] = world.group.instances().map((i) => i.id);
    assert.ok(id !== undefined);
    await admit(world, ca, id);
    const member = await world.waitForEtcd(id);
    const files = world.tlsFilesOf(id);
    assert.ok(files !== undefined, 'the boot wrote the certificate files');
    assert.ok(files.certFile.startsWith(member.workDir), "the files are in the member's own sandbox dir");
    assert.equal(member.settings.ETCD_CERT_FILE, files.certFile, "the drop-in's path is replaced by the sandbox file");
    assert.equal(member.settings.ETCD_PEER_TRUSTED_CA_FILE, files.caFile);
    assert.equal(statSync(files.keyFile).mode & 0o777, 0o600, 'the key is readable by its owner only');
    assert.equal(statSync(files.certFile.replace(/\/[^/]+$/, '')).mode & 0o777, 0o700);
    assert.match(member.clientURL, /^https:\/\//);

    const status = await pollUntil(
      async () => {
        const s = await world.status(id);
        return s !== undefined && s.leader !== 0n ? s : undefined;
      },
      { timeoutMs: 20_000, what: `etcd on ${id} over TLS` },
    );
    assert.equal(status.leader, status.memberId);
    // The world's etcdctl presents its own certificate from the stored CA (the instance is not in service:
    // nothing completed its launch, so it is named).
    const endpoint = [world.clientURL(id)];
    assert.equal((await world.etcdctl(['put', '/tls/key', 'value'], endpoint)).exitCode, 0);
    const read = async () => (await world.etcdctl(['get', '/tls/key', '--print-value-only'], endpoint)).stdout.trim();
    assert.equal(await read(), 'value');
    const { members } = await world.memberList(endpoint);
    assert.deepEqual(
      members.map((m) => m.clientURLs),
      [[world.clientURL(id)]],
    );

    const client = (await world.clientTls())!;
    const served = await servedCertificate(world.instance(id).privateIp, CLIENT_PORT, client);
    assert.match(served.subjectAltName, new RegExp(`IP Address:${world.instance(id).privateIp.replaceAll('.', '\\.')}`));

    // Refused: no client certificate, and one from another CA.
    const url = `${world.clientURL(id)}/v3/maintenance/status`;
    assert.equal((await httpsJson(url, client, { body: {} })).ok, true, "the control: the world's client gets in");
    assert.equal((await httpsJson(url, { ca: client.ca }, { body: {} })).ok, false, 'no client certificate: refused');
    const other = await createCertificateAuthority({ clusterName: 'other' });
    const foreign = await issueClientCertificate(authority(other), { commonName: 'intruder' });
    assert.equal((await httpsJson(url, { ca: client.ca, cert: foreign.certificate, key: foreign.privateKey }, { body: {} })).ok, false);

    // Renewal: a new certificate in the parameter; the refresh step rewrites the files and etcd serves it on new
    // connections, without a restart.
    const pid = member.pid;
    assert.deepEqual(await world.refreshTls(), [], 'nothing changed yet: nothing rewritten');
    const ip = world.instance(id).privateIp;
    const renewed = await issueMemberCertificate(authority(ca), { name: id, ips: [ip], dnsNames: ['ip.sim.internal'] });
    world.cloud.parameters.put(
      world.tlsParameterName(id),
      JSON.stringify({
        format: 1,
        caCertificate: ca.certificate,
        certificate: renewed.certificate,
        privateKey: renewed.privateKey,
        notAfter: new Date().toISOString(),
      }),
      true,
      undefined,
      { type: 'SecureString' },
    );
    assert.deepEqual(await world.refreshTls(), [id]);
    const newSerial = new X509Certificate(renewed.certificate).serialNumber;
    assert.equal((await servedCertificate(ip, CLIENT_PORT, client)).serialNumber, newSerial, 'the client listener serves the new one');
    assert.equal((await servedCertificate(ip, PEER_PORT, client)).serialNumber, newSerial, 'the peer listener serves the new one');
    assert.equal(member.pid, pid, 'etcd was not restarted');
    assert.equal(await read(), 'value');
  });

  test('a drop-in asking for TLS without its tls parameter, or with a certificate of another CA: the boot fails, etcd does not start', async () => {
    const known = world.group.instances().map((i) => i.id);
    await world.scaleTo(3);
    const fresh = world.group
      .instances()
      .map((i) => i.id)
      .filter((id) => !known.includes(id));
    assert.equal(fresh.length, 2);
    const [missing, foreign] = fresh as [string, string];
    await admit(world, ca, missing, { tls: 'none' });
    await admit(world, ca, foreign, { tls: 'foreign' });
    const failures = await pollUntil(() => Promise.resolve(world.bootFailures.length >= 2 ? world.bootFailures : undefined), {
      timeoutMs: 20_000,
      what: 'both boots to fail',
    });
    const reasonOf = (id: string) => failures.find((f) => f.instanceId === id)?.reason ?? '';
    assert.match(reasonOf(missing), /asks for TLS but there is no .*\/instances\/i-[0-9a-f]+\/tls: etcd not started/);
    assert.match(reasonOf(foreign), /was not issued by the CA in .*\/tls caCertificate: etcd not started/);
    assert.equal(world.etcdOf(missing), undefined);
    assert.equal(world.etcdOf(foreign), undefined);
  });
});
