// The defaults of an elastic-etcd deployment, in one place: the CLI's flags, the Lambda's environment, the
// construct's props and the etcd adapter all fall back to these, so a default changes everywhere at once.
import type { JoinStrategy } from './types.js';

export const CLUSTER_DEFAULTS = {
  /** The cluster's name: the last segment of its parameter namespace `<prefix>/<cluster>`. */
  clusterName: 'etcd',
  /** Where the parameter namespaces start in SSM Parameter Store. */
  parameterPrefix: '/elastic-etcd',
  /** How a node joins: replace a dead member if there is one, else add itself. */
  joinStrategy: 'replace' as JoinStrategy,
  /** A new member joins as a learner and is promoted once it caught up; the quorum never counts on it early. */
  joinAs: 'learner' as 'learner' | 'voter',
  /** etcd's own client port. */
  clientPort: 2379,
  /** etcd's own peer port. */
  peerPort: 2380,
  /** Bound for one member's health check: a hung member costs at most this. */
  healthTimeoutMs: 2_000,
  /** etcd's data dir on an instance (the boot script's and the drop-in's). */
  dataDir: '/var/lib/etcd',
  /** A member unhealthy this long without a break counts as dead: replaced through the group. */
  unhealthyAfterSeconds: 300,
  /** Where in the backup bucket snapshots go (the construct uses the cluster's name). */
  backupPrefix: 'elastic-etcd',
  /** A snapshot is taken when the newest is older than this (on the reconcile schedule, and before a change). */
  backupIntervalSeconds: 1800,
  /** Once the cluster is lost for good (no instance that held its data can come back), restore it from its newest snapshot. */
  autoRestore: true,
  /** ...but only after no voter answered for this long. */
  restoreAfterSeconds: 600,
  /** Members speak TLS with client certificates required on both listeners; plain HTTP is for development only. */
  tls: true,
  /** Where an instance keeps its member certificate, key and the cluster's CA certificate (MEMBER_TLS_FILES). */
  pkiDir: '/etc/etcd/pki',
  /**
   * etcd's space quota (--quota-backend-bytes): a database larger than this raises the NOSPACE alarm and turns the
   * cluster read-only. 2 GiB is etcd's own default, made explicit so the drop-in, the upkeep and metrics agree on it.
   */
  quotaBackendBytes: 2 * 1024 ** 3,
  /**
   * etcd's auto-compaction (--auto-compaction-mode, --auto-compaction-retention): periodic, keeping one hour of
   * history, as kOps and kube-up set it. Time-based retention bounds history by age whatever the write rate, and an
   * hour is ample for a watcher to resume; revision-based retention would drop history in minutes under heavy writes.
   */
  autoCompactionMode: 'periodic' as 'periodic' | 'revision',
  autoCompactionRetention: '1h',
  /** A member is defragmented when its free space (dbSize - dbSizeInUse) is at least this fraction of its dbSize... */
  defragFreeFraction: 0.5,
  /** ...and at least this many bytes: defragmenting blocks the member, so a small gain is not worth it. */
  defragMinFreeBytes: 100 * 1024 ** 2,
  /** A NOSPACE alarm is disarmed only once every member's database is below this fraction of the quota. */
  nospaceDisarmBelowFraction: 0.8,
  /** Bound for one compaction or defragmentation: a defragmentation rewrites the whole database and blocks that member meanwhile. */
  maintenanceTimeoutMs: 120_000,
} as const;

/** The files in `pkiDir` the boot script writes from the instance's `tls` parameter and etcd reads. */
export const MEMBER_TLS_FILES = { trustedCaFile: 'ca.crt', certFile: 'member.crt', keyFile: 'member.key' } as const;

/** The paths etcd is given for its member certificate, key and trusted CA (EtcdSettings.tls). */
export function memberTlsPaths(pkiDir: string = CLUSTER_DEFAULTS.pkiDir): { certFile: string; keyFile: string; trustedCaFile: string } {
  const dir = pkiDir.endsWith('/') ? pkiDir.slice(0, -1) : pkiDir;
  return {
    certFile: `${dir}/${MEMBER_TLS_FILES.certFile}`,
    keyFile: `${dir}/${MEMBER_TLS_FILES.keyFile}`,
    trustedCaFile: `${dir}/${MEMBER_TLS_FILES.trustedCaFile}`,
  };
}
