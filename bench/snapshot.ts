// Snapshot throughput: elastic-etcd's streamed, verified snapshot (services/snapshot.ts, to a file) against
// `etcdctl snapshot save` on the same database in the same run, as MiB/s and a ratio. Files are written as the
// CLI's `snapshot --to FILE` writes them. The database is filled with `mb` MiB of values first (the snapshot
// file is somewhat larger: bbolt pages and free space).
import { mkdtempSync, rmSync, statSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EtcdClient, SnapshotDigest } from '../src/adapters/etcd/index.js';
import { openSnapshot, SNAPSHOT_BUFFER_BYTES } from '../src/services/snapshot.js';
import { silentLogger } from '../src/services/log.js';
import { etcdctl, startCluster } from '../test/harness/index.js';
import { figure, median, type Figure } from './stats.js';

const VALUE_BYTES = 512 * 1024;

export async function benchSnapshot(runs: number, mb: number, figures: Figure[], progress: (m: string) => void): Promise<void> {
  const cluster = await startCluster({ size: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-bench-snapshot-'));
  try {
    const url = cluster.clientURLs[0]!;
    const value = Buffer.alloc(VALUE_BYTES, 'x').toString('base64');
    const count = Math.ceil((mb * 1024 * 1024) / VALUE_BYTES);
    for (let i = 0; i < count; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, count - i) }, async (_, j) => {
          const key = Buffer.from(`/bench/${i + j}`).toString('base64');
          const res = await fetch(`${url}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key, value }) });
          if (!res.ok) throw new Error(`put answered ${res.status}`);
          await res.arrayBuffer();
        }),
      );
    }
    progress(`snapshot: filled ${count} × ${VALUE_BYTES / 1024} KiB`);
    // Interleaved, so a busy machine slows all three alike: the product's path (gRPC), the same through the JSON
    // gateway (its fallback, and the only path before gRPC), and etcdctl as the reference.
    const ours: number[] = [];
    const gateway: number[] = [];
    const theirs: number[] = [];
    let size = 0;
    for (let r = 0; r < runs; r++) {
      const file = join(dir, `ours-${r}.db`);
      let started = performance.now();
      const snapshot = await openSnapshot({
        endpoints: [url],
        connection: { requestTimeoutMs: 30_000, healthTimeoutMs: 2000 },
        log: silentLogger,
        idleTimeoutMs: 30_000,
      });
      await pipeline(snapshot.bytes, createWriteStream(file, { highWaterMark: SNAPSHOT_BUFFER_BYTES }));
      size = (await snapshot.manifest).size;
      ours.push(performance.now() - started);
      rmSync(file);

      started = performance.now();
      const client = new EtcdClient({ endpoints: [url] });
      try {
        const stream = await client.snapshotAt(url, { transport: 'gateway', idleTimeoutMs: 30_000 });
        const digest = new SnapshotDigest(true);
        await pipeline(stream.bytes, digest, createWriteStream(file, { highWaterMark: SNAPSHOT_BUFFER_BYTES }));
        if (digest.result()?.size !== size) throw new Error(`the gateway snapshot has ${String(digest.result()?.size)} bytes, not ${size}`);
      } finally {
        client.close();
      }
      gateway.push(performance.now() - started);
      rmSync(file);

      const reference = join(dir, `etcdctl-${r}.db`);
      started = performance.now();
      const result = await etcdctl([url], ['snapshot', 'save', reference], { timeoutMs: 300_000 });
      if (result.exitCode !== 0) throw new Error(`etcdctl snapshot save failed: ${result.stderr}`);
      theirs.push(performance.now() - started);
      progress(
        `snapshot ${r + 1}/${runs}: ours ${ours.at(-1)!.toFixed(0)} ms, via the gateway ${gateway.at(-1)!.toFixed(0)} ms, etcdctl ${theirs.at(-1)!.toFixed(0)} ms (${statSync(reference).size} bytes)`,
      );
      rmSync(reference);
    }
    const mibps = (samples: number[]) => size / 1024 / 1024 / (median(samples) / 1000);
    const ratio = mibps(theirs) / mibps(ours);
    const note =
      `${(size / 1024 / 1024).toFixed(1)} MiB: elastic-etcd ${mibps(ours).toFixed(1)} MiB/s, etcdctl ${mibps(theirs).toFixed(1)} MiB/s: ` +
      `etcdctl is ${ratio.toFixed(2)}x as fast (target: under 2x); through the JSON gateway ${mibps(gateway).toFixed(1)} MiB/s`;
    figures.push(figure('snapshot.oursMs', 'snapshot to a file, elastic-etcd (gRPC, verified)', 'ms', ours, note));
    figures.push(figure('snapshot.gatewayMs', 'snapshot to a file, elastic-etcd via the JSON gateway (fallback)', 'ms', gateway));
    figures.push(figure('snapshot.etcdctlMs', 'snapshot to a file, etcdctl snapshot save (reference)', 'ms', theirs));
    figures.push(figure('snapshot.bytes', 'snapshot size', 'bytes', [size]));
  } finally {
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
