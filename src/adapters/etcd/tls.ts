// Transport security for the etcd client: a CA bundle, a client certificate and key, in one https.Agent.
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';

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

export function createTransportAgents(tls: EtcdTlsOptions | undefined): TransportAgents {
  return { httpAgent: new HttpAgent({ keepAlive: true }), httpsAgent: new HttpsAgent(httpsAgentOptions(tls)) };
}
