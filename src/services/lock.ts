// A cluster-wide lock held in etcd itself: a lease and a create-only transaction on a well-known key.
// Membership changes by any elastic-etcd (CLI or Lambda) for this cluster happen one at a time under it.
// If the holder dies, its lease expires and the lock frees itself after `ttlSeconds`; while the holder lives,
// the lease is kept alive (a change may outlive the TTL: several removals, each retried for up to 20 s).
import pRetry from 'p-retry';
import { isEtcdError, type EtcdClient } from '../adapters/etcd/index.js';
import type { Logger } from './log.js';
import { retryTransient } from './retry.js';

export const LOCK_KEY = '/elastic-etcd/lock';
export const DEFAULT_LOCK_TTL_SECONDS = 60;

export class LockTimeoutError extends Error {
  constructor(
    readonly holder: string | undefined,
    readonly waitedMs: number,
  ) {
    super(
      `could not take the cluster lock ${LOCK_KEY} within ${Math.round(waitedMs / 1000)} s` +
        (holder === undefined ? '' : `; it is held by ${holder}`),
    );
    this.name = 'LockTimeoutError';
  }
}

class LockBusy extends Error {
  constructor(readonly holder: string | undefined) {
    super(`the cluster lock is held by ${holder ?? 'someone'}`);
  }
}

export interface LockOptions {
  readonly holder: string;
  readonly timeoutMs: number;
  readonly ttlSeconds?: number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** How often the lease is renewed while the lock is held; default a third of the TTL, well inside it. */
  readonly keepAliveMs?: number;
}

/**
 * withClusterLock runs `fn` while holding the cluster lock (a key under a lease that is kept alive while `fn`
 * runs), and releases it afterwards whether `fn` succeeds or throws. Waits, with backoff, at most `timeoutMs`.
 * A lock that cannot be released, or whose holder crashed, frees itself when its lease expires.
 *
 * @throws LockTimeoutError when another holder keeps the lock for longer than `timeoutMs`.
 */
export async function withClusterLock<T>(client: EtcdClient, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const ttl = options.ttlSeconds ?? DEFAULT_LOCK_TTL_SECONDS;
  const value = JSON.stringify({ holder: options.holder, pid: process.pid, since: new Date(started).toISOString() });
  let lastHolder: string | undefined;
  const leaseId = await pRetry(
    async () => {
      const lease = await client.leaseGrant(ttl, { signal: options.signal });
      const put = await client.putIfAbsent(LOCK_KEY, value, { leaseId: lease.id }, { signal: options.signal });
      if (put.created) return lease.id;
      await client.leaseRevoke(lease.id).catch(() => undefined); // unused lease: let it go now rather than at TTL
      lastHolder = holderOf(put.existing?.value);
      throw new LockBusy(lastHolder);
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 200,
      maxTimeout: 2000,
      factor: 1.6,
      randomize: true,
      maxRetryTime: options.timeoutMs,
      ...(options.signal !== undefined && { signal: options.signal }),
      shouldRetry: ({ error }) =>
        error instanceof LockBusy || (isEtcdError(error) && ['unavailable', 'timeout', 'unhealthy-cluster'].includes(error.code)),
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (error instanceof LockBusy)
          options.log.debug(2, `waiting for the cluster lock (attempt ${attemptNumber})`, { holder: error.holder });
        else options.log.debug(2, `taking the cluster lock failed, retrying: ${error.message}`);
      },
    },
  ).catch((err: unknown) => {
    if (err instanceof LockBusy) throw new LockTimeoutError(err.holder, Date.now() - started);
    throw err;
  });
  options.log.debug(2, 'took the cluster lock', { waitedMs: Date.now() - started });
  const keepAlive = keepLeaseAlive(client, leaseId, options.keepAliveMs ?? (ttl * 1000) / 3, options.log);
  try {
    return await fn();
  } finally {
    await keepAlive.stop();
    // Release promptly, retrying briefly: right after a membership change (e.g. the leader was removed) etcd may
    // be electing and refuse for a moment. If it still fails, the lease expires after the TTL.
    await retryTransient('release the cluster lock', () => client.leaseRevoke(leaseId), { log: options.log, maxRetryTimeMs: 10_000 }).catch(
      (err: unknown) => {
        options.log.warn('could not release the cluster lock; it frees itself when its lease expires', {
          ttlSeconds: ttl,
          error: String(err),
        });
      },
    );
  }
}

/**
 * Renews the lock's lease every `everyMs` until stopped. A failed renewal is logged and tried again at the next
 * tick (the TTL leaves two more); a lease etcd no longer knows means the lock was lost, which is logged loudly.
 */
function keepLeaseAlive(client: EtcdClient, leaseId: bigint, everyMs: number, log: Logger): { stop: () => Promise<void> } {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    try {
      const ttl = await client.leaseKeepAlive(leaseId);
      if (ttl <= 0 && !stopped)
        log.error('the cluster lock lease expired while held; another holder may take the lock', { lease: leaseId.toString(16) });
      else log.debug(4, 'renewed the cluster lock lease', { ttl });
    } catch (err) {
      if (!stopped) log.warn('could not renew the cluster lock lease; retrying at the next interval', { error: String(err) });
    }
  };
  const timer = setInterval(
    () => {
      running = running.then(tick);
    },
    Math.max(1, Math.floor(everyMs)),
  );
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

function holderOf(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as { holder?: unknown; since?: unknown };
    return typeof parsed.holder === 'string' ? `${parsed.holder} (since ${String(parsed.since)})` : raw;
  } catch {
    return raw;
  }
}
