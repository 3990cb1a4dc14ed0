// Observing a cluster for the planner: the member list, every member's health, and join markers.
//
// A join marker is a key with a lease that a joiner writes right after adding its member. While it lives, that
// member is "starting", not dead: a member that was added and is still booting is never removed as dead.
import { memberIdToHex, parseHexMemberId } from '../core/ids.js';
import { isUnstarted } from '../core/members.js';
import type { ClusterView, MemberId } from '../core/types.js';
import { sameURLSet } from '../core/urls.js';
import {
  checkMembersHealth,
  EtcdError,
  isEtcdError,
  observeCluster,
  type EtcdClient,
  type ObservedCluster,
} from '../adapters/etcd/index.js';
import type { EtcdConnection } from './connection.js';
import type { Logger } from './log.js';

export const JOIN_MARKER_PREFIX = '/elastic-etcd/joining/';
/** How long a freshly added member is given to start before others may treat it as dead. */
export const DEFAULT_JOIN_GRACE_SECONDS = 120;

type ObservedReachable = Extract<ObservedCluster, { kind: 'reachable' }>;

/** What observeForPlanning saw: the planner's ClusterView, plus the ID of the cluster that answered. */
export type Observed = ClusterView & { readonly clusterId?: bigint };

export interface ObserveOptions {
  /**
   * The observation a membership change is decided on: the member list is confirmed through the leader
   * (linearizable on 3.5+), and an EtcdError ('unavailable') is thrown when that cannot be had, so no change is
   * ever made on one member's possibly stale local view. Without it, each member's local list is enough: a
   * cluster without a leader is still seen, as one without a quorum.
   */
  readonly forChange?: boolean;
}

/**
 * observeForPlanning takes the view of the cluster a plan is made from: the member list, each member's health,
 * and, for unstarted members, whether a live join marker says they are still starting (then their health is
 * `unknown`, so no plan removes them; also when the markers cannot be read).
 *
 * Never throws because the cluster is down: no endpoint answering is `{ kind: 'unreachable' }`. With
 * `forChange`, the list is confirmed through the leader and an EtcdError ('unavailable') is thrown when that
 * cannot be had (see ObserveOptions). Changes nothing in etcd.
 */
export async function observeForPlanning(
  client: EtcdClient,
  connection: EtcdConnection,
  log: Logger,
  signal?: AbortSignal,
  options: ObserveOptions = {},
): Promise<Observed> {
  let observed = await observeCluster(client, { timeoutMs: connection.healthTimeoutMs, ...(signal !== undefined && { signal }) });
  if (observed.kind === 'unreachable') {
    log.debug(2, 'no etcd endpoint answered the member list', { endpoints: client.endpoints, error: observed.error?.message });
    return { kind: 'unreachable' };
  }
  if (options.forChange === true) observed = await confirmThroughLeader(client, observed, connection, signal);
  if (observed.clusters > 1) {
    log.warn('candidate endpoints belong to different clusters; using the one most of them agree on', {
      clusters: observed.clusters,
      clusterId: observed.clusterId.toString(16),
    });
  }
  const health = new Map(observed.health);
  const unstarted = observed.members.filter((m) => isUnstarted(m) && health.get(m.id) !== 'healthy');
  if (unstarted.length > 0) {
    const starting = await readJoinMarkers(client, log, signal);
    for (const m of unstarted) {
      // Without readable markers we cannot tell a booting member from a dead one: assume booting.
      if (starting === undefined || starting.has(m.id)) health.set(m.id, 'unknown');
    }
  }
  for (const m of observed.members) {
    log.debug(4, `member ${isUnstarted(m) ? '(unstarted)' : m.name} ${memberIdToHex(m.id)}: ${health.get(m.id) ?? 'unknown'}`, {
      peerURLs: m.peerURLs,
      learner: m.isLearner,
    });
  }
  return { kind: 'reachable', members: observed.members, health, clusterId: observed.clusterId };
}

/** `observed` with the member list as the leader knows it; members the observation did not cover are checked. */
async function confirmThroughLeader(
  client: EtcdClient,
  observed: ObservedReachable,
  connection: EtcdConnection,
  signal: AbortSignal | undefined,
): Promise<ObservedReachable> {
  let current;
  try {
    current = await client.memberList(signal === undefined ? {} : { signal });
  } catch (err) {
    if (!isEtcdError(err, 'unavailable') && !isEtcdError(err, 'timeout')) throw err;
    throw new EtcdError(
      'unavailable',
      `no member answered the member list through the leader, so no membership change is made: ${err.message}`,
      { cause: err },
    );
  }
  if (current.clusterId !== observed.clusterId) {
    throw new EtcdError(
      'unavailable',
      `the leader answered for cluster ${current.clusterId.toString(16)}, not the observed ${observed.clusterId.toString(16)}; no change is made`,
    );
  }
  const health = new Map(observed.health);
  const unchecked = current.members.filter(
    (m) => !health.has(m.id) || !observed.members.some((o) => o.id === m.id && sameURLSet(o.clientURLs, m.clientURLs)),
  );
  if (unchecked.length > 0) {
    const checked = await checkMembersHealth(client, unchecked, current.clusterId, {
      timeoutMs: connection.healthTimeoutMs,
      ...(signal !== undefined && { signal }),
    });
    for (const [id, h] of checked) health.set(id, h);
  }
  return { ...observed, members: current.members, health };
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
        log.warn('ignoring a malformed join marker', { key: kv.key });
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
    log.warn('could not write the join marker', { member: memberIdToHex(id), error: String(err) });
  }
}
