// `elastic-etcd promote`: waits until this node's learner is in sync and promotes it.
import { deriveClientEndpoints } from '../adapters/discovery/index.js';
import { errorMessage } from '../core/errors.js';
import { deriveClientURL } from '../core/urls.js';
import { memberLabel } from '../core/members.js';
import type { Logger } from '../services/log.js';
import { toEtcdConnection } from './connection.js';
import type { CliDependencies, CliIO } from './context.js';
import { EXIT_OK } from './errors.js';
import type { PromoteOptions } from './options.js';

/**
 * runPromoteCommand is `elastic-etcd promote`: finds the cluster (endpoints and the discovery registry) and
 * waits until this node's learner is promoted (see promoteWhenReady). Returns EXIT_OK when it is promoted or
 * already votes; a PromotionError or EtcdError is thrown to main.
 */
export async function runPromoteCommand(options: PromoteOptions, deps: CliDependencies, io: CliIO, log: Logger): Promise<number> {
  const connection = await toEtcdConnection(options.connection, deps);
  const endpoints = [...options.connection.endpoints];
  if (options.discoveryURL !== undefined) {
    try {
      const registry = await deps.readRegistry(options.discoveryURL, io.signal === undefined ? {} : { signal: io.signal });
      endpoints.push(...deriveClientEndpoints(registry.entries, options.connection.clientPort));
    } catch (err) {
      // The cluster itself is what matters here; with --endpoints we can still reach it.
      if (options.connection.endpoints.length === 0) throw err;
      log.warn(`discovery: ${errorMessage(err)}; using --endpoints only`);
    }
  }
  // Our own member last: a learner cannot answer the member list, but once promoted it can.
  endpoints.push(...options.self.peerURLs.map((u) => deriveClientURL(u, options.connection.clientPort)));
  const result = await deps.promoteWhenReady({
    self: options.self,
    endpoints: [...new Set(endpoints)],
    connection,
    timeoutMs: options.timeoutMs,
    log,
    ...(io.signal !== undefined && { signal: io.signal }),
  });
  log.info(
    result.outcome === 'promoted'
      ? `${memberLabel(result.member)} is now a voting member`
      : `${memberLabel(result.member)} already is a voting member`,
  );
  return EXIT_OK;
}
