// Observing a cluster for the planner: the member list, every member's health, and join markers.
//
// A join marker is a key with a lease that a joiner writes right after adding its member. While it lives, that
// member is "starting", not dead: nobody removes a member that is still booting (R3 of the behaviour doc).
import { memberIdToHex, parseHexMemberId } from '../core/ids.js';
import { canonicalURL } from '../core/urls.js';
import type { ClusterView, Health, MemberId } from '../core/types.js';
import {
  checkMembersHealth,
  healthFromStatus,
  isEtcdError,
  type EtcdClient,
  type EtcdError,
  type MemberList,
} from '../adapters/etcd/index.js';
import { clientFor, type EtcdConnection } from './connection.js';
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
  const observed = await listAndCheck(client, connection, log, signal);
  if (observed.kind === 'unreachable') {
    log.debug(2, 'no etcd endpoint answered the member list', { endpoints: client.endpoints });
    return { kind: 'unreachable' };
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
  return { kind: 'reachable', members: observed.members, health: health, clusterId: observed.clusterId };
}

/**
 * Asks every candidate endpoint at once for the member list and for its own status, each bounded by the
 * health timeout, so endpoints that accept connections but never answer (a hung member, a node still waiting
 * on discovery) cost one timeout in all, however many there are. The status answers double as the health
 * checks of the members behind those endpoints; only members no candidate answered for are checked after.
 * When endpoints disagree (a stale node of an old cluster), the cluster most of them belong to wins.
 */
async function listAndCheck(
  client: EtcdClient,
  connection: EtcdConnection,
  log: Logger,
  signal?: AbortSignal,
): Promise<(Extract<ClusterView, { kind: 'reachable' }> & { clusterId: bigint }) | { kind: 'unreachable' }> {
  const probe = { ...connection, requestTimeoutMs: connection.healthTimeoutMs };
  const bounded = (): AbortSignal => {
    const bound = AbortSignal.timeout(connection.healthTimeoutMs);
    return signal === undefined ? bound : AbortSignal.any([signal, bound]);
  };
  const answers = await Promise.all(
    client.endpoints.map(async (endpoint) => {
      const single = clientFor([endpoint], probe);
      try {
        const [list, status] = await Promise.allSettled([
          single.memberList({ signal: bounded() }),
          single.statusAt(endpoint, { timeoutMs: connection.healthTimeoutMs, signal: bounded() }),
        ]);
        return { list, status };
      } finally {
        single.close();
      }
    }),
  );
  if (signal?.aborted === true) throw signal.reason;
  const lists = answers.flatMap((a) => (a.list.status === 'fulfilled' ? [a.list.value] : []));
  if (lists.length === 0) {
    // Wrong credentials or nonsense answers say nothing about whether a cluster exists: report them.
    const telling = answers
      .map((a) => a.list)
      .find(
        (r): r is PromiseRejectedResult =>
          r.status === 'rejected' && isEtcdError(r.reason) && (r.reason.code === 'auth-required' || r.reason.code === 'invalid-response'),
      );
    if (telling !== undefined) throw telling.reason as EtcdError;
    return { kind: 'unreachable' };
  }
  const byCluster = new Map<bigint, MemberList[]>();
  for (const list of lists) byCluster.set(list.clusterId, [...(byCluster.get(list.clusterId) ?? []), list]);
  const [clusterId, agreeing] = [...byCluster.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  if (byCluster.size > 1) {
    log.warn(`candidate endpoints belong to ${byCluster.size} different clusters; using the one ${agreeing.length} of them agree on`, {
      clusterId: clusterId.toString(16),
    });
  }
  const members = agreeing[0]!.members;
  const statuses = answers.flatMap((a) => (a.status.status === 'fulfilled' ? [a.status.value] : []));
  const silent = new Set(client.endpoints.filter((_, i) => answers[i]?.status.status === 'rejected'));
  const health = new Map<MemberId, Health>();
  for (const m of members) {
    const own = statuses.find((st) => st.memberId === m.id);
    if (own !== undefined) health.set(m.id, healthFromStatus(m, clusterId, own));
    // Asked already, on one of its own client URLs, and it did not answer in time: no need to wait again.
    else if (m.clientURLs.length > 0 && m.clientURLs.every((u) => silent.has(canonicalURL(u)))) health.set(m.id, 'unreachable');
  }
  const unchecked = members.filter((m) => !health.has(m.id));
  if (unchecked.length > 0) {
    const rest = await checkMembersHealth(client, unchecked, clusterId, {
      timeoutMs: connection.healthTimeoutMs,
      ...(signal !== undefined && { signal }),
    });
    for (const [id, h] of rest) health.set(id, h);
  }
  return { kind: 'reachable', members, health, clusterId };
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
