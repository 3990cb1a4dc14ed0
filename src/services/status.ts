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
  /**
   * No endpoint answered the member list: there is nothing to summarize. `tls` when the reason was a TLS
   * handshake that failed (the first such endpoint's), so the caller can name the certificate problem.
   */
  | {
      readonly kind: 'unreachable';
      readonly endpoints: readonly string[];
      readonly error?: string;
      readonly tls?: TlsFailure & { readonly endpoint: string };
      /** Every endpoint reset the connection: what etcd does when the scheme (http or https) is the wrong one. */
      readonly reset?: boolean;
    };

/** Which side of a TLS handshake objected: we did not trust the member, it did not accept us, or no TLS at all. */
export type TlsFailureSide = 'member-certificate' | 'client-certificate' | 'not-tls';

/** A TLS handshake that failed, told apart from a member that does not answer. */
export interface TlsFailure {
  readonly side: TlsFailureSide;
  /** Node's (OpenSSL's) error code, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  readonly code: string;
  /** What it means, for people: "its certificate is not signed by a CA given with --cacert". */
  readonly reason: string;
}

const UNTRUSTED = 'its certificate is not signed by a trusted CA (--cacert)';
const REFUSED = 'it refused our client certificate (--cert)';
// Node's codes for the handshake failures an operator meets, seen against etcd 3.4 and 3.5 (test/e2e/cli-status).
const TLS_FAILURES: Readonly<Record<string, readonly [TlsFailureSide, string]>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ['member-certificate', UNTRUSTED],
  UNABLE_TO_GET_ISSUER_CERT: ['member-certificate', UNTRUSTED],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ['member-certificate', UNTRUSTED],
  DEPTH_ZERO_SELF_SIGNED_CERT: ['member-certificate', UNTRUSTED],
  SELF_SIGNED_CERT_IN_CHAIN: ['member-certificate', UNTRUSTED],
  CERT_SIGNATURE_FAILURE: ['member-certificate', UNTRUSTED],
  CERT_HAS_EXPIRED: ['member-certificate', 'its certificate has expired'],
  CERT_NOT_YET_VALID: ['member-certificate', 'its certificate is not valid yet'],
  ERR_TLS_CERT_ALTNAME_INVALID: ['member-certificate', 'its certificate does not name the address asked'],
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: ['client-certificate', 'it requires a client certificate (--cert and --key)'],
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: ['client-certificate', 'it does not trust the CA of our client certificate (--cert)'],
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: ['client-certificate', 'it refused our client certificate (--cert): expired'],
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: ['client-certificate', REFUSED],
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: ['client-certificate', REFUSED],
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: ['client-certificate', REFUSED],
  ERR_SSL_WRONG_VERSION_NUMBER: ['not-tls', 'it does not speak TLS (a plain-HTTP member: use http://)'],
};

/** The Node error codes in `err`'s cause chain, outermost first. */
function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Object && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

/** The TLS handshake failure behind `err` (its code anywhere in the cause chain), or undefined for any other. */
export function tlsFailureOf(err: unknown): TlsFailure | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Object && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    // Node 20 reports a plain-HTTP answer to a TLS hello as EPROTO with OpenSSL's text; newer ones by code.
    const wrongVersion = code === 'EPROTO' && /wrong version number/i.test(errorMessage(e));
    const known = TLS_FAILURES[wrongVersion ? 'ERR_SSL_WRONG_VERSION_NUMBER' : code];
    if (known !== undefined) return { side: known[0], code, reason: known[1] };
  }
  return undefined;
}

/** Why asking failed, for a member row: a TLS failure in words, anything else as the adapter says it. */
function failureText(err: unknown): string {
  const tls = tlsFailureOf(err);
  const endpoint = isEtcdError(err) ? err.endpoint : undefined;
  if (tls === undefined) return errorMessage(err);
  return `the TLS handshake with ${endpoint ?? 'it'} failed: ${tls.reason} (${tls.code})`;
}

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
  | Omit<Extract<StatusOutcome, { kind: 'unreachable' }>, 'endpoints'>;

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
    // A certificate problem says more than a refused connection elsewhere: it is what the operator must fix.
    for (const e of errors) {
      const tls = tlsFailureOf(e);
      if (tls !== undefined)
        return { kind: 'unreachable', error: failureText(e), tls: { ...tls, endpoint: isEtcdError(e) ? (e.endpoint ?? '') : '' } };
    }
    if (errors[0] === undefined) return { kind: 'unreachable' };
    const reset = errors.every((e) => causeCodes(e).includes('ECONNRESET'));
    return { kind: 'unreachable', error: errorMessage(errors[0]), ...(reset && { reset }) };
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
    answers.flatMap((a) => (a.status.status === 'rejected' ? [[a.endpoint, failureText(a.status.reason)] as const] : [])),
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
  return { kind: 'failed', error: failure?.status === 'rejected' ? failureText(failure.reason) : 'no client URL' };
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
