// Backups into S3 (the simulated cloud's S3, reached by the real @aws-sdk/client-s3 and lib-storage) from real
// etcd: a multipart upload of a snapshot larger than one part, its manifest, the newest snapshot found again and
// its bytes matching; a failed upload leaves no object and no manifest. Runs on both versions.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { BackupStore, MANIFEST_SUFFIX, type StoredManifest } from '../../src/adapters/aws/backups.js';
import { backUp } from '../../src/services/backup.js';
import { fetchVerifiedSnapshot, RestoreRefusedError, verifyStoredSnapshot } from '../../src/services/restore.js';
import { silentLogger } from '../../src/services/log.js';
import { etcdctlOk, restoreSnapshot, startCluster, type EtcdCluster } from '../harness/index.js';
import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { LogFields, Logger } from '../../src/services/log.js';
import { startSimulatedCloud, type SimulatedCloud } from '../sim/index.js';

const BUCKET = 'etcd-backups';
const CONNECTION = { requestTimeoutMs: 3000, healthTimeoutMs: 1000 };

describe('backups to S3', () => {
  let cloud: SimulatedCloud;
  let cluster: EtcdCluster;
  let store: BackupStore;
  before(async () => {
    [cloud, cluster] = await Promise.all([startSimulatedCloud(), startCluster({ size: 3 })]);
    cloud.s3.createBucket(BUCKET);
    const s3 = cloud.s3Client(2);
    store = new BackupStore(s3, { bucket: BUCKET, prefix: 'elastic-etcd/test' });
    // About 7 MiB of values: the snapshot needs two parts.
    const value = 'v'.repeat(100 * 1024);
    for (let i = 0; i < 70; i++) await etcdctlOk([cluster.clientURLs[i % 3]!], ['put', `/big/${i}`, value]);
  });
  after(async () => {
    await cluster?.close();
    await cloud?.close();
  });

  test('a snapshot larger than a part is stored by multipart upload, with its manifest written last', async () => {
    const stored = await backUp(store, { endpoints: cluster.clientURLs, connection: CONNECTION, log: silentLogger });
    const object = cloud.s3.object(BUCKET, stored.key);
    assert.ok(object !== undefined);
    assert.ok(object.body.length > 5 * 1024 * 1024, `size ${object.body.length}`);
    assert.equal(createHash('sha256').update(object.body).digest('hex'), stored.manifest.sha256);
    assert.equal(object.body.length, stored.manifest.size);
    const operations = cloud.s3.calls.filter((c) => c.error === undefined).map((c) => c.operation);
    assert.ok(operations.includes('CreateMultipartUpload') && operations.includes('CompleteMultipartUpload'));
    // The manifest comes after the upload completed (then the daily tier's copies, tested below).
    const manifestPut = cloud.s3.calls.findIndex((c) => c.operation === 'PutObject' && c.key === `${stored.key}${MANIFEST_SUFFIX}`);
    assert.ok(manifestPut > cloud.s3.calls.findIndex((c) => c.operation === 'CompleteMultipartUpload'), 'manifest after the upload');

    const latest = await store.latest();
    assert.deepEqual(latest, { key: stored.key, manifest: stored.manifest });
    const hash = createHash('sha256');
    for await (const chunk of await store.open(stored.key)) hash.update(chunk as Buffer);
    assert.equal(hash.digest('hex'), stored.manifest.sha256);
  });

  test('an upload that fails half way leaves no object, no pending upload and no manifest', async () => {
    const before = await store.list();
    const bytes = new Readable({ read() {} });
    bytes.push(Buffer.alloc(6 * 1024 * 1024, 1));
    setImmediate(() => bytes.destroy(new Error('the snapshot stream broke')));
    const manifest = new Promise<StoredManifest>((_resolve, reject) => bytes.on('error', reject));
    manifest.catch(() => undefined);
    const key = store.newKey(new Date(), 'broken');
    await assert.rejects(store.put(key, bytes, manifest), /failed/);
    assert.equal(cloud.s3.object(BUCKET, key), undefined);
    assert.deepEqual(cloud.s3.pendingUploads(BUCKET), []);
    assert.deepEqual(await store.list(), before);
  });

  test('S3 failing every part: the snapshot is not stored, and the newest good one is still the latest', async () => {
    const good = await store.latest();
    cloud.s3.failNext('UploadPart', 20);
    await assert.rejects(backUp(store, { endpoints: cluster.clientURLs, connection: CONNECTION, log: silentLogger }), /failed/);
    assert.deepEqual(cloud.s3.pendingUploads(BUCKET), []);
    assert.deepEqual(await store.latest(), good);
  });
});

