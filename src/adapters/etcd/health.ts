// Health of every member, checked in parallel and bounded, and the observation of a cluster from candidate
// endpoints. A member is healthy only if it answers on one of its own client URLs, as itself (same member
// ID), for the same cluster (same cluster ID), and knows a leader: a stale node of a foreign cluster, or a
// new member that now sits on a dead member's address, is not mistaken for that member.
import { CLUSTER_DEFAULTS } from '../../core/defaults.js';
import type { ClusterView, Health, Member, MemberId } from '../../core/types.js';
import { canonicalURL } from '../../core/urls.js';
import type { EtcdClient, MemberList } from './client.js';
import { EtcdError, isEtcdError } from './errors.js';
import type { MaintenanceStatus } from './wire.js';

export const DEFAULT_HEALTH_TIMEOUT_MS = CLUSTER_DEFAULTS.healthTimeoutMs;
/** Clusters have 1 to 7 voters, so this checks all of them at once while bounding a pathological list. */
export const DEFAULT_HEALTH_CONCURRENCY = 16;

export interface HealthCheckOptions {
  /** Bound for one member's check (its client URLs are asked in parallel). */
  readonly timeoutMs?: number;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

/** Pure: what one status answer says about `member`. */
export function healthFromStatus(member: Member, clusterId: bigint, status: MaintenanceStatus): Health {
  if (status.clusterId !== clusterId) return 'unreachable'; // answered for another cluster
  if (status.memberId !== member.id) return 'unreachable'; // someone else lives at that address now
  return status.leader !== 0n ? 'healthy' : 'unreachable';
}

/** Checks one member on all of its client URLs at once: healthy if any of them says so. */
async function checkMember(client: EtcdClient, member: Member, clusterId: bigint, options: HealthCheckOptions): Promise<Health> {
  if (member.clientURLs.length === 0) return 'unreachable'; // not started yet
  const verdicts = await Promise.all(
    member.clientURLs.map(async (url): Promise<Health> => {
      try {
        const status = await client.statusAt(url, { timeoutMs: options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS, signal: options.signal });
        return healthFromStatus(member, clusterId, status);
      } catch (err) {
        if (isEtcdError(err, 'aborted')) throw err;
        // It answered, but we may not ask: we cannot tell, so do not call it dead.
        if (isEtcdError(err, 'auth-required')) return 'unknown';
        return 'unreachable';
      }
    }),
  );
  if (verdicts.includes('healthy')) return 'healthy';
  return verdicts.includes('unknown') ? 'unknown' : 'unreachable';
}

/** Maps over `items` with at most `limit` calls in flight. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Health of every member, in parallel; each member costs at most one timeout. */
export async function checkMembersHealth(
  client: EtcdClient,
  members: readonly Member[],
  clusterId: bigint,
  options: HealthCheckOptions = {},
): Promise<Map<MemberId, Health>> {
  const concurrency = options.concurrency ?? DEFAULT_HEALTH_CONCURRENCY;
  const verdicts = await mapLimited(members, concurrency, (m) => checkMember(client, m, clusterId, options));
  return new Map(members.map((m, i) => [m.id, verdicts[i] ?? 'unknown']));
}

/** A ClusterView with what was learnt on the way (which cluster, which endpoint answered the list). */
export type ObservedCluster =
  | (Extract<ClusterView, { kind: 'reachable' }> & {
      readonly clusterId: bigint;
      readonly listedFrom: string;
      /** How many different clusters the candidate endpoints belong to (more than 1: stale nodes answered). */
      readonly clusters: number;
    })
  | (Extract<ClusterView, { kind: 'unreachable' }> & { readonly error?: EtcdError });

/**
 * Asks every candidate endpoint at once for the member list and for its own status, each bounded by the
 * health timeout, so endpoints that accept connections but never answer (a hung member, a node still waiting
 * on discovery) cost one timeout in all, however many there are. The status answers double as the health
 * checks of the members behind those endpoints; only members no candidate answered for are checked after.
 * When endpoints disagree (a stale node of an old cluster), the cluster most of them belong to wins.
 * 'unreachable' when no endpoint answers; bad credentials and malformed answers are thrown, because they say
 * nothing about whether the cluster exists.
 */
export async function observeCluster(client: EtcdClient, options: HealthCheckOptions = {}): Promise<ObservedCluster> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const probe = { timeoutMs, ...(options.signal !== undefined && { signal: options.signal }) };
  const answers = await Promise.all(
    client.endpoints.map(async (endpoint) => {
      const [list, status] = await Promise.allSettled([client.memberListAt(endpoint, probe), client.statusAt(endpoint, probe)]);
      return { endpoint, list, status };
    }),
  );
  if (options.signal?.aborted === true) throw new EtcdError('aborted', 'observing the cluster was cancelled');
  const lists = answers.flatMap((a) => (a.list.status === 'fulfilled' ? [a.list.value] : []));
  if (lists.length === 0) {
    const errors = answers.flatMap((a) => (a.list.status === 'rejected' && isEtcdError(a.list.reason) ? [a.list.reason] : []));
    const telling = errors.find((e) => e.code === 'auth-required' || e.code === 'invalid-response');
    if (telling !== undefined) throw telling;
    return errors[0] === undefined ? { kind: 'unreachable' } : { kind: 'unreachable', error: errors[0] };
  }
  const byCluster = new Map<bigint, MemberList[]>();
  for (const list of lists) byCluster.set(list.clusterId, [...(byCluster.get(list.clusterId) ?? []), list]);
  const [clusterId, agreeing] = [...byCluster.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  const chosen = agreeing[0]!;
  const { members } = chosen;

  const silent = new Set(answers.filter((a) => a.status.status === 'rejected').map((a) => a.endpoint));
  const statuses = answers.flatMap((a) => (a.status.status === 'fulfilled' ? [a.status.value] : []));
  const health = new Map<MemberId, Health>();
  for (const m of members) {
    const own = statuses.find((st) => st.memberId === m.id);
    if (own !== undefined) health.set(m.id, healthFromStatus(m, clusterId, own));
    // Asked already, on one of its own client URLs, and it did not answer in time: no need to wait again.
    else if (m.clientURLs.length > 0 && m.clientURLs.every((u) => silent.has(canonicalURL(u)))) health.set(m.id, 'unreachable');
  }
  const unchecked = members.filter((m) => !health.has(m.id));
  if (unchecked.length > 0) {
    for (const [id, h] of await checkMembersHealth(client, unchecked, clusterId, options)) health.set(id, h);
  }
  return { kind: 'reachable', members, health, clusterId, listedFrom: chosen.endpoint, clusters: byCluster.size };
}
