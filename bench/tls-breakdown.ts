// Where a TLS launch's extra time goes, piece by piece (issue 16): `node --import tsx bench/tls-breakdown.ts`.
import { performance } from 'node:perf_hooks';
import { startCluster, readStatus } from '../test/harness/index.js';
import { startWorld } from '../test/sim/world.js';
import { loadClusterCa, lambdaClientTls, issueMemberTls } from '../src/lambda/tls.js';
import { EtcdClient } from '../src/adapters/etcd/index.js';
import { loadGroup } from '../src/lambda/group.js';
import { clientFor } from '../src/services/connection.js';
import { median } from './stats.js';

const RUNS = Number(process.env.RUNS ?? 9);
async function time(label: string, f: () => Promise<unknown>): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  process.stdout.write(`${label.padEnd(70)} ${median(ms).toFixed(2)} ms (min ${Math.min(...ms).toFixed(2)})\n`);
}

for (const tls of [false, true]) {
  const world = await startWorld({ clusterSize: 'unlimited', seed: 11, tls });
  try {
    await world.scaleTo(3);
    await world.settle({ timeoutMs: 60_000 });
    const mode = tls ? 'tls' : 'plain';
    const conn = { ...(await world.connection()), requestTimeoutMs: 3000, healthTimeoutMs: 2000 };
    const endpoints = world.inService().map((id) => world.clientURL(id));
    if (tls) {
      await time('tls: SSM get <root>/tls/ca (decrypt)', () => world.deps.parameters.get(world.deps.parameters.tlsCaName()));
      await time('tls: loadClusterCa (2 SSM gets + parse/verify)', () => loadClusterCa(world.deps));
      const ca = await loadClusterCa(world.deps);
      await time('tls: lambdaClientTls, cached', () => lambdaClientTls(ca, world.config.tls!));
      await time('tls: lambdaClientTls, issued (P-256 keygen + sign + check)', () =>
        lambdaClientTls(ca, { ...world.config.tls!, renewAtFraction: 1e-9 }),
      );
      const instance = (await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2)).instances
        .values()
        .next().value!;
      await time('tls: issueMemberTls (keygen + sign + check)', () => issueMemberTls(ca, instance, world.config.tls!));
    }
    await time(`${mode}: memberList, new client with agents of its own (new connection)`, async () => {
      const c = new EtcdClient({ endpoints, ...(conn.tls !== undefined && { tls: conn.tls }) });
      try {
        await c.memberListAt(endpoints[0]!);
      } finally {
        c.close();
      }
    });
    await time(`${mode}: memberList, new pooled client (clientFor: shared connection)`, async () => {
      const c = clientFor(endpoints, conn);
      try {
        await c.memberListAt(endpoints[0]!);
      } finally {
        c.close();
      }
    });
    const c = clientFor(endpoints, conn);
    await c.memberListAt(endpoints[0]!);
    await time(`${mode}: memberList, same client (kept-alive connection)`, () => c.memberListAt(endpoints[0]!));
    c.close();
    await time(`${mode}: status of 3 members in parallel, new client of its own`, async () => {
      const c = new EtcdClient({ endpoints, ...(conn.tls !== undefined && { tls: conn.tls }) });
      try {
        await Promise.all(endpoints.map((e) => c.statusAt(e)));
      } finally {
        c.close();
      }
    });
  } finally {
    await world.close();
  }
}

for (const tls of [false, true]) {
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const cluster = await startCluster({ size: 1, tls });
    ms.push(performance.now() - t);
    await cluster.close();
  }
  process.stdout.write(
    `${(tls ? 'tls' : 'plain') + ': 1-member etcd start to ready (harness, incl. certs)'.padEnd(70)} ${median(ms).toFixed(0)} ms\n`,
  );
}
void readStatus;
