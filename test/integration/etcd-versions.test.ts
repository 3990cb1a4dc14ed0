// What differs (and what does not) between etcd 3.4 and 3.5, on the real binary of the version ETCD_VERSION
// selects (npm test runs this file on both): the version the cluster reports and what the client decides from
// it, member lists with and without a leader, the ~5 s refusal after a member restarts, isLearner in status,
// snapshot restore with the version's own tool, and the v2 API being off (but on for discovery's backing etcd).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ETCD_VERSION as STACK_ETCD_VERSION } from '../../infra/etcd-releases.js';
import { EtcdClient, isEtcdError, supportsLinearizableMemberList } from '../../src/adapters/etcd/index.js';
import { silentLogger } from '../../src/services/log.js';
import { observeForPlanning } from '../../src/services/observe.js';
import {
  createCluster,
  etcdServerVersion,
  peerURLOf,
  pollUntil,
  readStatus,
  restoreSnapshot,
  saveSnapshot,
  selectedEtcdVersion,
  startCluster,
  tryJson,
} from '../harness/index.js';

const version = selectedEtcdVersion();
const connection = { requestTimeoutMs: 1500, healthTimeoutMs: 1500 };

test('the release the stack installs by default is the etcd 3.5 these tests run', () => {
  assert.equal(STACK_ETCD_VERSION, etcdServerVersion('3.5'));
});

async function retryWhileUnhealthy<T>(fn: () => Promise<T>): Promise<T> {
  return pollUntil(
    async () => {
      try {
        return await fn();
      } catch (err) {
        if (isEtcdError(err, 'unhealthy-cluster')) return undefined;
        throw err;
      }
    },
    { timeoutMs: 20_000, intervalMs: 250, what: 'etcd to accept a membership change' },
  );
}

test(`etcd ${version}: versions, member lists, recent-change refusal, learners in status`, async (t) => {
  const cluster = await startCluster({ size: 3 });
  t.after(() => cluster.close());
  const [m1, m2, m3] = cluster.members;
  assert.ok(m1 && m2 && m3);
  const client = new EtcdClient({ endpoints: cluster.clientURLs, requestTimeoutMs: 2000 });
  t.after(() => client.close());

  await t.test('the cluster reports its version; linearizable member lists are used from 3.5 on', async () => {
    const reported = await client.getVersion();
    assert.equal(reported.server, etcdServerVersion(version));
    assert.equal(reported.cluster, `${version}.0`);
    assert.equal(supportsLinearizableMemberList(reported.cluster), version === '3.5');
  });

  await t.test('for about 5 s after a member restarts, etcd refuses membership changes (unhealthy cluster), then accepts', async () => {
    const leaderId = (await readStatus(m1.clientURL, 2000))?.leader;
    const follower = [m2, m3].find((m) => m.id !== leaderId) ?? m2;
    await follower.restart();
    const ip = await cluster.allocateIp();
    await assert.rejects(
      client.memberAdd([peerURLOf(ip)], { asLearner: true }),
      (err) => isEtcdError(err, 'unhealthy-cluster') && /unhealthy cluster/.test(err.etcdMessage ?? ''),
    );
    const added = await retryWhileUnhealthy(() => client.memberAdd([peerURLOf(ip)], { asLearner: true }));
    assert.equal(added.member.isLearner, true);
    await retryWhileUnhealthy(() => client.memberRemove(added.member.id));
  });

  await t.test('a started learner reports isLearner in its own status; voters do not', async () => {
    const ip = await cluster.allocateIp();
    const added = await retryWhileUnhealthy(() => client.memberAdd([peerURLOf(ip)], { asLearner: true }));
    const initialCluster = [...cluster.members.map((m) => `${m.name}=${m.peerURL}`), `m4=${peerURLOf(ip)}`].join(',');
    const m4 = await cluster.startMember({
      ip,
      settings: { ETCD_NAME: 'm4', ETCD_INITIAL_CLUSTER: initialCluster, ETCD_INITIAL_CLUSTER_STATE: 'existing' },
    });
    assert.equal((await client.statusAt(m4.clientURL)).isLearner, true);
    assert.equal((await client.statusAt(m1.clientURL)).isLearner, false);
    await m4.kill();
    await retryWhileUnhealthy(() => client.memberRemove(added.member.id));
  });

  await t.test('without a leader: each member still answers its own list; the list through the leader does so only on 3.4', async () => {
    m2.stop();
    m3.stop();
    t.after(() => {
      m2.resume();
      m3.resume();
    });
    // Until m1 notices the leader is gone (election timeout), it may still name one.
    await pollUntil(async () => ((await readStatus(m1.clientURL, 1000))?.leader === 0n ? true : undefined), {
      timeoutMs: 15_000,
      what: 'm1 to lose its leader',
    });
    const own = await client.memberListAt(m1.clientURL, { timeoutMs: 2000 });
    assert.equal(own.members.length, 3);

    const survivor = new EtcdClient({ endpoints: [m1.clientURL], requestTimeoutMs: 2000, deadlineMs: 2000 });
    t.after(() => survivor.close());
    if (version === '3.5') {
      await assert.rejects(survivor.memberList(), (err) => isEtcdError(err, 'timeout') || isEtcdError(err, 'unavailable'));
    } else {
      assert.equal((await survivor.memberList()).members.length, 3, '3.4 serves the list from the local view');
    }

    // The observation sees the members (and that there is no quorum), whatever the version.
    const observed = await observeForPlanning(survivor, connection, silentLogger);
    assert.equal(observed.kind, 'reachable');
    if (observed.kind === 'reachable') {
      assert.equal(observed.members.length, 3);
      assert.ok(
        [...observed.health.values()].every((h) => h === 'unreachable'),
        'no member is healthy without a leader',
      );
    }
    // A change is decided only on a list through the leader: on 3.5 there is none to be had.
    if (version === '3.5') {
      await assert.rejects(
        observeForPlanning(survivor, connection, silentLogger, undefined, { forChange: true }),
        (err) => isEtcdError(err, 'unavailable') && /no membership change/.test(err.message),
      );
    }
  });
});

