// Transport security for the etcd client: a CA bundle, a client certificate and key, in one https.Agent; and the
// agents shared by every client of this process with the same TLS identity, so connections (and their TLS
// handshakes) outlive one client: a warm Lambda container or a long CLI run reuses them.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { createSecureContext } from 'node:tls';

/** PEM contents (not paths); see readTlsFiles for paths. */
export interface EtcdTlsOptions {
  /** CA bundle that signed the etcd servers' certificates; Node's default roots when left out. */
  readonly ca?: string | Buffer;
  /** Client certificate and key, for etcd's --client-cert-auth. Both or neither. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Only for tests against throwaway certificates; defaults to true. */
  readonly rejectUnauthorized?: boolean;
  /** Overrides the name checked against the server certificate (etcd certs often name IPs only). */
  readonly serverName?: string;
}

export interface EtcdTlsFiles {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export class EtcdTlsConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EtcdTlsConfigError';
  }
}

/** Reads the PEM files named by the CLI flags; a missing file is a clear EtcdTlsConfigError. */
export async function readTlsFiles(files: EtcdTlsFiles): Promise<EtcdTlsOptions> {
  const read = async (path: string | undefined, what: string): Promise<Buffer | undefined> => {
    if (path === undefined || path === '') return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new EtcdTlsConfigError(`cannot read the etcd ${what} file ${JSON.stringify(path)}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read(files.caFile, 'CA'),
    read(files.certFile, 'client certificate'),
    read(files.keyFile, 'client key'),
  ]);
  return { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
}

/** The agent options for the given TLS settings; pure, so tests can check them. */
export function httpsAgentOptions(tls: EtcdTlsOptions | undefined): HttpsAgentOptions {
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    throw new EtcdTlsConfigError('an etcd client certificate needs its key, and a key its certificate');
  }
  return {
    // Keep-alive saves a TLS handshake per request; idle sockets do not keep the process alive.
    keepAlive: true,
    ...(tls?.ca !== undefined && { ca: tls.ca }),
    ...(tls?.cert !== undefined && { cert: tls.cert }),
    ...(tls?.key !== undefined && { key: tls.key }),
    ...(tls?.serverName !== undefined && { servername: tls.serverName }),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
  };
}

export interface TransportAgents {
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
}

/**
 * How long a pooled connection may sit idle before it is closed. Long enough for the invocations of one burst
 * (a scale-out, a rolling update, the reconcile pass after an event) to share it; a later reconnect still
 * resumes the TLS session (the agent's session cache), a cheaper handshake than the first.
 */
export const IDLE_SOCKET_TIMEOUT_MS = 60_000;

/** Agents of its own for one client, closed with it. One secure context serves all its TLS connections. */
export function createTransportAgents(tls: EtcdTlsOptions | undefined): TransportAgents {
  const options = httpsAgentOptions(tls);
  // Without it, every new TLS connection parses the CA, the certificate and the key again.
  let secureContext;
  try {
    secureContext = createSecureContext({
      ...(options.ca !== undefined && { ca: options.ca }),
      ...(options.cert !== undefined && { cert: options.cert }),
      ...(options.key !== undefined && { key: options.key }),
    });
  } catch (err) {
    throw new EtcdTlsConfigError(`the etcd TLS settings cannot be used: ${(err as Error).message}`, { cause: err });
  }
  return {
    httpAgent: new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS }),
    httpsAgent: new HttpsAgent({ ...options, secureContext, timeout: IDLE_SOCKET_TIMEOUT_MS }),
  };
}

/** At most this many TLS identities keep shared agents at once (a process talks to one or two clusters). */
const SHARED_IDENTITIES = 8;
const shared = new Map<string, TransportAgents>();

/**
 * The agents every client of this process with this TLS identity (CA, certificate, key, server name, checking)
 * shares: kept-alive connections and TLS sessions survive the client, and a warm Lambda container's next
 * invocation. Keyed by content, so a renewed certificate or another CA gets agents of its own. Never destroy
 * them: an evicted identity's idle connections close after IDLE_SOCKET_TIMEOUT_MS, and idle pooled sockets do
 * not keep the process alive.
 */
export function sharedTransportAgents(tls: EtcdTlsOptions | undefined): TransportAgents {
  const key = identityKey(tls);
  const found = shared.get(key);
  shared.delete(key);
  const agents = found ?? createTransportAgents(tls);
  shared.set(key, agents); // most recently used last
  for (const oldest of shared.keys()) {
    if (shared.size <= SHARED_IDENTITIES) break;
    shared.delete(oldest);
  }
  return agents;
}

function identityKey(tls: EtcdTlsOptions | undefined): string {
  const hash = createHash('sha256');
  for (const part of [tls?.ca, tls?.cert, tls?.key, tls?.serverName, String(tls?.rejectUnauthorized ?? true)]) {
    hash.update(part === undefined ? '-' : `${Buffer.byteLength(part)}:`);
    if (part !== undefined) hash.update(part);
  }
  return hash.digest('hex');
}
