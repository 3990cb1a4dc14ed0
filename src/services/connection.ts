// How to talk to any member of one cluster: everything but the endpoints.
import { EtcdClient, type EtcdAuthOptions, type EtcdTlsOptions } from '../adapters/etcd/index.js';

export interface EtcdConnection {
  readonly tls?: EtcdTlsOptions;
  readonly auth?: EtcdAuthOptions;
  /** Bound for one request to one member. */
  readonly requestTimeoutMs: number;
  /** Bound for one member's health check; a hung member costs at most this. */
  readonly healthTimeoutMs: number;
}

/**
 * clientFor builds a client for `endpoints` (duplicates dropped) with the connection's TLS, auth and timeouts.
 * One call fails over across up to five endpoints, each bounded by the request timeout. The caller closes it.
 * Its connections are the process's shared ones for this TLS identity (EtcdClientOptions.pooled): a handler
 * invocation, and the next one in a warm container, pay each member's TLS handshake once, not once per client.
 */
export function clientFor(endpoints: readonly string[], connection: EtcdConnection): EtcdClient {
  return new EtcdClient({
    endpoints: [...new Set(endpoints)],
    requestTimeoutMs: connection.requestTimeoutMs,
    // Fail-over across every endpoint, each bounded by the request timeout.
    deadlineMs: connection.requestTimeoutMs * Math.max(1, Math.min(new Set(endpoints).size, 5)),
    ...(connection.tls !== undefined && { tls: connection.tls }),
    ...(connection.auth !== undefined && { auth: connection.auth }),
    pooled: true,
  });
}
