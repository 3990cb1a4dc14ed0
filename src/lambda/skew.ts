// The version-skew gate of a launch: a new instance runs the stack's etcd (ELASTIC_ETCD_VERSION); etcd does not
// support it joining a cluster more than one minor version away, or older than the cluster's version.
import { checkVersionSkew } from '../core/version.js';
import { isEtcdError } from '../adapters/etcd/index.js';
import { clientFor } from '../services/connection.js';
import type { LifecycleDeps } from './deps.js';
import { candidateEndpoints, type GroupView } from './group.js';

/**
 * Why the new instance must not join, or undefined when it may (or when there is nothing to check: no version
 * configured, or no cluster answers, so a new one would form on the new version). Decided from the version the
 * cluster itself reports (/version's etcdcluster).
 */
export async function versionSkewRefusal(group: GroupView, deps: LifecycleDeps): Promise<string | undefined> {
  const wanted = deps.config.etcdVersion;
  if (wanted === undefined) return undefined;
  const client = clientFor(candidateEndpoints(group, deps.config), deps.connection);
  try {
    const { cluster, server } = await client.getVersion();
    const decision = checkVersionSkew(wanted, cluster, server);
    if (decision.kind === 'unknown') deps.telemetry.info('version skew not checked', { reason: decision.reason });
    return decision.kind === 'refuse'
      ? `${decision.reason} (ELASTIC_ETCD_VERSION ${wanted.major}.${wanted.minor}.${wanted.patch}, cluster version ${cluster})`
      : undefined;
  } catch (err) {
    if (isEtcdError(err, 'unavailable') || isEtcdError(err, 'timeout')) return undefined;
    throw err;
  } finally {
    client.close();
  }
}
