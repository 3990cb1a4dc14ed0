// Mutual TLS against real etcd (ETCD_VERSION selects 3.4 or 3.5), certificates from our own CA code: a member
// joins as a learner and is promoted through the join service; clients without a certificate, with one from
// another CA, or with an expired one are refused; renewed certificate files are served on new connections
// without restarting etcd, on the client and on the peer listener; a CA added to the trusted CA file only
// after a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { EtcdClient } from '../../src/adapters/etcd/index.js';
import { renderEnv } from '../../src/core/render.js';
import type { Plan } from '../../src/core/types.js';
import type { EtcdConnection } from '../../src/services/connection.js';
import { runJoin } from '../../src/services/join.js';
import { silentLogger } from '../../src/services/log.js';
import { promoteWhenReady } from '../../src/services/promote.js';
import {
  CLIENT_PORT,
  etcdctl,
  etcdctlMemberList,
  httpsJson,
  peerURLOf,
  PEER_PORT,
  startCluster,
  TestPki,
  type EtcdCluster,
  type TlsPems,
} from '../harness/index.js';

const DAY = 86_400_000;

function envOf(plan: Plan): Record<string, string> {
  assert.ok(plan.kind !== 'refuse', plan.kind === 'refuse' ? plan.message : '');
  return Object.fromEntries(
    renderEnv(plan.settings)
      .trim()
      .split('\n')
      .map((line) => {
        const [key, ...rest] = line.split('=');
        return [key!, JSON.parse(rest.join('=')) as string];
      }),
  );
}

/** The serial number of the certificate a new TLS handshake with ip:port gets (the server's, as served now). */
async function servedSerial(ip: string, port: number, client: TlsPems): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port, ca: client.ca, cert: client.cert, key: client.key, servername: 'localhost' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.setTimeout(3000, () => socket.destroy(new Error(`no TLS handshake with ${ip}:${port}`)));
    socket.on('error', reject);
  });
}

function serialOf(file: string): string {
  return new X509Certificate(readFileSync(file)).serialNumber;
}

