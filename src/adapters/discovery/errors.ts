// One error type for everything the discovery adapter can report, so callers branch on `code`, not on text.

export type DiscoveryErrorCode =
  | 'invalid-url' // the discovery URL itself is malformed
  | 'invalid-argument' // a bad name, member ID or peer URL was passed to register/deregister
  | 'not-found' // the token (or its size key) does not exist
  | 'invalid-response' // the service answered, but not in the etcd v2 keys shape we expect
  | 'unavailable' // connection refused/reset, DNS failure, or a 502/503/504 from the service
  | 'timeout' // no complete answer within the per-request timeout
  | 'aborted' // the caller's AbortSignal fired
  | 'conflict' // register: the key exists with a different value
  | 'http-error'; // any other unexpected HTTP status

export class DiscoveryError extends Error {
  constructor(
    readonly code: DiscoveryErrorCode,
    message: string,
    options?: { readonly status?: number; readonly url?: string; readonly cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DiscoveryError';
    this.status = options?.status;
    this.url = options?.url;
  }

  /** The HTTP status, when the service answered at all. */
  readonly status: number | undefined;
  /** The request URL the error is about, when there was a request. */
  readonly url: string | undefined;
}

export function isDiscoveryError(err: unknown, code?: DiscoveryErrorCode): err is DiscoveryError {
  return err instanceof DiscoveryError && (code === undefined || err.code === code);
}
