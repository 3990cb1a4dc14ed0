// Retries for etcd's transient refusals. etcd answers "unhealthy cluster" to reconfigurations for a few
// seconds after a member started or left (it wants every voter connected for 5 s first), and a member may be
// briefly unreachable during an election. Those are retried with backoff within a bound; anything else fails at once.
import pRetry from 'p-retry';
import { isEtcdError } from '../adapters/etcd/index.js';
import type { Logger } from './log.js';

export const DEFAULT_TRANSIENT_RETRY_MS = 20_000;

/** etcd's refusals that pass on their own: reconfiguration back-off ('unhealthy-cluster'), no answer, timeout. */
export function isTransientEtcdError(err: unknown): boolean {
  return isEtcdError(err) && (err.code === 'unhealthy-cluster' || err.code === 'unavailable' || err.code === 'timeout');
}

/**
 * retryTransient runs `fn`, retrying with backoff while it fails with a transient etcd error, for at most
 * `maxRetryTimeMs` (default {@link DEFAULT_TRANSIENT_RETRY_MS}) or until `signal` aborts. Any other error, and
 * the last transient one once the time is up, is thrown as is. `fn` must be safe to repeat.
 */
export async function retryTransient<T>(
  what: string,
  fn: () => Promise<T>,
  options: { readonly log: Logger; readonly maxRetryTimeMs?: number; readonly signal?: AbortSignal },
): Promise<T> {
  return pRetry(fn, {
    retries: Number.POSITIVE_INFINITY,
    minTimeout: 250,
    maxTimeout: 3000,
    factor: 1.7,
    maxRetryTime: options.maxRetryTimeMs ?? DEFAULT_TRANSIENT_RETRY_MS,
    ...(options.signal !== undefined && { signal: options.signal }),
    shouldRetry: ({ error }) => isTransientEtcdError(error),
    onFailedAttempt: ({ error, attemptNumber }) => {
      if (isTransientEtcdError(error))
        options.log.debug(2, `${what}: etcd is not ready (${error.message}); retrying (attempt ${attemptNumber})`);
    },
  });
}
