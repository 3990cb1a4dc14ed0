// From connection flags to the services' EtcdConnection: reads the TLS files named on the command line.
import type { EtcdConnection } from '../services/connection.js';
import type { CliDependencies } from './context.js';
import { UsageError } from './errors.js';
import type { ConnectionOptions } from './options.js';

/** The etcd connection flags the subcommands share, named as etcdctl names them (parseArgs options). */
export const CONNECTION_FLAGS = {
  'command-timeout': { type: 'string' },
  'health-timeout': { type: 'string' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'insecure-skip-tls-verify': { type: 'boolean' },
  user: { type: 'string' },
  password: { type: 'string' },
} as const;

export async function toEtcdConnection(options: ConnectionOptions, deps: Pick<CliDependencies, 'readTlsFiles'>): Promise<EtcdConnection> {
  const usesTls = options.caFile !== undefined || options.certFile !== undefined || options.insecureSkipTlsVerify;
  const files = await deps.readTlsFiles({
    ...(options.caFile !== undefined && { caFile: options.caFile }),
    ...(options.certFile !== undefined && { certFile: options.certFile }),
    ...(options.keyFile !== undefined && { keyFile: options.keyFile }),
  });
  return {
    ...(usesTls && { tls: { ...files, ...(options.insecureSkipTlsVerify && { rejectUnauthorized: false }) } }),
    ...(options.auth !== undefined && { auth: options.auth }),
    requestTimeoutMs: options.commandTimeoutMs,
    healthTimeoutMs: options.healthTimeoutMs,
  };
}

/**
 * etcd's user and password from `--user NAME[:PASSWORD]` and `--password`, as etcdctl takes them; undefined without
 * `--user`. Throws UsageError for a user without a name or password, or a password without a user.
 */
export function userAuth(user: string | undefined, password: string | undefined): { username: string; password: string } | undefined {
  if (user === undefined) {
    if (password !== undefined) throw new UsageError('--password needs --user', 'pass --user=NAME as well, or drop --password');
    return undefined;
  }
  const colon = user.indexOf(':');
  const username = colon >= 0 ? user.slice(0, colon) : user;
  const secret = colon >= 0 ? user.slice(colon + 1) : password;
  if (username === '' || secret === undefined)
    throw new UsageError('--user needs a name and a password', 'use --user=NAME:PASSWORD or --user=NAME --password=PASSWORD');
  return { username, password: secret };
}
