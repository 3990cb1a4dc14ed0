// A thin client for etcd's v3 JSON gateway (axios): membership, maintenance status, and the small KV and
// lease surface a cluster lock and join markers need. No planning logic lives here.
//
// Version notes (the tests run etcd 3.4.23 and 3.5.30; 3.6 is handled from its documentation):
// - The gateway prefix is /v3/ from 3.4 on (3.3 used /v3beta/); 3.4 to 3.6 are supported.
// - 3.5+ accepts {"linearizable": true} on member/list: the list then goes through the leader, so a partitioned
//   member cannot answer a stale one, but without a leader it never answers. memberList() (used before changes)
//   sends it when the cluster's version (/version etcdcluster) is 3.5 or later; memberListAt() (observation)
//   never does, so a cluster without a leader is still seen, from each member's local view, as one without quorum.
//   3.4 always serves the list from the answering member's local view.
// - 3.6 removed the v2 API entirely; nothing here uses v2.
// - 3.4 to 3.6 allow one learner at a time by default (3.5+ has --experimental-max-learners); a second add
//   answers 'too-many-learners'.
// - etcd refuses membership changes for about 5 s after a member (re)starts ("unhealthy cluster"), because it
//   wants every peer connected for that long; callers should retry unhealthy-cluster with a bounded backoff.
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance } from 'axios';
import { memberIdToDecimal } from '../../core/ids.js';
import { parseMemberURL } from '../../core/urls.js';
import type { Member, MemberId } from '../../core/types.js';
import { classifyEtcdError, EtcdError, isEtcdError, isInvalidTokenMessage, isRetryableOnAnotherEndpoint } from './errors.js';
import { createTransportAgents, sharedTransportAgents, type EtcdTlsOptions, type TransportAgents } from './tls.js';
import { openSnapshotStream, type SnapshotHeader, type SnapshotStreamOptions, type SnapshotTransport } from './snapshot.js';
import {
  alarmListSchema,
  authenticateSchema,
  deleteRangeSchema,
  type EtcdAlarm,
  errorBodySchema,
  headerOnlySchema,
  healthSchema,
  type KeyValue,
  leaseGrantSchema,
  leaseRevokeSchema,
  type MaintenanceStatus,
  memberAddSchema,
  memberChangeSchema,
  memberListSchema,
  parseWire,
  prefixRangeEnd,
  rangeSchema,
  statusSchema,
  toAlarms,
  toBase64,
  toKeyValue,
  toMember,
  toMembers,
  toStatus,
  txnSchema,
  versionSchema,
  leaseKeepAliveSchema,
} from './wire.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;
export const DEFAULT_DEADLINE_MS = 10_000;

export interface EtcdAuthOptions {
  readonly username: string;
  readonly password: string;
}

export interface EtcdClientOptions {
  /** Client URLs, tried in order (starting with the last one that answered). */
  readonly endpoints: readonly string[];
  /** Bound for one HTTP request to one endpoint. */
  readonly requestTimeoutMs?: number;
  /** Bound for one call across all endpoints it fails over to. */
  readonly deadlineMs?: number;
  readonly tls?: EtcdTlsOptions;
  readonly auth?: EtcdAuthOptions;
  /**
   * Use the process's shared connections for this TLS identity (sharedTransportAgents): connections and TLS
   * sessions outlive this client, and close() leaves them open. Default: agents of its own, closed with it.
   */
  readonly pooled?: boolean;
}

/** Node's errors for a kept-alive connection the other side closed while it sat in the pool. */
const STALE_CONNECTION_CODES: readonly string[] = ['ECONNRESET', 'EPIPE'];

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly requestTimeoutMs?: number;
  readonly deadlineMs?: number;
}

export interface EtcdVersion {
  readonly server: string;
  readonly cluster: string;
}

export interface MemberList {
  readonly clusterId: bigint;
  /** The member that answered. */
  readonly memberId: MemberId;
  readonly members: readonly Member[];
  /** The endpoint that answered. */
  readonly endpoint: string;
}