describe('etcd over mutual TLS', () => {
  let cluster: EtcdCluster;
  let client: TlsPems;
  let connection: EtcdConnection;
  let otherDir: string;
  let otherPki: TestPki;

  before(async () => {
    cluster = await startCluster({ size: 2, tls: true });
    client = cluster.tlsClient!;
    connection = { requestTimeoutMs: 2000, healthTimeoutMs: 1500, tls: client };
    otherDir = mkdtempSync(join(tmpdir(), 'elastic-etcd-other-ca-'));
    otherPki = await TestPki.create(otherDir, 'other');
  });
  after(async () => {
    await cluster.close();
    rmSync(otherDir, { recursive: true, force: true });
  });

  test('the members speak https on both listeners', async () => {
    for (const m of cluster.members) {
      assert.match(m.clientURL, /^https:\/\//);
      assert.match(m.peerURL, /^https:\/\//);
    }
    const list = await etcdctlMemberList(cluster.clientURLs, { tls: cluster.tlsClient! });
    assert.equal(list.members.length, 2);
    assert.ok(
      list.members.every((m) => m.peerURLs.every((u) => u.startsWith('https://')) && m.clientURLs.every((u) => u.startsWith('https://'))),
    );
  });

  test('a member joins as a learner and is promoted, all over mutual TLS', async () => {
    const ip = await cluster.allocateIp();
    const self = { name: 'n3', peerURLs: [peerURLOf(ip, 'https')] };
    const result = await runJoin({
      self,
      dataDir: 'n3.etcd',
      dataDirFresh: true,
      strategy: 'add',
      joinAs: 'learner',
      targetSize: 3,
      bootstrap: { kind: 'none' },
      endpoints: cluster.clientURLs,
      dryRun: false,
      connection,
      lockTimeoutMs: 10_000,
      holder: 'n3',
      log: silentLogger,
    });
    assert.equal(result.plan.kind, 'join');
    assert.ok(result.admitted !== undefined, 'the join service added the member');
    const env = envOf(result.plan);
    assert.match(env.ETCD_INITIAL_CLUSTER ?? '', /n3=https:\/\//);
    const started = await cluster.startMember({ ip, settings: env });
    assert.match(started.clientURL, /^https:/);
    const promoted = await promoteWhenReady({ self, endpoints: cluster.clientURLs, connection, timeoutMs: 60_000, log: silentLogger });
    assert.equal(promoted.outcome, 'promoted');
    const etcd = new EtcdClient({ endpoints: [started.clientURL], tls: client });
    try {
      const list = await etcd.memberList();
      assert.equal(list.members.length, 3);
      assert.ok(list.members.every((m) => !m.isLearner));
      assert.equal((await etcd.putIfAbsent('tls-key', 'v')).created, true);
    } finally {
      etcd.close();
    }
  });

  test('a client without a certificate, or with one from another CA, is refused', async () => {
    const url = `${cluster.members[0]!.clientURL}/v3/maintenance/status`;
    assert.equal((await httpsJson(url, client, { body: {} })).ok, true, 'the control: our own client gets in');
    const anonymous = await httpsJson(url, { ca: client.ca }, { body: {} });
    assert.equal(anonymous.ok, false, 'no client certificate: refused');
    const stranger = await otherPki.issueClient('stranger');
    const foreign = await httpsJson(url, { ca: client.ca, cert: stranger.cert, key: stranger.key }, { body: {} });
    assert.equal(foreign.ok, false, 'a certificate from another CA: refused');
    // The same through our adapter and through etcdctl.
    for (const tls of [{ ca: client.ca }, { ca: client.ca, cert: stranger.cert, key: stranger.key }]) {
      const etcd = new EtcdClient({ endpoints: cluster.clientURLs, tls, requestTimeoutMs: 1500, deadlineMs: 4000 });
      try {
        await assert.rejects(etcd.memberList());
      } finally {
        etcd.close();
      }
    }
    assert.notEqual(
      (
        await etcdctl(cluster.clientURLs, ['member', 'list'], {
          tls: { caFile: cluster.pki!.caFile, certFile: stranger.certFile, keyFile: stranger.keyFile },
        })
      ).exitCode,
      0,
    );
    // Plain HTTP to the TLS port gets nowhere either.
    const plain = await fetch(`http://${cluster.members[0]!.ip}:${CLIENT_PORT}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(2000),
    }).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
  });

  test('an expired client certificate is refused', async () => {
    const old = await cluster.pki!.issueClient('expired', { now: new Date(Date.now() - 3 * DAY), validityDays: 1 });
    const outcome = await httpsJson(`${cluster.members[0]!.clientURL}/v3/maintenance/status`, old, { body: {} });
    assert.equal(outcome.ok, false);
    assert.equal((await etcdctl(cluster.clientURLs, ['member', 'list'], { tls: old })).exitCode === 0, false);
  });

  test('renewed certificate files are served on new connections without a restart (client and peer listener)', async () => {
    const m1 = cluster.members[0]!;
    const files = m1.tls!.files;
    const pid = m1.pid;
    const before = serialOf(files.certFile);
    assert.equal(await servedSerial(m1.ip, CLIENT_PORT, client), before);
    assert.equal(await servedSerial(m1.ip, PEER_PORT, client), before);
    const renewed = await cluster.renewMemberCertificate(m1);
    assert.equal(renewed.certFile, files.certFile, 'same paths');
    const after = serialOf(files.certFile);
    assert.notEqual(after, before);
    assert.equal(await servedSerial(m1.ip, CLIENT_PORT, client), after, 'the client listener serves the new certificate');
    assert.equal(await servedSerial(m1.ip, PEER_PORT, client), after, 'the peer listener serves the new certificate');
    assert.equal(m1.pid, pid, 'etcd was not restarted');
    // The cluster still works across renewed peer certificates.
    const etcd = new EtcdClient({ endpoints: [m1.clientURL], tls: client });
    try {
      assert.equal((await etcd.putIfAbsent('after-renewal', 'v')).created, true);
      assert.equal((await etcd.memberList()).members.length, 3);
    } finally {
      etcd.close();
    }
  });

  test('a member whose renewed certificate is already expired is refused by clients that verify it', async () => {
    const m2 = cluster.members[1]!;
    await cluster.renewMemberCertificate(m2, { now: new Date(Date.now() - 3 * DAY), validityDays: 1 });
    const outcome = await httpsJson(`${m2.clientURL}/v3/maintenance/status`, client, { body: {} });
    assert.equal(outcome.ok, false);
    assert.match(outcome.ok ? '' : outcome.error.message, /expired/i);
    await cluster.renewMemberCertificate(m2); // put a good one back
    assert.equal((await httpsJson(`${m2.clientURL}/v3/maintenance/status`, client, { body: {} })).ok, true);
  });
  test('the trusted CA file is read at start only: a CA added to it is trusted after a restart, not before', async () => {
    const m1 = cluster.members[0]!;
    const second = await otherPki.issueClient('second-ca-client');
    const url = `${m1.clientURL}/v3/maintenance/status`;
    const asSecond = { ca: client.ca, cert: second.cert, key: second.key };
    assert.equal((await httpsJson(url, asSecond, { body: {} })).ok, false);
    appendFileSync(m1.tls!.files.caFile, otherPki.ca.certificate);
    assert.equal((await httpsJson(url, asSecond, { body: {} })).ok, false, 'not picked up while etcd runs');
    await m1.restart();
    assert.equal((await httpsJson(url, asSecond, { body: {} })).ok, true, 'trusted after a restart');
    assert.equal((await httpsJson(url, client, { body: {} })).ok, true, 'the first CA is still trusted');
  });
});
