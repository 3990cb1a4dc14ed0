// Snapshots streamed from real etcd: the adapter's stream, the service's verification, and the CLI command.
// The file is what `etcdctl snapshot status` (3.4) / `etcdutl snapshot status` (3.5) reads, with the revision the
// manifest names. Runs on both versions.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { main } from '../../src/cli/run.js';
import { realDependencies } from '../../src/cli/context.js';
import { openSnapshot } from '../../src/services/snapshot.js';
import { EtcdClient, SnapshotDigest } from '../../src/adapters/etcd/index.js';
import { silentLogger } from '../../src/services/log.js';
import { etcdctlOk, restoreTool, startCluster, type EtcdCluster } from '../harness/index.js';

const CONNECTION = { requestTimeoutMs: 2000, healthTimeoutMs: 1000 };

/** `snapshot status -w json` with the version's offline tool: {hash, revision, totalKey, totalSize}. */
function snapshotStatus(serverVersion: string, file: string): Promise<{ revision: number; totalKey: number; totalSize: number }> {
  const tool = restoreTool(serverVersion);
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')));
  return new Promise((resolve, reject) => {
    execFile(
      tool.bin,
      ['snapshot', 'status', file, '-w', 'json'],
      { env: { ...inherited, ...tool.env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`snapshot status failed: ${stderr}`, { cause: error }));
        else resolve(JSON.parse(stdout) as { revision: number; totalKey: number; totalSize: number });
      },
    );
  });
}

describe('snapshots from real etcd', () => {
  let cluster: EtcdCluster;
  let dir: string;
  let version: string;
  before(async () => {
    cluster = await startCluster({ size: 3 });
    dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-snapshot-'));
    for (let i = 0; i < 200; i++) await etcdctlOk(cluster.clientURLs, ['put', `/snap/${i}`, 'x'.repeat(500)]);
    version = ((await (await fetch(`${cluster.clientURLs[0]!}/version`)).json()) as { etcdserver: string }).etcdserver;
  });
  after(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the service streams a verified snapshot from a follower, with its manifest', async () => {
    const snapshot = await openSnapshot({ endpoints: cluster.clientURLs, connection: CONNECTION, log: silentLogger });
    assert.equal(snapshot.source.leader, false, 'a follower when there is one');
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of snapshot.bytes) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    const manifest = await snapshot.manifest;
    assert.equal(manifest.sha256, hash.digest('hex'));
    assert.equal(manifest.size, size);
    assert.equal(manifest.memberCount, 3);
    assert.equal(manifest.etcdVersion, version);
    assert.ok(BigInt(manifest.revision) >= 201n, `revision ${manifest.revision}`);
  });

  test('gRPC (the default) and the JSON gateway (its fallback) stream the same database, each with a good trailer', async () => {
    const client = new EtcdClient({ endpoints: [cluster.clientURLs[0]!] });
    try {
      const read = async (transport: 'grpc' | 'gateway') => {
        const stream = await client.snapshotAt(cluster.clientURLs[0]!, { transport });
        const digest = new SnapshotDigest(true);
        const file = join(dir, `${transport}.db`);
        await pipeline(stream.bytes, digest, (await import('node:fs')).createWriteStream(file));
        return { header: await stream.header, digest: digest.result()!, status: await snapshotStatus(version, file) };
      };
      const grpc = await read('grpc');
      const gateway = await read('gateway');
      assert.equal(grpc.digest.integrity, true);
      assert.equal(gateway.digest.integrity, true);
      assert.ok(grpc.status.totalKey >= 200, `keys ${grpc.status.totalKey}`);
      assert.equal(gateway.status.totalKey, grpc.status.totalKey);
      assert.equal(gateway.status.revision, grpc.status.revision);
    } finally {
      client.close();
    }
  });

  test('elastic-etcd snapshot --to FILE: a file the etcd tools read, at the manifest revision', async () => {
    const file = join(dir, 'cli.db');
    const stderr: string[] = [];
    const code = await main(
      ['snapshot', '--to', file, '--endpoints', cluster.clientURLs.join(',')],
      {},
      { stdout: () => undefined, stderr: (t) => stderr.push(t), selfCommand: [] },
      realDependencies,
    );
    assert.equal(code, 0, stderr.join(''));
    const status = await snapshotStatus(version, file);
    const logged = stderr.join('');
    assert.match(logged, /snapshot verified/);
    const revision = Number(/ revision=(\d+) /.exec(logged)?.[1]);
    assert.ok(revision >= 201 && revision <= status.revision, `manifest revision ${revision}, snapshot ${status.revision}`);
    assert.match(logged, new RegExp(createHash('sha256').update(readFileSync(file)).digest('hex')));
    assert.ok(status.totalKey >= 200, `keys ${status.totalKey}`);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('partial')),
      [],
      'no temporary file left',
    );
  });

  test('--to -: stdout carries exactly the snapshot bytes', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const stderr: string[] = [];
    const code = await main(
      ['snapshot', '--to', '-', '--endpoints', cluster.clientURLs[0]!],
      {},
      { stdout: () => undefined, stderr: (t) => stderr.push(t), selfCommand: [], stdoutBytes: out } as Parameters<typeof main>[2],
      realDependencies,
    );
    assert.equal(code, 0, stderr.join(''));
    const bytes = Buffer.concat(chunks);
    const logged = / sha256=([0-9a-f]{64}) /.exec(stderr.join(''));
    assert.equal(logged?.[1], createHash('sha256').update(bytes).digest('hex'));
    const file = join(dir, 'stdout.db');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, bytes));
    assert.ok((await snapshotStatus(version, file)).totalKey >= 200);
  });

  test('no member answers: a one-line error, exit 1, and no file', async () => {
    const file = join(dir, 'none.db');
    const stderr: string[] = [];
    const code = await main(
      ['snapshot', '--to', file, '--endpoints', 'http://127.0.0.1:9', '--command-timeout', '500ms'],
      {},
      { stdout: () => undefined, stderr: (t) => stderr.push(t), selfCommand: [] },
      realDependencies,
    );
    assert.equal(code, 1);
    assert.equal(stderr.join('').trim().split('\n').length, 1, stderr.join(''));
    assert.throws(() => statSync(file));
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('partial')),
      [],
    );
  });

  test('unknown flags and a missing --to are usage errors (exit 2)', async () => {
    for (const argv of [
      ['snapshot', '--bogus'],
      ['snapshot', '--endpoints', cluster.clientURLs[0]!],
    ]) {
      const stderr: string[] = [];
      const code = await main(argv, {}, { stdout: () => undefined, stderr: (t) => stderr.push(t), selfCommand: [] }, realDependencies);
      assert.equal(code, 2, `${argv.join(' ')}: ${stderr.join('')}`);
    }
  });
});

