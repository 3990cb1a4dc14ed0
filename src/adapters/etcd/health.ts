// Health of every member, checked in parallel and bounded, and the observation of a cluster from candidate
// endpoints. A member is healthy only if it answers on one of its own client URLs, as itself (same member
// ID), for the same cluster (same cluster ID), and knows a leader: a stale node of a foreign cluster, or a
// new member that now sits on a dead member's address, is not mistaken for that member.
import type { ClusterView, Health, Member, MemberId } from '../../core/types.js';
import type { EtcdClient, CallOptions } from './client.js';
import { isEtcdError, type EtcdError } from './errors.js';
import type { MaintenanceStatus } from './wire.js';

export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;
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
  | (Extract<ClusterView, { kind: 'reachable' }> & { readonly clusterId: bigint; readonly listedFrom: string })
  | (Extract<ClusterView, { kind: 'unreachable' }> & { readonly error?: EtcdError });

/**
 * Lists the members from the first candidate endpoint that answers, then checks every member's health.
 * 'unreachable' when no endpoint answers in time; other errors (bad credentials, malformed answers) are thrown,
 * because they say nothing about whether the cluster exists.
 */
export async function observeCluster(client: EtcdClient, options: HealthCheckOptions & CallOptions = {}): Promise<ObservedCluster> {
  if (client.endpoints.length === 0) return { kind: 'unreachable' };
  let list;
  try {
    list = await client.memberList(options);
  } catch (err) {
    if (isEtcdError(err, 'unavailable') || isEtcdError(err, 'timeout')) return { kind: 'unreachable', error: err };
    throw err;
  }
  const health = await checkMembersHealth(client, list.members, list.clusterId, options);
  return { kind: 'reachable', members: list.members, health, clusterId: list.clusterId, listedFrom: list.endpoint };
}
