// One error type for everything the etcd adapter reports, so callers branch on `code`, never on text.
// etcd's own message is kept in `etcdMessage` for logs. The strings matched below were provoked against
// real etcd 3.4.23 and 3.5.30 (see test/integration/etcd-membership.test.ts and etcd-versions.test.ts, run on
// both); 3.6 keeps the same texts (rpctypes).

export type EtcdErrorCode =
  | 'unhealthy-cluster' // "etcdserver: unhealthy cluster" or "... not enough started members": a reconfiguration
  //                       would endanger quorum (also answered for ~5 s after a member starts)
  | 'peer-url-exists' // "etcdserver: Peer URLs already exists"
  | 'member-not-found' // "etcdserver: member not found"
  | 'member-not-learner' // "etcdserver: can only promote a learner member"
  | 'too-many-learners' // "etcdserver: too many learner members in cluster"
  | 'learner-not-ready' // "etcdserver: can only promote a learner member which is in sync with leader"
  | 'lease-not-found' // "etcdserver: requested lease not found"
  | 'compacted' // "etcdserver: mvcc: required revision has been compacted": a compaction covers that revision already
  | 'no-space' // "etcdserver: mvcc: database space exceeded": the NOSPACE alarm is active, writes are refused
  | 'auth-required' // permission denied, invalid auth token, bad credentials, or no credentials on an auth cluster
  | 'invalid-argument' // etcd rejected the request itself (e.g. "given member URLs are invalid")
  | 'unavailable' // no endpoint answered (refused, reset, 5xx without a definitive etcd error, no leader)
  | 'timeout' // the per-request timeout or the overall deadline ran out
  | 'aborted' // the caller's AbortSignal fired
  | 'invalid-response' // an answer that is not what the gateway sends (bad JSON, wrong shape, bad IDs)
  | 'other'; // any other etcd error; see etcdMessage and grpcCode

export class EtcdError extends Error {
  /** etcd's own error text, when etcd answered with one. */
  readonly etcdMessage: string | undefined;
  /** The gRPC status code etcd reported (e.g. 14 Unavailable), when it did. */
  readonly grpcCode: number | undefined;
  readonly httpStatus: number | undefined;
  /** The endpoint the (last) failing request went to. */
  readonly endpoint: string | undefined;

  constructor(
    readonly code: EtcdErrorCode,
    message: string,
    details: {
      readonly etcdMessage?: string;
      readonly grpcCode?: number;
      readonly httpStatus?: number;
      readonly endpoint?: string;
      readonly cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'EtcdError';
    this.etcdMessage = details.etcdMessage;
    this.grpcCode = details.grpcCode;
    this.httpStatus = details.httpStatus;
    this.endpoint = details.endpoint;
  }
}

export function isEtcdError(err: unknown, code?: EtcdErrorCode): err is EtcdError {
  return err instanceof EtcdError && (code === undefined || err.code === code);
}

/** gRPC status codes etcd uses in gateway error bodies. */
export const GrpcCode = {
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  PermissionDenied: 7,
  FailedPrecondition: 9,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;

// Ordered: the learner-not-ready text contains the member-not-learner text, so it must be tested first.
const MESSAGE_CODES: readonly (readonly [RegExp, EtcdErrorCode])[] = [
  [/unhealthy cluster|not enough started members/i, 'unhealthy-cluster'],
  [/peer urls? already exists?/i, 'peer-url-exists'],
  [/member not found/i, 'member-not-found'],
  [/too many learner members/i, 'too-many-learners'],
  [/learner member which is in sync with leader/i, 'learner-not-ready'],
  [/can only promote a learner member/i, 'member-not-learner'],
  [/requested lease not found/i, 'lease-not-found'],
  [/required revision has been compacted/i, 'compacted'],
  [/database space exceeded/i, 'no-space'],
  [
    /permission denied|invalid auth token|user name is empty|authentication failed|user name not found|invalid auth management/i,
    'auth-required',
  ],
];

/**
 * The adapter code for an error etcd answered with. Pure: used for the gateway's error bodies
 * (`{"error": "...", "code": n}`) and for statuses without a body.
 */
export function classifyEtcdError(
  etcdMessage: string | undefined,
  grpcCode: number | undefined,
  httpStatus: number | undefined,
): EtcdErrorCode {
  if (etcdMessage !== undefined) {
    for (const [pattern, code] of MESSAGE_CODES) if (pattern.test(etcdMessage)) return code;
  }
  if (grpcCode === GrpcCode.Unauthenticated || grpcCode === GrpcCode.PermissionDenied) return 'auth-required';
  if (httpStatus === 401 || httpStatus === 403) return 'auth-required';
  if (grpcCode === GrpcCode.Unavailable) return 'unavailable';
  if (grpcCode === GrpcCode.DeadlineExceeded) return 'timeout';
  if (grpcCode === GrpcCode.InvalidArgument) return 'invalid-argument';
  if (grpcCode === undefined && httpStatus !== undefined && httpStatus >= 500) return 'unavailable';
  return 'other';
}

/** True for an invalid-token answer, after which the client authenticates again once. */
export function isInvalidTokenMessage(etcdMessage: string | undefined): boolean {
  return etcdMessage !== undefined && /invalid auth token/i.test(etcdMessage);
}

/**
 * Whether another endpoint may answer differently: transport trouble, 5xx, Unavailable or a timeout inside
 * etcd (no leader, leader changed, learner cannot serve this rpc). Definitive answers (member not found,
 * peer URL exists, ...) are returned at once; an unhealthy-cluster answer also moves on, because etcd decides
 * it from the answering member's own view of its peers.
 */
export function isRetryableOnAnotherEndpoint(code: EtcdErrorCode): boolean {
  return code === 'unavailable' || code === 'timeout' || code === 'unhealthy-cluster';
}
