// Where a TLS launch's extra time goes (issue 16), piece by piece, in a warm container as Lambda reuses one: the
// CA load, the member certificate a launch issues, the Lambda's own certificate (issued once a day), one etcd
// request on a new TLS connection against one on the shared kept-alive connection (plain HTTP alongside), and an
// etcd member's own start with and without TLS (harness, one member).
import { performance } from 'node:perf_hooks';
import { EtcdClient } from '../src/adapters/etcd/index.js';
import { loadGroup } from '../src/lambda/group.js';
import { issueMemberTls, lambdaClientTls, loadClusterCa } from '../src/lambda/tls.js';
import { clientFor, type EtcdConnection } from '../src/services/connection.js';
import { startCluster } from '../test/harness/index.js';
import type { World } from '../test/sim/world.js';
import { figure, type Figure } from './stats.js';

async function samples(runs: number, sample: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await sample();
    out.push(performance.now() - started);
  }
  return out;
}

/** One member list from `endpoint`: on a client of its own (a new connection each time) or a shared one. */
async function requestCosts(world: World, connection: EtcdConnection, runs: number, mode: string, figures: Figure[]): Promise<void> {
  const endpoint = world.clientURL(world.inService()[0] ?? '');
  const own = await samples(runs, async () => {
    const client = new EtcdClient({ endpoints: [endpoint], ...(connection.tls !== undefined && { tls: connection.tls }) });
    try {
      await client.memberListAt(endpoint);
    } finally {
      client.close();
    }
  });
  await clientFor([endpoint], connection).memberListAt(endpoint); // the shared connection exists from here on
  const pooled = await samples(runs, async () => {
    const client = clientFor([endpoint], connection);
    try {
      await client.memberListAt(endpoint);
    } finally {
      client.close();
    }
  });
  figures.push(figure(`tls.parts.${mode}.newConnection`, `TLS piece: one etcd request, new connection, ${mode}`, 'ms', own));
  figures.push(figure(`tls.parts.${mode}.pooled`, `TLS piece: one etcd request, shared kept-alive connection, ${mode}`, 'ms', pooled));
}

/** The pieces, measured in `tlsWorld` (and `plainWorld` for the requests). */
export async function benchTlsParts(plainWorld: World, tlsWorld: World, runs: number, figures: Figure[]): Promise<void> {
  const tls = tlsWorld.config.tls;
  if (tls === undefined) throw new Error('the TLS world runs plain HTTP');
  const deps = tlsWorld.deps;
  await loadClusterCa(deps);
  figures.push(
    figure(
      'tls.parts.ca',
      'TLS piece: load the CA (one SSM read; parsed and checked only when it changed)',
      'ms',
      await samples(runs, () => loadClusterCa(deps)),
    ),
  );
  const ca = await loadClusterCa(deps);
  const [instance] = (await loadGroup(tlsWorld.config.autoScalingGroup, deps.autoScaling, deps.ec2)).instances.values();
  if (instance === undefined) throw new Error('the TLS world has no instance');
  figures.push(
    figure(
      'tls.parts.member',
      'TLS piece: issue and check a member certificate (key, signature, check)',
      'ms',
      await samples(runs, () => issueMemberTls(ca, instance, tls)),
    ),
  );
  figures.push(
    figure(
      'tls.parts.lambdaClient',
      "TLS piece: issue the Lambda's client certificate (once a day per container)",
      'ms',
      // A fraction this small makes it due at once, so each sample issues one.
      await samples(runs, () => lambdaClientTls(ca, { ...tls, renewAtFraction: Number.MIN_VALUE })),
    ),
  );
  await lambdaClientTls(ca, tls);
  await requestCosts(plainWorld, await plainWorld.connection(), runs, 'plain', figures);
  await requestCosts(tlsWorld, await tlsWorld.connection(), runs, 'mutual TLS', figures);
  for (const secure of [false, true]) {
    const starts: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const cluster = await startCluster({ size: 1, tls: secure });
      starts.push(performance.now() - started);
      await cluster.close();
    }
    figures.push(
      figure(
        `tls.parts.etcdStart.${secure ? 'tls' : 'plain'}`,
        `TLS piece: etcd start to ready, one member, ${secure ? 'mutual TLS (its certificates made first)' : 'plain'}`,
        'ms',
        starts,
      ),
    );
  }
}