describe('fetching a snapshot to restore from', () => {
  let cloud: SimulatedCloud;
  let cluster: EtcdCluster;
  let store: BackupStore;
  let good: Awaited<ReturnType<typeof backUp>>;
  let dir: string;
  before(async () => {
    [cloud, cluster] = await Promise.all([startSimulatedCloud(), startCluster({ size: 1 })]);
    cloud.s3.createBucket(BUCKET);
    store = new BackupStore(cloud.s3Client(1), { bucket: BUCKET, prefix: 'p' });
    await etcdctlOk(cluster.clientURLs, ['put', '/restore/me', 'yes']);
    good = await backUp(store, { endpoints: cluster.clientURLs, connection: CONNECTION, log: silentLogger });
    dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-fetch-'));
  });
  after(async () => {
    await cluster?.close();
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('latest: fetched, matching its manifest, for the expected cluster', async () => {
    const fetched = await fetchVerifiedSnapshot(store, { from: 'latest', to: join(dir, 'ok.db'), clusterId: good.manifest.clusterId });
    assert.equal(fetched.key, good.key);
    assert.equal(
      createHash('sha256')
        .update(readFileSync(join(dir, 'ok.db')))
        .digest('hex'),
      good.manifest.sha256,
    );
    // What the boot script does next: the version's tool restores it into a new data dir.
    await restoreSnapshot(good.manifest.etcdVersion, join(dir, 'ok.db'), {
      name: 'r1',
      peerURL: 'http://127.0.0.1:2380',
      dataDir: join(dir, 'r1.etcd'),
      token: 'restored-token',
    });
    assert.ok(readdirSync(join(dir, 'r1.etcd', 'member')).includes('snap'));
  });

  test('a flipped byte is refused, and no file is left', async () => {
    const body = Buffer.from(cloud.s3.object(BUCKET, good.key)!.body);
    body[100] = body[100]! ^ 0x01;
    const key = `${good.key.slice(0, -3)}-flipped.db`;
    cloud.s3.putRaw(BUCKET, key, body);
    cloud.s3.putRaw(BUCKET, `${key}${MANIFEST_SUFFIX}`, Buffer.from(JSON.stringify(good.manifest)));
    await assert.rejects(fetchVerifiedSnapshot(store, { from: key, to: join(dir, 'flipped.db') }), RestoreRefusedError);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('flipped')),
      [],
    );
  });

  test("another cluster's snapshot is refused", async () => {
    await assert.rejects(
      fetchVerifiedSnapshot(store, { from: good.key, to: join(dir, 'foreign.db'), clusterId: 'abcdef0123456789' }),
      /belongs to cluster/,
    );
    assert.throws(() => readFileSync(join(dir, 'foreign.db')));
  });

  test('a snapshot without a manifest (a half-finished upload) is never used', async () => {
    const key = `${good.key.slice(0, -3)}-unfinished.db`;
    cloud.s3.putRaw(BUCKET, key, cloud.s3.object(BUCKET, good.key)!.body);
    await assert.rejects(fetchVerifiedSnapshot(store, { from: key, to: join(dir, 'unfinished.db') }), /no manifest/);
    assert.equal((await store.latest())?.key.includes('unfinished'), false);
  });

  test('restore candidates: both tiers, newest takenAt first (not key order); a daily copy counts; verified without a file', async () => {
    const copy = (key: string, takenAt: string): string => {
      cloud.s3.putRaw(BUCKET, key, cloud.s3.object(BUCKET, good.key)!.body);
      cloud.s3.putRaw(BUCKET, `${key}${MANIFEST_SUFFIX}`, Buffer.from(JSON.stringify({ ...good.manifest, takenAt })));
      return key;
    };
    // The daily copy's key sorts before every frequent key, but it was taken last.
    const daily = copy('p/daily/00000000T000000.000Z-a.db', new Date(Date.now() + 60_000).toISOString());
    const older = copy('p/snapshots/99999999T000000.000Z-z.db', '2020-01-01T00:00:00.000Z');
    const keys = (await store.candidates()).map((c) => c.key);
    assert.equal(keys[0], daily);
    assert.equal(keys.at(-1), older);
    assert.ok(keys.includes(good.key));
    assert.ok(!keys.some((k) => k.includes('unfinished')), 'no manifest, no candidate');
    // latest() reads the manifests of the few newest keys only (a stamp is when a snapshot was taken), and orders
    // those by takenAt: the key that sorts last but was taken first is not the latest.
    const latest = await store.latest();
    assert.ok(latest !== undefined && latest.key !== older, `latest() is ${String(latest?.key)}`);
    await verifyStoredSnapshot(store, { key: daily, manifest: (await store.candidates())[0]!.manifest });
    const flipped = (await store.candidates()).find((c) => c.key.includes('flipped'));
    assert.ok(flipped !== undefined);
    await assert.rejects(verifyStoredSnapshot(store, flipped), RestoreRefusedError);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('daily')),
      [],
      'nothing written',
    );
  });
});

