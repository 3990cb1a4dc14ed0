// Observing a cluster for the planner: the member list, every member's health, and join markers.
//
// A join marker is a key with a lease that a joiner writes right after adding its member. While it lives, that
// member is "starting", not dead: nobody removes a member that is still booting (R3 of the behaviour doc).
import { memberIdToHex, parseHexMemberId } from '../core/ids.js';
import type { ClusterView, MemberId } from '../core/types.js';
import { isEtcdError, observeCluster, type EtcdClient } from '../adapters/etcd/index.js';
import type { EtcdConnection } from './connection.js';
import type { Logger } from './log.js';

export const JOIN_MARKER_PREFIX = '/elastic-etcd/joining/';
/** How long a freshly added member is given to start before others may treat it as dead. */
export const DEFAULT_JOIN_GRACE_SECONDS = 120;

export type Observed = ClusterView & { readonly clusterId?: bigint };

export async function observeForPlanning(
  client: EtcdClient,
  connection: EtcdConnection,
  log: Logger,
  signal?: AbortSignal,
): Promise<Observed> {
  const observed = await observeCluster(client, { timeoutMs: connection.healthTimeoutMs, ...(signal !== undefined && { signal }) });
  if (observed.kind === 'unreachable') {
    log.debug(2, 'no etcd endpoint answered the member list', { endpoints: client.endpoints, error: observed.error?.message });
    return { kind: 'unreachable' };
  }
  if (observed.clusters > 1) {
    log.warn(`candidate endpoints belong to ${observed.clusters} different clusters; using the one most of them agree on`, {
      clusterId: observed.clusterId.toString(16),
    });
  }
  const health = new Map(observed.health);
  const unstarted = observed.members.filter((m) => m.name === '' && health.get(m.id) !== 'healthy');
  if (unstarted.length > 0) {
    const starting = await readJoinMarkers(client, log, signal);
    for (const m of unstarted) {
      // Without readable markers we cannot tell a booting member from a dead one: assume booting.
      if (starting === undefined || starting.has(m.id)) health.set(m.id, 'unknown');
    }
  }
  for (const m of observed.members) {
    log.debug(4, `member ${m.name || '(unstarted)'} ${memberIdToHex(m.id)}: ${health.get(m.id) ?? 'unknown'}`, {
      peerURLs: m.peerURLs,
      learner: m.isLearner,
    });
  }
  return { kind: 'reachable', members: observed.members, health, clusterId: observed.clusterId };
}

/** Member IDs with a live join marker; undefined when the markers cannot be read. */
async function readJoinMarkers(client: EtcdClient, log: Logger, signal?: AbortSignal): Promise<Set<MemberId> | undefined> {
  try {
    const kvs = await client.getPrefix(JOIN_MARKER_PREFIX, signal === undefined ? {} : { signal });
    const ids = new Set<MemberId>();
    for (const kv of kvs) {
      try {
        ids.add(parseHexMemberId(kv.key.slice(JOIN_MARKER_PREFIX.length)));
      } catch {
        log.warn(`ignoring malformed join marker ${JSON.stringify(kv.key)}`);
      }
    }
    return ids;
  } catch (err) {
    if (isEtcdError(err, 'aborted')) throw err;
    log.warn('could not read join markers; unstarted members are treated as still starting', { error: String(err) });
    return undefined;
  }
}

/** Marks `id` as starting for `graceSeconds`. Best effort: without it, others only see an unstarted member. */
export async function markJoining(client: EtcdClient, id: MemberId, name: string, graceSeconds: number, log: Logger): Promise<void> {
  try {
    const lease = await client.leaseGrant(graceSeconds);
    await client.putIfAbsent(`${JOIN_MARKER_PREFIX}${memberIdToHex(id)}`, name, { leaseId: lease.id });
  } catch (err) {
    log.warn(`could not write the join marker for ${memberIdToHex(id)}`, { error: String(err) });
  }
}
