// The rescue snapshot against real etcd (3.4 and 3.5) and the simulated S3 (real @aws-sdk/client-s3): a cluster
// of three loses two members after its last regular backup; the survivor, running without quorum, still answers
// Status and Snapshot from its own data, and the rescue stores its snapshot. Restored with the version's own
// tool (etcdctl 3.4, etcdutl 3.5) into a fresh single-member cluster, it holds every key, including those written
// after the regular backup. Refused, storing nothing, while the cluster has quorum and while a survivor is hung.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { BackupStore } from '../../src/adapters/aws/backups.js';
import { EtcdClient } from '../../src/adapters/etcd/index.js';
import { backUp } from '../../src/services/backup.js';
import type { Logger } from '../../src/services/log.js';
import { rescueSnapshot } from '../../src/services/rescue.js';
import { etcdctlOk, peerURLOf, pollUntil, restoreSnapshot, startCluster, type EtcdCluster } from '../harness/index.js';
import { startSimulatedCloud, type SimulatedCloud } from '../sim/index.js';

const BUCKET = 'etcd-backups';
const CONNECTION = { requestTimeoutMs: 3000, healthTimeoutMs: 1000 };

describe('the rescue snapshot of a survivor without quorum', () => {
  let cloud: SimulatedCloud;
  let cluster: EtcdCluster;
  let store: BackupStore;
  let dir: string;
  let regular: Awaited<ReturnType<typeof backUp>>;
  const logged: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const log: Logger = {
    debug: () => undefined,
    info: (message, fields = {}) => void logged.push({ level: 'info', message, fields }),
    warn: (message, fields = {}) => void logged.push({ level: 'warn', message, fields }),
    error: (message, fields = {}) => void logged.push({ level: 'error', message, fields }),
  };
  const written: string[] = [];
  const put = async (key: string): Promise<void> => {
    await etcdctlOk(cluster.clientURLs.slice(0, 2), ['put', key, `value of ${key}`]);
    written.push(key);
  };
  /** Every object in the bucket, by key: what "nothing stored" is checked against. */
  const objects = (): string[] => [...cloud.s3.keys(BUCKET)].sort();

  before(async () => {
    [cloud, cluster] = await Promise.all([startSimulatedCloud(), startCluster({ size: 3 })]);
    cloud.s3.createBucket(BUCKET);
    const s3 = cloud.s3Client(2);
    store = new BackupStore(s3, { bucket: BUCKET, prefix: 'elastic-etcd/rescue' });
    dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-rescue-'));
    for (let i = 0; i < 10; i++) await put(`/before/${i}`);
    regular = await backUp(store, { endpoints: cluster.clientURLs, connection: CONNECTION, log });
  });
  after(async () => {
    await cluster?.close();
    await cloud?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('a cluster with quorum is not rescued, and nothing is stored', async () => {
    const before = objects();
    const outcome = await rescueSnapshot(store, { endpoints: cluster.clientURLs, connection: CONNECTION, log });
    assert.equal(outcome.kind, 'refused');
    assert.equal(outcome.kind === 'refused' && outcome.reason, 'has-leader');
    assert.deepEqual(objects(), before);
  });

  test('with one survivor hung (SIGSTOP): refused, nothing stored, no upload left', async () => {
    for (let i = 0; i < 10; i++) await put(`/after/${i}`);
    await everyMemberApplied(cluster);
    const [m1, m2, m3] = cluster.members;
    await m3!.kill();
    m2!.stop();
    await withoutLeader(m1!.clientURL);
    const before = objects();
    const outcome = await rescueSnapshot(store, { endpoints: [m1!.clientURL, m2!.clientURL], connection: CONNECTION, log });
    assert.equal(outcome.kind, 'refused');
    assert.equal(outcome.kind === 'refused' && outcome.reason, 'survivor-silent');
    assert.match(outcome.kind === 'refused' ? outcome.detail : '', new RegExp(m2!.ip.replaceAll('.', '\\.')));
    assert.deepEqual(objects(), before);
    assert.deepEqual(cloud.s3.pendingUploads(BUCKET), []);
    assert.equal((await store.latest())?.key, regular.key);
  });

  test('two members killed: the survivor is snapshotted, and the restored snapshot holds every key', async () => {
    const [m1, m2] = cluster.members;
    await m2!.kill();
    const survivor = await statusOf(m1!.clientURL);
    assert.equal(survivor.leader, 0n, 'the survivor knows no leader');
    assert.deepEqual(survivor.errors, ['etcdserver: no leader']);

    const outcome = await rescueSnapshot(store, { endpoints: [m1!.clientURL], connection: CONNECTION, log });
    assert.equal(outcome.kind, 'stored', JSON.stringify(logged.at(-1)));
    if (outcome.kind !== 'stored') return;
    assert.equal(outcome.member.name, m1!.name);
    assert.equal(outcome.member.id, m1!.id!.toString(16));
    assert.equal(outcome.raftIndex, survivor.raftIndex);
    assert.equal(outcome.revision, survivor.revision);
    const { key, manifest } = outcome.snapshot;
    assert.match(key, /\/snapshots\/\d{8}T\d{6}\.\d{3}Z-rescue-[0-9a-f]{8}\.db$/);
    assert.equal(manifest.revision, String(survivor.revision));
    assert.ok(BigInt(manifest.revision) > BigInt(regular.manifest.revision), 'the rescue holds more than the regular backup');
    assert.equal(manifest.clusterId, regular.manifest.clusterId);
    assert.equal(manifest.memberCount, 3);
    assert.equal(createHash('sha256').update(cloud.s3.object(BUCKET, key)!.body).digest('hex'), manifest.sha256);
    assert.deepEqual(await store.latest(), outcome.snapshot, 'the rescue is the newest verified snapshot');
    assert.deepEqual(
      logged.filter((l) => l.message.startsWith('rescue')).map((l) => l.message),
      ['rescue refused', 'rescue refused', 'rescue: the most advanced survivor', 'rescue: taking a snapshot', 'rescue snapshot stored'],
    );

    // What an instance of the restore wave does: fetch, restore with the version's tool, start etcd on it.
    const file = join(dir, 'rescue.db');
    await pipeline(await store.open(key), createWriteStream(file));
    const ip = await cluster.allocateIp();
    const dataDir = join(dir, 'restored.etcd');
    await restoreSnapshot(manifest.etcdVersion, file, { name: 'restored', peerURL: peerURLOf(ip), dataDir, token: 'rescued' });
    const restored = await cluster.startMember({ ip, flags: ['--name', 'restored', '--data-dir', dataDir] });
    const keys = (await etcdctlOk([restored.clientURL], ['get', '/', '--prefix', '--keys-only'])).split('\n').filter((line) => line !== '');
    assert.deepEqual(keys.sort(), [...written].sort());
    assert.ok(keys.includes('/after/9'));
    assert.equal((await etcdctlOk([restored.clientURL], ['get', '/after/9', '--print-value-only'])).trim(), 'value of /after/9');
  });

  test('run again: a second snapshot of the same revision, harmless', async () => {
    const first = await store.latest();
    const outcome = await rescueSnapshot(store, { endpoints: [cluster.members[0]!.clientURL], connection: CONNECTION, log });
    assert.equal(outcome.kind, 'stored');
    if (outcome.kind !== 'stored') return;
    assert.notEqual(outcome.snapshot.key, first?.key);
    assert.equal(outcome.snapshot.manifest.revision, first?.manifest.revision);
  });
});

async function statusOf(endpoint: string): Promise<Awaited<ReturnType<EtcdClient['statusAt']>>> {
  const client = new EtcdClient({ endpoints: [endpoint] });
  try {
    return await client.statusAt(endpoint, { timeoutMs: 1000 });
  } finally {
    client.close();
  }
}

/** Until every member applied every committed entry: the survivor then holds every acknowledged write. */
async function everyMemberApplied(cluster: EtcdCluster): Promise<void> {
  await pollUntil(
    async () => {
      const all = await Promise.all(cluster.members.map((m) => statusOf(m.clientURL)));
      const top = all.reduce((m, s) => (s.raftIndex > m ? s.raftIndex : m), 0n);
      return all.every((s) => s.raftAppliedIndex === top) ? true : undefined;
    },
    { timeoutMs: 10_000, what: 'every member to apply every entry' },
  );
}

/** Until the member at `endpoint` answers and knows no leader (it lost quorum, or starts without one). */
async function withoutLeader(endpoint: string): Promise<void> {
  await pollUntil(async () => ((await statusOf(endpoint).catch(() => undefined))?.leader === 0n ? true : undefined), {
    timeoutMs: 15_000,
    what: `${endpoint} to answer without a leader`,
  });
}