describe('the daily tier', () => {
  let cloud: SimulatedCloud;
  let cluster: EtcdCluster;
  let store: BackupStore;
  let s3: ReturnType<SimulatedCloud['s3Client']>;
  const warnings: string[] = [];
  const log: Logger = {
    ...silentLogger,
    warn: (message: string, fields?: LogFields) => warnings.push(`${message} ${JSON.stringify(fields)}`),
  };
  before(async () => {
    [cloud, cluster] = await Promise.all([startSimulatedCloud(), startCluster({ size: 1 })]);
    cloud.s3.createBucket(BUCKET);
    s3 = cloud.s3Client(2);
    store = new BackupStore(s3, { bucket: BUCKET, prefix: 'daily-test' });
    await etcdctlOk(cluster.clientURLs, ['put', '/k', 'v']);
  });
  after(async () => {
    await cluster?.close();
    await cloud?.close();
  });
  const backUpAt = (iso: string) => backUp(store, { endpoints: cluster.clientURLs, connection: CONNECTION, log, now: new Date(iso) });
  const dailyKeys = () => cloud.s3.keys(BUCKET).filter((k) => k.startsWith('daily-test/daily/'));

  test('the first snapshot of a UTC day is copied server-side, snapshot first and manifest second; later ones that day are not', async () => {
    const first = await backUpAt('2026-03-01T00:10:00.000Z');
    const name = first.key.slice(first.key.lastIndexOf('/') + 1);
    assert.deepEqual(dailyKeys(), [`daily-test/daily/${name}`, `daily-test/daily/${name}${MANIFEST_SUFFIX}`]);
    const copies = cloud.s3.calls.filter((c) => c.operation === 'CopyObject');
    assert.deepEqual(
      copies.map((c) => c.key),
      [`daily-test/daily/${name}`, `daily-test/daily/${name}${MANIFEST_SUFFIX}`],
    );
    assert.deepEqual(cloud.s3.object(BUCKET, `daily-test/daily/${name}`)?.body, cloud.s3.object(BUCKET, first.key)?.body);
    assert.deepEqual(await store.manifest(`daily-test/daily/${name}`), first.manifest);

    await backUpAt('2026-03-01T23:59:00.000Z');
    assert.equal(dailyKeys().length, 2, 'the day is covered');
    const next = await backUpAt('2026-03-02T00:00:01.000Z');
    assert.ok(dailyKeys().includes(`daily-test/daily/${next.key.slice(next.key.lastIndexOf('/') + 1)}`));
    assert.deepEqual(warnings, []);
  });

  test('a failed copy does not fail the backup; the next snapshot of that day copies it', async () => {
    cloud.s3.failNext('CopyObject', 2); // both attempts of the client
    const stored = await backUpAt('2026-03-05T08:00:00.000Z');
    assert.ok(cloud.s3.object(BUCKET, `${stored.key}${MANIFEST_SUFFIX}`), 'the snapshot itself is stored');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^daily snapshot copy failed .*InternalError|daily snapshot copy failed/);
    assert.ok(!dailyKeys().some((k) => k.includes('20260305T')));
    const later = await backUpAt('2026-03-05T08:30:00.000Z');
    assert.deepEqual(
      dailyKeys().filter((k) => k.includes('20260305T')),
      [
        `daily-test/daily/${later.key.slice(later.key.lastIndexOf('/') + 1)}`,
        `daily-test/daily/${later.key.slice(later.key.lastIndexOf('/') + 1)}${MANIFEST_SUFFIX}`,
      ],
    );
  });

  test('the simulated CopyObject copies a named version of a versioned object, and refuses a missing source', async () => {
    const first = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'versions/a b.txt', Body: 'one', Metadata: { mark: '1' } }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'versions/a b.txt', Body: 'two' }));
    const copied = await s3.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'versions/copy',
        CopySource: `${BUCKET}/versions/a%20b.txt?versionId=${first.VersionId ?? ''}`,
      }),
    );
    assert.equal(copied.CopySourceVersionId, first.VersionId);
    assert.equal(cloud.s3.object(BUCKET, 'versions/copy')?.body.toString(), 'one');
    assert.deepEqual(cloud.s3.object(BUCKET, 'versions/copy')?.metadata, { mark: '1' });
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'versions/current', CopySource: `${BUCKET}/versions/a%20b.txt` }));
    assert.equal(cloud.s3.object(BUCKET, 'versions/current')?.body.toString(), 'two');
    await assert.rejects(
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'versions/x', CopySource: `${BUCKET}/versions/missing` })),
      (err: Error) => err.name === 'NoSuchKey',
    );
  });
});