export interface MemberAddResult {
  readonly member: Member;
  readonly members: readonly Member[];
}

export interface PutIfAbsentResult {
  /** True when the key did not exist and now holds the value. */
  readonly created: boolean;
  /** The key as it was when the put did not happen (the current holder). */
  readonly existing?: KeyValue;
  readonly revision: bigint;
}

export interface LearnerProgress {
  readonly learnerId: MemberId;
  /** Committed raft index the learner reports; undefined when it does not answer (e.g. not started). */
  readonly learnerIndex: bigint | undefined;
  readonly leaderIndex: bigint | undefined;
  /** etcd promotes a learner whose log is within 90% of the leader's; this mirrors that rule as a hint. */
  readonly probablyInSync: boolean;
}

type HttpMethod = 'GET' | 'POST';

/** Parses a semantic version prefix ("3.5.17" → [3, 5]); undefined when it does not look like one. */
export function majorMinor(version: string): readonly [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(version);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** 3.5 added linearizable member lists. `version` is the cluster's (etcdcluster): every member runs at least it. */
export function supportsLinearizableMemberList(version: string | undefined): boolean {
  const mm = version === undefined ? undefined : majorMinor(version);
  return mm !== undefined && (mm[0] > 3 || (mm[0] === 3 && mm[1] >= 5));
}

/**
 * EtcdClient talks to one cluster through etcd's v3 JSON gateway at `endpoints`. A call starts at the endpoint
 * that answered last and fails over to the next one when an endpoint is unavailable, times out or refuses with
 * 'unhealthy-cluster', each try bounded by the request timeout and the whole call by the deadline; the `*At`
 * calls ask one endpoint only. With auth, it authenticates on first use and again when the token is rejected.
 *
 * Failures are always an {@link EtcdError} with a code (e.g. 'member-not-found', 'unhealthy-cluster',
 * 'unavailable', 'timeout', 'aborted'), so callers decide by code, never by message text. It holds no
 * membership logic. Call `close()` when done to free pooled connections.
 */
export class EtcdClient {
  readonly endpoints: readonly string[];
  private readonly requestTimeoutMs: number;
  private readonly deadlineMs: number;
  private readonly auth: EtcdAuthOptions | undefined;
  private readonly agents: TransportAgents;
  private readonly ownsAgents: boolean;
  private readonly tls: EtcdTlsOptions | undefined;
  private readonly http: AxiosInstance;
  /** Index of the endpoint that answered last; calls start there. */
  private preferred = 0;
  private token: string | undefined;
  private version: Promise<EtcdVersion | undefined> | undefined;

  constructor(options: EtcdClientOptions) {
    this.endpoints = options.endpoints.map((raw) => {
      try {
        return parseMemberURL(raw);
      } catch (err) {
        throw new EtcdError('invalid-argument', `invalid etcd endpoint ${JSON.stringify(raw)}: ${(err as Error).message}`, { cause: err });
      }
    });
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.auth = options.auth;
    this.ownsAgents = options.pooled !== true;
    this.agents = this.ownsAgents ? createTransportAgents(options.tls) : sharedTransportAgents(options.tls);
    this.tls = options.tls;
    this.http = axios.create({
      httpAgent: this.agents.httpAgent,
      httpsAgent: this.agents.httpsAgent,
      // etcd is cluster-internal: never route it through an HTTP(S)_PROXY from the environment.
      proxy: false,
      maxRedirects: 0,
      // We parse (and validate) the body ourselves, for every status.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
    });
  }

  /** Frees this client's connections (shared ones stay open for the next client). */
  close(): void {
    if (!this.ownsAgents) return;
    this.agents.httpAgent.destroy();
    this.agents.httpsAgent.destroy();
  }

  // ---- membership ----

  /**
   * The member list through fail-over; linearizable (through the leader) when the cluster's version supports it,
   * so it is the view a membership change is decided on. Without a leader on 3.5+ this times out.
   */
  async memberList(options: CallOptions = {}): Promise<MemberList> {
    const linearizable = supportsLinearizableMemberList((await this.serverVersion(options))?.cluster);
    const { body, endpoint } = await this.call('POST', '/v3/cluster/member/list', linearizable ? { linearizable: true } : {}, options);
    return toMemberList(body, endpoint);
  }

  /**
   * The member list as exactly this endpoint knows it (serializable: its local view, on every version), within
   * `timeoutMs`, no fail-over. For observing many endpoints at once, so hung ones cost one timeout together, and
   * so a cluster without a leader is still seen. Never decide a change on it alone: see memberList().
   */
  async memberListAt(endpoint: string, options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {}): Promise<MemberList> {
    return toMemberList(
      await this.requestAt(endpoint, 'POST', '/v3/cluster/member/list', {}, options.timeoutMs ?? this.requestTimeoutMs, options.signal),
      endpoint,
    );
  }

  async memberAdd(peerURLs: readonly string[], add: { readonly asLearner: boolean }, options: CallOptions = {}): Promise<MemberAddResult> {
    const request = add.asLearner ? { peerURLs, isLearner: true } : { peerURLs };
    const { body, endpoint } = await this.call('POST', '/v3/cluster/member/add', request, options);
    const wire = parseWire(memberAddSchema, body, 'member add', endpoint);
    return { member: toMember(wire.member), members: toMembers(wire.members) };
  }

  /** Removes a member; answers the member list after the removal. */
  async memberRemove(id: MemberId, options: CallOptions = {}): Promise<readonly Member[]> {
    const { body, endpoint } = await this.call('POST', '/v3/cluster/member/remove', { ID: memberIdToDecimal(id) }, options);
    return toMembers(parseWire(memberChangeSchema, body, 'member remove', endpoint).members);
  }

  /** Promotes a learner; 'learner-not-ready' while it is not in sync, 'member-not-learner' for a voter. */
  async memberPromote(id: MemberId, options: CallOptions = {}): Promise<readonly Member[]> {
    const { body, endpoint } = await this.call('POST', '/v3/cluster/member/promote', { ID: memberIdToDecimal(id) }, options);
    return toMembers(parseWire(memberChangeSchema, body, 'member promote', endpoint).members);
  }

  /** Changes a member's peer URLs (a member that came back on a new address with its data). */
  async memberUpdate(id: MemberId, peerURLs: readonly string[], options: CallOptions = {}): Promise<readonly Member[]> {
    const { body, endpoint } = await this.call('POST', '/v3/cluster/member/update', { ID: memberIdToDecimal(id), peerURLs }, options);
    return toMembers(parseWire(memberChangeSchema, body, 'member update', endpoint).members);
  }

  // ---- maintenance ----

  /** Status of whichever endpoint answers (fail-over applies). */
  async status(options: CallOptions = {}): Promise<MaintenanceStatus & { readonly endpoint: string }> {
    const { body, endpoint } = await this.call('POST', '/v3/maintenance/status', {}, options);
    return { ...toStatus(parseWire(statusSchema, body, 'status', endpoint)), endpoint };
  }

  /** Status of exactly this endpoint: one request bounded by `timeoutMs`, no fail-over. */
  async statusAt(
    endpoint: string,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<MaintenanceStatus> {
    const body = await this.requestAt(
      endpoint,
      'POST',
      '/v3/maintenance/status',
      {},
      options.timeoutMs ?? this.requestTimeoutMs,
      options.signal,
    );
    return toStatus(parseWire(statusSchema, body, 'status', endpoint));
  }

  /**
   * The cluster's active alarms (etcd's Maintenance Alarm, action GET), asked of exactly this endpoint within
   * `timeoutMs`, no fail-over. etcd answers it through raft, so a member without a quorum does not answer.
   */
  async alarmListAt(
    endpoint: string,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<readonly EtcdAlarm[]> {
    const body = await this.requestAt(
      endpoint,
      'POST',
      '/v3/maintenance/alarm',
      { action: 'GET' },
      options.timeoutMs ?? this.requestTimeoutMs,
      options.signal,
    );
    return toAlarms(parseWire(alarmListSchema, body, 'alarm list', endpoint));
  }

  /**
   * Compacts the key-value store's history up to `revision` (etcd's KV Compact, physical: the call returns once the
   * answering member removed the old revisions from its database). Fail-over applies. Answers false when a
   * compaction covers that revision already (etcd's "required revision has been compacted"): nothing to do.
   */
  async compact(revision: bigint, options: CallOptions = {}): Promise<boolean> {
    try {
      const { body, endpoint } = await this.call('POST', '/v3/kv/compaction', { revision: revision.toString(), physical: true }, options);
      parseWire(headerOnlySchema, body, 'compaction', endpoint);
      return true;
    } catch (err) {
      if (isEtcdError(err, 'compacted')) return false;
      throw err;
    }
  }

  /**
   * Defragments exactly this member (etcd's Maintenance Defragment): it rewrites its database without the free
   * space and answers nothing else meanwhile, so bound it generously with `timeoutMs`. No fail-over: another
   * member answering would defragment the wrong one.
   */
  async defragmentAt(endpoint: string, options: { readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<void> {
    const body = await this.requestAt(endpoint, 'POST', '/v3/maintenance/defragment', {}, options.timeoutMs, options.signal);
    parseWire(headerOnlySchema, body, 'defragment', endpoint);
  }

  /**
   * Disarms one active alarm that `memberId` raised (etcd's Maintenance Alarm, action DEACTIVATE), e.g. NOSPACE
   * once there is room again. Fail-over applies; disarming an alarm that is not active is harmless.
   */
  async alarmDisarm(memberId: MemberId, alarm: 'NOSPACE', options: CallOptions = {}): Promise<void> {
    const { body, endpoint } = await this.call(
      'POST',
      '/v3/maintenance/alarm',
      { action: 'DEACTIVATE', memberID: memberIdToDecimal(memberId), alarm },
      options,
    );
    parseWire(alarmListSchema, body, 'alarm disarm', endpoint);
  }

  /**
   * A snapshot of exactly this endpoint, streamed (snapshot.ts): its bytes as they arrive, never the whole
   * database in memory, and the header (cluster, member, revision) of its first message.
   */
  async snapshotAt(
    endpoint: string,
    options: SnapshotStreamOptions & { readonly transport?: SnapshotTransport } = {},
  ): Promise<{ readonly bytes: Readable; readonly header: Promise<SnapshotHeader> }> {
    if (this.auth !== undefined && this.token === undefined)
      this.token = await this.authenticate(endpoint, this.requestTimeoutMs, options.signal);
    return openSnapshotStream(this.http, endpoint, this.token, { ...options, ...(this.tls !== undefined && { tls: this.tls }) });
  }

  /** etcd's /health: true when the answering member reports itself healthy. */
  async health(options: CallOptions = {}): Promise<boolean> {
    const { body, endpoint } = await this.call('GET', '/health', undefined, options);
    const wire = parseWire(healthSchema, body, 'health', endpoint);
    return wire.health === true || wire.health === 'true';
  }

  /** /version of whichever endpoint answers. */
  async getVersion(options: CallOptions = {}): Promise<EtcdVersion> {
    const { body, endpoint } = await this.call('GET', '/version', undefined, options);
    const wire = parseWire(versionSchema, body, 'version', endpoint);
    return { server: wire.etcdserver, cluster: wire.etcdcluster };
  }

  /** The cached server version, or undefined when it cannot be read (then only 3.4 features are used). */
  private async serverVersion(options: CallOptions): Promise<EtcdVersion | undefined> {
    this.version ??= this.getVersion(options).catch((err: unknown) => {
      this.version = undefined; // try again next time
      if (isEtcdError(err, 'aborted')) throw err;
      return undefined;
    });
    return this.version;
  }

  /**
   * How far a learner is behind the leader, from both members' own status. A hint for when to try
   * memberPromote; etcd's answer to the promote itself is authoritative.
   */
  async learnerProgress(learnerId: MemberId, options: CallOptions = {}): Promise<LearnerProgress> {
    const list = await this.memberList(options);
    const learner = list.members.find((m) => m.id === learnerId);
    if (learner === undefined) throw new EtcdError('member-not-found', `member ${learnerId.toString()} is not in the member list`);
    const anyStatus = await this.status(options);
    const leader = list.members.find((m) => m.id === anyStatus.leader);
    const indexOf = async (member: Member | undefined): Promise<bigint | undefined> => {
      for (const url of member?.clientURLs ?? []) {
        try {
          return (await this.statusAt(url, { signal: options.signal })).raftIndex;
        } catch (err) {
          if (isEtcdError(err, 'aborted')) throw err;
        }
      }
      return undefined;
    };
    const [learnerIndex, leaderIndex] = await Promise.all([indexOf(learner), indexOf(leader)]);
    const probablyInSync = learnerIndex !== undefined && leaderIndex !== undefined && learnerIndex * 10n >= leaderIndex * 9n;
    return { learnerId, learnerIndex, leaderIndex, probablyInSync };
  }

  // ---- leases and keys (values are UTF-8 text; the gateway carries them as base64) ----

  async leaseGrant(ttlSeconds: number, options: CallOptions = {}): Promise<{ readonly id: bigint; readonly ttlSeconds: number }> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
      throw new EtcdError('invalid-argument', `lease TTL must be a positive integer, got ${ttlSeconds}`);
    const { body, endpoint } = await this.call('POST', '/v3/lease/grant', { TTL: String(ttlSeconds) }, options);
    const wire = parseWire(leaseGrantSchema, body, 'lease grant', endpoint);
    if (wire.error !== undefined && wire.error !== '')
      throw new EtcdError(classifyEtcdError(wire.error, undefined, 200), wire.error, { etcdMessage: wire.error, endpoint });
    return { id: BigInt(wire.ID), ttlSeconds: Number(wire.TTL) };
  }

  async leaseRevoke(id: bigint, options: CallOptions = {}): Promise<void> {
    const { body, endpoint } = await this.call('POST', '/v3/lease/revoke', { ID: id.toString() }, options);
    parseWire(leaseRevokeSchema, body, 'lease revoke', endpoint);
  }

  /**
   * Renews a lease once (one message of etcd's LeaseKeepAlive stream). Answers the TTL it was renewed to;
   * 0 when the lease has expired or never existed (etcd answers without a TTL then).
   */
  async leaseKeepAlive(id: bigint, options: CallOptions = {}): Promise<number> {
    const { body, endpoint } = await this.call('POST', '/v3/lease/keepalive', { ID: id.toString() }, options);
    const wire = parseWire(leaseKeepAliveSchema, body, 'lease keepalive', endpoint);
    if (wire.result === undefined)
      throw new EtcdError('unavailable', `etcd at ${endpoint} answered no lease keepalive result`, { endpoint });
    return Number(wire.result.TTL);
  }

  /**
   * Puts `key` only if it does not exist (compare create_revision == 0), optionally bound to a lease.
   * When it exists, answers the current key instead: that is who holds the lock or marker.
   */
  async putIfAbsent(
    key: string,
    value: string,
    put: { readonly leaseId?: bigint } = {},
    options: CallOptions = {},
  ): Promise<PutIfAbsentResult> {
    const encodedKey = toBase64(key);
    const request = {
      compare: [{ key: encodedKey, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
      success: [
        { requestPut: { key: encodedKey, value: toBase64(value), ...(put.leaseId !== undefined && { lease: put.leaseId.toString() }) } },
      ],
      failure: [{ requestRange: { key: encodedKey } }],
    };
    const { body, endpoint } = await this.call('POST', '/v3/kv/txn', request, options);
    const wire = parseWire(txnSchema, body, 'txn', endpoint);
    const revision = wire.header?.revision ?? 0n;
    if (wire.succeeded === true) return { created: true, revision };
    const existing = wire.responses?.[0]?.response_range?.kvs?.[0];
    return { created: false, revision, ...(existing !== undefined && { existing: toKeyValue(existing) }) };
  }

  async get(key: string, options: CallOptions = {}): Promise<KeyValue | undefined> {
    const { body, endpoint } = await this.call('POST', '/v3/kv/range', { key: toBase64(key) }, options);
    const first = parseWire(rangeSchema, body, 'range', endpoint).kvs?.[0];
    return first === undefined ? undefined : toKeyValue(first);
  }

  async getPrefix(prefix: string, options: CallOptions = {}): Promise<readonly KeyValue[]> {
    const { body, endpoint } = await this.call(
      'POST',
      '/v3/kv/range',
      { key: toBase64(prefix), range_end: prefixRangeEnd(prefix) },
      options,
    );
    return (parseWire(rangeSchema, body, 'range', endpoint).kvs ?? []).map(toKeyValue);
  }

  /** Deletes a key (or every key under a prefix); answers how many were deleted. */
  async delete(key: string, del: { readonly prefix?: boolean } = {}, options: CallOptions = {}): Promise<number> {
    const request = del.prefix === true ? { key: toBase64(key), range_end: prefixRangeEnd(key) } : { key: toBase64(key) };
    const { body, endpoint } = await this.call('POST', '/v3/kv/deleterange', request, options);
    return Number(parseWire(deleteRangeSchema, body, 'delete', endpoint).deleted);
  }

  // ---- transport ----

  /**
   * One call with fail-over: tries each endpoint once, starting with the one that answered last, moving on
   * after transport errors, timeouts and Unavailable answers, within the overall deadline. An error etcd
   * itself answered is preferred over transport errors in what is finally thrown.
   */
  private async call(method: HttpMethod, path: string, body: unknown, options: CallOptions): Promise<{ body: unknown; endpoint: string }> {
    if (this.endpoints.length === 0) throw new EtcdError('unavailable', 'no etcd endpoints configured');
    const deadline = Date.now() + (options.deadlineMs ?? this.deadlineMs);
    const perRequest = options.requestTimeoutMs ?? this.requestTimeoutMs;
    let answered: EtcdError | undefined;
    let transport: EtcdError | undefined;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.preferred + i) % this.endpoints.length;
      const endpoint = this.endpoints[index] ?? '';
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        const result = await this.requestAt(endpoint, method, path, body, Math.min(perRequest, remaining), options.signal);
        this.preferred = index;
        return { body: result, endpoint };
      } catch (err) {
        if (!isEtcdError(err) || !isRetryableOnAnotherEndpoint(err.code)) throw err;
        if (err.etcdMessage !== undefined) answered = err;
        else transport = err;
      }
    }
    if (answered !== undefined) throw answered;
    if (Date.now() >= deadline) {
      throw new EtcdError('timeout', `no etcd endpoint answered ${path} within ${options.deadlineMs ?? this.deadlineMs} ms`, {
        cause: transport,
      });
    }
    throw new EtcdError(
      'unavailable',
      `no etcd endpoint answered ${path} (tried ${this.endpoints.join(', ')}): ${transport?.message ?? ''}`,
      {
        cause: transport,
      },
    );
  }

  /** One request to one endpoint, authenticating (again, once) when the cluster wants a token. */
  private async requestAt(
    endpoint: string,
    method: HttpMethod,
    path: string,
    body: unknown,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (this.auth !== undefined && this.token === undefined) this.token = await this.authenticate(endpoint, timeoutMs, signal);
    try {
      return await this.send(endpoint, method, path, body, timeoutMs, signal);
    } catch (err) {
      if (this.auth === undefined || !isEtcdError(err, 'auth-required') || !isInvalidTokenMessage(err.etcdMessage)) throw err;
      this.token = await this.authenticate(endpoint, timeoutMs, signal);
      return this.send(endpoint, method, path, body, timeoutMs, signal);
    }
  }

  private async authenticate(endpoint: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<string> {
    const auth = this.auth;
    if (auth === undefined) throw new EtcdError('auth-required', 'no etcd credentials configured');
    const body = await this.send(
      endpoint,
      'POST',
      '/v3/auth/authenticate',
      { name: auth.username, password: auth.password },
      timeoutMs,
      signal,
      false,
    );
    return parseWire(authenticateSchema, body, 'authenticate', endpoint).token;
  }

  private async send(
    endpoint: string,
    method: HttpMethod,
    path: string,
    body: unknown,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    withToken = true,
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (withToken && this.token !== undefined) headers.authorization = this.token;
    let status: number;
    let text: string;
    try {
      const request = () =>
        this.http.request<string>({
          url: `${endpoint}${path}`,
          method,
          headers,
          ...(body !== undefined && { data: JSON.stringify(body) }),
          signal: combined,
        });
      let response;
      try {
        response = await request();
      } catch (err) {
        // A kept-alive connection etcd closed while it was idle fails as it is reused, before any answer: the
        // request is sent again once, on a new connection (the pool drops the closed one). As safe as the
        // fail-over to another endpoint every call already does for an unreachable one.
        if (!isStaleConnection(err) || combined.aborted) throw err;
        response = await request();
      }
      status = response.status;
      text = typeof response.data === 'string' ? response.data : '';
    } catch (err) {
      if (signal?.aborted === true)
        throw new EtcdError('aborted', `etcd request ${path} to ${endpoint} was cancelled`, { endpoint, cause: err });
      if (timeout.aborted)
        throw new EtcdError('timeout', `etcd at ${endpoint} did not answer ${path} within ${timeoutMs} ms`, { endpoint, cause: err });
      const reason = (err as { code?: string }).code ?? (err as Error).message;
      throw new EtcdError('unavailable', `etcd at ${endpoint} is unreachable (${reason})`, { endpoint, cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      if (status >= 200 && status < 300) {
        throw new EtcdError('invalid-response', `etcd at ${endpoint} answered ${path} with invalid JSON`, {
          endpoint,
          httpStatus: status,
          cause: err,
        });
      }
      parsed = undefined; // e.g. a plain "Not Found" from the gateway
    }
    if (status >= 200 && status < 300) return parsed;
    throw errorFromAnswer(status, parsed, text, endpoint, path);
  }
}

/** Whether `err` is a transport failure on a reused kept-alive connection, before any answer came. */
export function isStaleConnection(err: unknown): boolean {
  const failure = err as { code?: unknown; request?: { reusedSocket?: unknown }; response?: unknown } | undefined;
  return (
    failure?.request?.reusedSocket === true &&
    failure.response === undefined &&
    typeof failure.code === 'string' &&
    STALE_CONNECTION_CODES.includes(failure.code)
  );
}

function toMemberList(body: unknown, endpoint: string): MemberList {
  const wire = parseWire(memberListSchema, body, 'member list', endpoint);
  if (wire.header === undefined || wire.header.cluster_id === 0n) {
    throw new EtcdError('invalid-response', 'etcd answered a member list without a cluster ID', { endpoint });
  }
  return { clusterId: wire.header.cluster_id, memberId: wire.header.member_id, members: toMembers(wire.members), endpoint };
}

/** The typed error for a non-2xx answer of the gateway. Pure; exported for unit tests. */
export function errorFromAnswer(status: number, parsed: unknown, text: string, endpoint: string, path: string): EtcdError {
  const errorBody = errorBodySchema.safeParse(parsed);
  const etcdMessage = errorBody.success ? (errorBody.data.error ?? errorBody.data.message) : undefined;
  const grpcCode = errorBody.success ? errorBody.data.code : undefined;
  const code = classifyEtcdError(etcdMessage, grpcCode, status);
  const shown = etcdMessage ?? (text.trim().slice(0, 200) || `HTTP ${status}`);
  return new EtcdError(code, `etcd at ${endpoint} refused ${path}: ${shown}`, {
    ...(etcdMessage !== undefined && { etcdMessage }),
    ...(grpcCode !== undefined && { grpcCode }),
    httpStatus: status,
    endpoint,
  });
}
