// Observing a cluster for `elastic-etcd status`: the member list, every member's own status answer (or why there
// was none), the active alarms and, optionally, the Auto Scaling group's instances; summarized by core/status.ts.
//
// Everything is asked in parallel and each request is bounded by the health timeout, so a hung member (one that
// accepts connections and never answers) costs one health timeout in all: a member whose client URLs were all
// asked in the first round and stayed silent is not asked again.
import type { AutoScalingAdapter, Ec2Adapter } from '../adapters/aws/index.js';
import { EtcdError, isEtcdError, type EtcdClient, type MaintenanceStatus, type MemberList } from '../adapters/etcd/index.js';
import { errorMessage } from '../core/errors.js';
import {
  isLiveInstance,
  summarizeStatus,
  type GroupInstanceSample,
  type MemberProbe,
  type StatusObservation,
  type StatusSummary,
} from '../core/status.js';
import type { Member, MemberId } from '../core/types.js';
import { canonicalURL } from '../core/urls.js';
import { clientFor, type EtcdConnection } from './connection.js';
import type { Logger } from './log.js';

export interface StatusRequest {
  /** Client URLs to find the cluster at; with a group and none given, the group's live instances'. */
  readonly endpoints: readonly string[];
  readonly connection: EtcdConnection;
  /** The Auto Scaling group to show side by side with the members. */
  readonly group?: { readonly name: string; readonly read: () => Promise<readonly GroupInstanceSample[]> };
  /** Builds client URLs from instance IPs when no endpoints are given: scheme and port. */
  readonly clientURLOf?: (ip: string) => string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

export type StatusOutcome =
  | { readonly kind: 'observed'; readonly observation: StatusObservation; readonly summary: StatusSummary }
  /** No endpoint answered the member list: there is nothing to summarize. */
  | { readonly kind: 'unreachable'; readonly endpoints: readonly string[]; readonly error?: string };

/**
 * observeStatus observes the cluster (and the group, when asked) and summarizes it. Changes nothing anywhere.
 * 'unreachable' when no endpoint answers the member list; bad credentials, malformed answers and AWS errors are
 * thrown. Bounded: about one health timeout for the etcd side however many members hang (two only when a hung
 * endpoint and a hung member that is not among the endpoints come together), plus the AWS calls' own time.
 */
export async function observeStatus(request: StatusRequest): Promise<StatusOutcome> {
  const { connection, log, signal } = request;
  let instances: readonly GroupInstanceSample[] | undefined;
  let endpoints = request.endpoints;
  let groupRead: Promise<readonly GroupInstanceSample[]> | undefined;
  if (request.group !== undefined) {
    groupRead = request.group.read();
    if (endpoints.length === 0) {
      instances = await groupRead;
      const toURL = request.clientURLOf ?? ((ip: string) => `http://${ip}:2379`);
      endpoints = instances.filter((i) => isLiveInstance(i) && i.privateIp !== undefined).map((i) => toURL(i.privateIp!));
      log.debug(2, 'endpoints from the group', { group: request.group.name, endpoints });
      if (endpoints.length === 0) return { kind: 'unreachable', endpoints };
    }
  }
  const client = clientFor(endpoints, connection);
  try {
    const [etcd, group] = await Promise.all([observeEtcd(client, connection, log, signal), groupRead]);
    instances ??= group;
    if (etcd.kind === 'unreachable') return { ...etcd, endpoints: client.endpoints };
    const observation: StatusObservation = {
      ...etcd.observation,
      ...(request.group !== undefined && instances !== undefined && { group: { name: request.group.name, instances } }),
    };
    return { kind: 'observed', observation, summary: summarizeStatus(observation) };
  } finally {
    client.close();
  }
}

type EtcdSide =
  | { readonly kind: 'observed'; readonly observation: Omit<StatusObservation, 'group'> }
  | { readonly kind: 'unreachable'; readonly error?: string };

async function observeEtcd(
  client: EtcdClient,
  connection: EtcdConnection,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<EtcdSide> {
  const probe = { timeoutMs: connection.healthTimeoutMs, ...(signal !== undefined && { signal }) };
  // Round 1: every endpoint at once, its member list and its own status.
  const answers = await Promise.all(
    client.endpoints.map(async (endpoint) => {
      const [list, status] = await Promise.allSettled([client.memberListAt(endpoint, probe), client.statusAt(endpoint, probe)]);
      return { endpoint, list, status };
    }),
  );
  if (signal?.aborted === true) throw new EtcdError('aborted', 'observing the cluster was cancelled');
  const lists = answers.flatMap((a) => (a.list.status === 'fulfilled' ? [a.list.value] : []));
  if (lists.length === 0) {
    const errors = answers.flatMap((a) => (a.list.status === 'rejected' ? [a.list.reason as unknown] : []));
    const telling = errors.find((e) => isEtcdError(e, 'auth-required') || isEtcdError(e, 'invalid-response'));
    if (telling !== undefined) throw telling;
    return errors[0] === undefined ? { kind: 'unreachable' } : { kind: 'unreachable', error: errorMessage(errors[0]) };
  }
  const chosen = mostAgreed(lists);
  if (new Set(lists.map((l) => l.clusterId)).size > 1) {
    log.warn('candidate endpoints belong to different clusters; showing the one most of them agree on', {
      clusterId: chosen.clusterId.toString(16),
    });
  }
  const { members, clusterId } = chosen;

  const statuses = answers.flatMap((a) => (a.status.status === 'fulfilled' ? [a.status.value] : []));
  const silent = new Map(
    answers.flatMap((a) => (a.status.status === 'rejected' ? [[a.endpoint, errorMessage(a.status.reason)] as const] : [])),
  );
  const probes = new Map<MemberId, MemberProbe>();
  const unasked: Member[] = [];
  for (const m of members) {
    if (m.clientURLs.length === 0) continue; // not started: nothing to ask
    const own = statuses.find((s) => s.memberId === m.id);
    if (own !== undefined) probes.set(m.id, { kind: 'answered', status: own });
    // Asked already on every one of its client URLs, without an answer: asking again would cost another timeout.
    else if (m.clientURLs.length > 0 && m.clientURLs.every((u) => silent.has(canonicalURL(u))))
      probes.set(m.id, { kind: 'failed', error: silent.get(canonicalURL(m.clientURLs[0]!)) ?? 'no answer' });
    else unasked.push(m);
  }
  // Round 2, at once: the members no endpoint answered for, and the alarms from a member that knows a leader.
  const alarmSource = answers.find(
    (a) => a.status.status === 'fulfilled' && a.status.value.clusterId === clusterId && a.status.value.leader !== 0n,
  );
  const [asked, alarms] = await Promise.all([
    Promise.all(unasked.map(async (m) => [m.id, await probeMember(client, m, probe)] as const)),
    alarmSource === undefined
      ? Promise.resolve({ error: 'no member that knows a leader answered' })
      : client.alarmListAt(alarmSource.endpoint, probe).catch((err: unknown) => {
          if (isEtcdError(err, 'aborted')) throw err;
          return { error: errorMessage(err) };
        }),
  ]);
  for (const [id, p] of asked) probes.set(id, p);
  return { kind: 'observed', observation: { clusterId, members, probes, alarms } };
}

/** The member list most endpoints agree on (by cluster ID); ties go to the first endpoint's. */
function mostAgreed(lists: readonly MemberList[]): MemberList {
  const counts = new Map<bigint, number>();
  for (const l of lists) counts.set(l.clusterId, (counts.get(l.clusterId) ?? 0) + 1);
  return lists.reduce((best, l) => ((counts.get(l.clusterId) ?? 0) > (counts.get(best.clusterId) ?? 0) ? l : best));
}

/** One member's status on all of its client URLs at once: its own answer if any URL gives one. */
async function probeMember(
  client: EtcdClient,
  member: Member,
  probe: { readonly timeoutMs: number; readonly signal?: AbortSignal },
): Promise<MemberProbe> {
  const results = await Promise.allSettled(member.clientURLs.map((url) => client.statusAt(url, probe)));
  const answered = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const own: MaintenanceStatus | undefined = answered.find((s) => s.memberId === member.id) ?? answered[0];
  if (own !== undefined) return { kind: 'answered', status: own };
  const aborted = results.find((r) => r.status === 'rejected' && isEtcdError(r.reason, 'aborted'));
  if (aborted?.status === 'rejected') throw aborted.reason;
  const failure = results.find((r) => r.status === 'rejected');
  return { kind: 'failed', error: failure?.status === 'rejected' ? errorMessage(failure.reason) : 'no client URL' };
}

/**
 * readGroupInstances describes the group's instances through Auto Scaling and their addresses and states through
 * EC2 (instances EC2 no longer knows are gone). Throws GroupNotFoundError or AwsCallError.
 */
export async function readGroupInstances(name: string, autoScaling: AutoScalingAdapter, ec2: Ec2Adapter): Promise<GroupInstanceSample[]> {
  const group = await autoScaling.describeGroup(name);
  const ids = group.instances.map((i) => i.instanceId);
  const lookup = ids.length === 0 ? { found: [], gone: [] } : await ec2.describeInstances(ids);
  const byId = new Map(lookup.found.map((i) => [i.instanceId, i]));
  return group.instances.map((i) => {
    const found = byId.get(i.instanceId);
    return {
      instanceId: i.instanceId,
      lifecycleState: i.lifecycleState,
      ...(found?.privateIpAddress !== undefined && { privateIp: found.privateIpAddress }),
      ...(found !== undefined && { ec2State: found.state }),
    };
  });
}
