// Snapshot throughput: elastic-etcd's streamed, verified snapshot (services/snapshot.ts, to a file) against
// `etcdctl snapshot save` on the same database in the same run. The database is filled to about `mb` MB first.
import { mkdtempSync, rmSync, statSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openSnapshot } from '../src/services/snapshot.js';
import { silentLogger } from '../src/services/log.js';
import { etcdctl, startCluster } from '../test/harness/index.js';
import { figure, type Figure } from './stats.js';

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
    const ours: number[] = [];
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
      await pipeline(snapshot.bytes, createWriteStream(file));
      size = (await snapshot.manifest).size;
      ours.push(performance.now() - started);
      const reference = join(dir, `etcdctl-${r}.db`);
      started = performance.now();
      const result = await etcdctl([url], ['snapshot', 'save', reference], { timeoutMs: 300_000 });
      if (result.exitCode !== 0) throw new Error(`etcdctl snapshot save failed: ${result.stderr}`);
      theirs.push(performance.now() - started);
      progress(
        `snapshot ${r + 1}/${runs}: ours ${ours.at(-1)!.toFixed(0)} ms, etcdctl ${theirs.at(-1)!.toFixed(0)} ms (${statSync(reference).size} bytes)`,
      );
      rmSync(file);
      rmSync(reference);
    }
    const mbps = (ms: number) => size / 1024 / 1024 / (ms / 1000);
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const note = `${(size / 1024 / 1024).toFixed(1)} MB: ${mbps(med(ours)).toFixed(1)} MB/s vs etcdctl ${mbps(med(theirs)).toFixed(1)} MB/s (ratio ${(mbps(med(ours)) / mbps(med(theirs))).toFixed(2)})`;
    figures.push(figure('snapshot.oursMs', 'snapshot to a file, elastic-etcd (streamed, verified)', 'ms', ours, note));
    figures.push(figure('snapshot.etcdctlMs', 'snapshot to a file, etcdctl snapshot save (reference)', 'ms', theirs));
    figures.push(figure('snapshot.bytes', 'snapshot size', 'bytes', [size]));
  } finally {
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