/** A sink that takes every byte, so a digest's output never holds the stream back. */
function devNull(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

describe('snapshots over gRPC from a cluster with mutual TLS, and from one with auth', () => {
  test('mutual TLS: the client certificate opens the gRPC stream', async (t) => {
    const cluster = await startCluster({ size: 1, tls: true });
    t.after(() => cluster.close());
    const url = cluster.clientURLs[0]!;
    assert.match(url, /^https:/);
    const client = new EtcdClient({ endpoints: [url], tls: cluster.tlsClient! });
    t.after(() => client.close());
    const stream = await client.snapshotAt(url, { transport: 'grpc' });
    const digest = new SnapshotDigest(true);
    await pipeline(stream.bytes, digest, devNull());
    assert.equal(digest.result()?.integrity, true);
    // Without a client certificate etcd refuses the handshake: an error, not a snapshot through the gateway.
    const anonymous = new EtcdClient({ endpoints: [url], tls: { ca: cluster.tlsClient!.ca } });
    t.after(() => anonymous.close());
    await assert.rejects(
      anonymous.snapshotAt(url).then((s) => pipeline(s.bytes, new SnapshotDigest(true), devNull())),
      (err: Error & { code?: string }) => err.code === 'unavailable',
    );
  });

  test('auth: the token goes with the gRPC call; without one etcd refuses it', async (t) => {
    const cluster = await startCluster({ size: 1 });
    t.after(() => cluster.close());
    const url = cluster.clientURLs[0]!;
    await etcdctlOk(cluster.clientURLs, ['user', 'add', 'root:secret-pw']);
    await etcdctlOk(cluster.clientURLs, ['auth', 'enable']);
    const root = new EtcdClient({ endpoints: [url], auth: { username: 'root', password: 'secret-pw' } });
    t.after(() => root.close());
    const stream = await root.snapshotAt(url, { transport: 'grpc' });
    const digest = new SnapshotDigest(true);
    await pipeline(stream.bytes, digest, devNull());
    assert.equal(digest.result()?.integrity, true);
    const anonymous = new EtcdClient({ endpoints: [url] });
    t.after(() => anonymous.close());
    await assert.rejects(
      anonymous.snapshotAt(url, { transport: 'grpc' }).then((s) => pipeline(s.bytes, new SnapshotDigest(true), devNull())),
      (err: Error & { code?: string }) => err.code === 'auth-required',
    );
  });

  test('a member that stops answering (SIGSTOP) is a timeout within the idle bound, not a hang or a fallback', async (t) => {
    const cluster = await startCluster({ size: 1 });
    t.after(() => cluster.close());
    const member = cluster.members[0]!;
    const client = new EtcdClient({ endpoints: cluster.clientURLs });
    t.after(() => client.close());
    member.stop();
    t.after(() => member.resume());
    await assert.rejects(client.snapshotAt(cluster.clientURLs[0]!, { idleTimeoutMs: 500 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'timeout', err.message);
      return true;
    });
  });
});
