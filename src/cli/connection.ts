// From connection flags to the services' EtcdConnection: reads the TLS files named on the command line.
import type { EtcdConnection } from '../services/connection.js';
import type { CliDependencies } from './context.js';
import type { ConnectionOptions } from './options.js';

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
