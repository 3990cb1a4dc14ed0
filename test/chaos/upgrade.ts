// A rolling upgrade of the simulated group through the real handler, the way the stack's CloudFormation rolling
// update does it (infra/elastic-etcd-cluster.ts: MaxBatchSize 1, MinInstancesInService size - 1): for every old
// instance, the group terminates it (its member removed through the terminate hook) and launches its replacement
// on the new etcd, which joins as a learner and is promoted before its launch completes; only then does the next
// old instance go. A writer and the quorum monitor run throughout. Used by the e2e test and
// `npm run demo -- --upgrade`.
import { setTimeout as delay } from 'node:timers/promises';
import { tryJson } from '../harness/index.js';
import type { EtcdVersionName } from '../harness/versions.js';
import type { World } from '../sim/world.js';
import { QuorumMonitor, Writer, lostWrites, type JsonProbe } from './monitors.js';

export interface UpgradeResult {
  readonly violations: string[];
  readonly writes: { readonly attempted: number; readonly acknowledged: number; readonly lost: number[] };
  readonly samples: number;
  /** /version's etcdcluster once every member runs the new version (undefined if no member answered). */
  readonly clusterVersion: string | undefined;
  /** The etcd minor of every in-service instance at the end. */
  readonly versions: Record<string, EtcdVersionName | undefined>;
  readonly durationMs: number;
}

/** How long the leader may take to raise the cluster version once every member runs the new one (it looks every few seconds). */
const CLUSTER_VERSION_WAIT_MS = 30_000;

/**
 * Replaces every in-service instance of `world` (a settled group of voters) with one running `to`, one at a
 * time, terminate first: the group never exceeds the cluster size the Lambda plans for.
 */
export async function rollingUpgrade(
  world: World,
  to: EtcdVersionName,
  log: (line: string) => void = () => undefined,
): Promise<UpgradeResult> {
  const started = Date.now();
  const old = world.inService();
  const size = old.length;
  const probe = (url: string, init?: Parameters<World['probeJson']>[1]) => world.probeJson(url, init);
  const writer = new Writer(() => world.endpoints(), probe);
  const monitor = new QuorumMonitor(
    () => world.endpoints(),
    () => new Set(),
    undefined,
    probe,
  );
  writer.start();
  monitor.start();
  const violations: string[] = [];
  try {
    world.setLaunchVersion(to);
    for (const [i, id] of old.entries()) {
      log(`step ${i + 1}/${size}: replace ${id} (etcd ${world.instanceVersion(id) ?? '?'}) with an instance on etcd ${to}`);
      await world.replace(id);
      await world.settle({ timeoutMs: 90_000 });
      await monitor.sample(`after retiring ${id}`);
    }
  } finally {
    await writer.stop();
    await monitor.stop();
  }
  violations.push(...monitor.violations);
  const endpoints = world.endpoints();
  const { lost, read } = await lostWrites(endpoints, writer.acknowledged, probe);
  if (!read) violations.push('the writes could not be read back');
  if (lost.length > 0) violations.push(`${lost.length} acknowledged writes lost`);
  const clusterVersion = await waitForClusterVersion(endpoints, to, probe);
  if (clusterVersion?.startsWith(`${to}.`) !== true)
    violations.push(`the cluster reports version ${clusterVersion ?? '(no answer)'}, not ${to}`);
  const versions = Object.fromEntries(world.inService().map((id) => [id, world.instanceVersion(id)]));
  const stale = Object.entries(versions).filter(([, v]) => v !== to);
  if (stale.length > 0) violations.push(`instances not on ${to}: ${stale.map(([id, v]) => `${id} (${v ?? '?'})`).join(', ')}`);
  return {
    violations,
    writes: { attempted: writer.attempted, acknowledged: writer.acknowledged.size, lost },
    samples: monitor.samples.length,
    clusterVersion,
    versions,
    durationMs: Date.now() - started,
  };
}

/** /version's etcdcluster, polled until it reports `minor` or the wait runs out; the last answer. */
export async function waitForClusterVersion(
  endpoints: readonly string[],
  minor: string,
  probe: JsonProbe = tryJson,
): Promise<string | undefined> {
  const deadline = Date.now() + CLUSTER_VERSION_WAIT_MS;
  let last: string | undefined;
  for (;;) {
    for (const endpoint of endpoints) {
      const answer = (await probe(`${endpoint}/version`, { timeoutMs: 1000 })) as { etcdcluster?: string } | undefined;
      if (answer?.etcdcluster !== undefined) {
        last = answer.etcdcluster;
        break;
      }
    }
    if (last?.startsWith(`${minor}.`) === true || Date.now() >= deadline) return last;
    await delay(500);
  }
}