test(`etcd ${version}: a snapshot restores with the version's own tool (etcdctl on 3.4, etcdutl on 3.5)`, async (t) => {
  const cluster = await startCluster({ size: 1 });
  t.after(() => cluster.close());
  const m1 = cluster.members[0]!;
  const client = new EtcdClient({ endpoints: [m1.clientURL] });
  t.after(() => client.close());
  await client.putIfAbsent('/versions/snapshot', 'kept');
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-snapshot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'snapshot.db');
  assert.ok((await saveSnapshot(m1.clientURL, file)) > 0);

  const ip = await cluster.allocateIp();
  const dataDir = join(dir, 'restored');
  const { server } = await client.getVersion();
  const restored = await restoreSnapshot(server, file, { name: 'r1', peerURL: peerURLOf(ip), dataDir, token: 'restored' });
  assert.match(restored.tool, version === '3.5' ? /etcdutl$/ : /etcdctl$/);
  const r1 = await cluster.startMember({
    ip,
    settings: { ETCD_NAME: 'r1', ETCD_DATA_DIR: dataDir, ETCD_INITIAL_CLUSTER: `r1=${peerURLOf(ip)}` },
  });
  const fromRestored = new EtcdClient({ endpoints: [r1.clientURL] });
  t.after(() => fromRestored.close());
  assert.equal((await fromRestored.get('/versions/snapshot'))?.value, 'kept');
});

test(`etcd ${version}: the v2 API is off unless enabled; discovery's backing etcd enables it`, async (t) => {
  const cluster = createCluster();
  t.after(() => cluster.close());
  const ip = await cluster.allocateIp();
  const plain = await cluster.startMember({ ip, settings: { ETCD_NAME: 'plain', ETCD_INITIAL_CLUSTER: `plain=${peerURLOf(ip)}` } });
  const v2 = await fetch(`${plain.clientURL}/v2/keys`, { signal: AbortSignal.timeout(2000) });
  assert.equal(v2.status, 404);
  assert.equal((await fetch(`${plain.clientURL}/v2/members`, { signal: AbortSignal.timeout(2000) })).status, 404);

  const discovery = await cluster.startDiscoveryService();
  const keys = (await tryJson(`${discovery.backing.clientURL}/v2/keys`, { timeoutMs: 2000 })) as { action?: string } | undefined;
  assert.equal(keys?.action, 'get');
  assert.match(await discovery.newDiscoveryURL(3), /^http:\/\//);
});
