// Turns whatever ended a run into an exit code and one line on stderr that says what to do.
import { DataDirError } from '../adapters/datadir.js';
import { DiscoveryError } from '../adapters/discovery/index.js';
import { EtcdError, EtcdTlsConfigError } from '../adapters/etcd/index.js';
import { errorMessage } from '../core/errors.js';
import { RenderError } from '../core/render.js';
import type { RefusalCode } from '../core/types.js';
import { LockTimeoutError } from '../services/lock.js';
import { PromotionError } from '../services/promote.js';
import { CommandFailedError, EXIT_FAILED, EXIT_USAGE, UsageError } from './errors.js';

export interface Failure {
  readonly exitCode: number;
  readonly message: string;
  readonly hint: string;
}

const REFUSAL_HINTS: Readonly<Record<RefusalCode, string>> = {
  'cluster-down': 'start the existing members first (or use a new discovery URL for a new cluster), then run again',
  'no-quorum': 'bring failed members back until a quorum answers, then run again',
  'quorum-at-risk': 'bring unhealthy members back, or remove them (etcdctl member remove), then run again',
  'member-suspect': 'a member stopped answering only recently; retry later, or lower --unhealthy-after',
  'cluster-full': 'raise --cluster-size to grow the cluster, or use --join-strategy=replace or prune to replace dead members',
  'not-prepared': 'add this member first (etcdctl member add), or use another --join-strategy',
  'peer-url-in-use': 'stop the node that uses these peer URLs or remove its member, then run again',
  'learner-pending': 'wait until the pending learner is promoted (elastic-etcd promote), then run again',
  'join-in-progress': 'wait until the member that was just added has started, then run again',
  'stale-data-dir': 'this node is no longer a member: move its data dir away, then run again',
  'bootstrap-in-progress': 'run again once the new cluster answers',
  'no-bootstrap-source': 'pass --discovery, or --endpoints of a running member',
  'restore-waiting': 'the cluster is restored from its newest snapshot once it has been down long enough',
  'restore-pending': 'scale the group to 0, wait until its instances are terminated, then scale back',
  'bad-restore-request': 'record the restore request again (elastic-etcd restore), or delete it',
  'no-backup': 'name another snapshot (elastic-etcd restore --from S3-KEY), or check the backup bucket',
};

export function refusalHint(code: RefusalCode): string {
  return REFUSAL_HINTS[code];
}

export function describeFailure(err: unknown): Failure {
  if (err instanceof UsageError) return { exitCode: EXIT_USAGE, message: err.message, hint: err.hint };
  if (err instanceof EtcdTlsConfigError) return { exitCode: EXIT_USAGE, message: err.message, hint: 'check --cacert, --cert and --key' };
  if (err instanceof CommandFailedError) return { exitCode: EXIT_FAILED, message: err.message, hint: err.hint };
  if (err instanceof LockTimeoutError) return { exitCode: EXIT_FAILED, message: err.message, hint: 'retry later, or raise --lock-timeout' };
  if (err instanceof PromotionError)
    return { exitCode: EXIT_FAILED, message: err.message, hint: "check this member's etcd log, then run elastic-etcd promote again" };
  if (err instanceof DataDirError) return { exitCode: EXIT_FAILED, message: err.message, hint: 'check --data-dir and its permissions' };
  if (err instanceof RenderError) return { exitCode: EXIT_FAILED, message: err.message, hint: '' };
  if (err instanceof DiscoveryError) return { exitCode: EXIT_FAILED, message: `discovery: ${err.message}`, hint: discoveryHint(err) };
  if (err instanceof EtcdError) return { exitCode: EXIT_FAILED, message: `etcd: ${err.message}`, hint: etcdHint(err) };
  const message = errorMessage(err);
  return { exitCode: EXIT_FAILED, message: `unexpected error: ${message}`, hint: 'run again with -v=6 and report the log if it persists' };
}

function discoveryHint(err: DiscoveryError): string {
  switch (err.code) {
    case 'not-found':
      return 'check the token in --discovery (get a new one with <service>/new?size=N)';
    case 'unavailable':
    case 'timeout':
      return 'check that the discovery service is reachable, then run again';
    case 'invalid-response':
      return 'check that --discovery points at an etcd discovery service';
    case 'conflict':
      return 'another node registered under this member ID; check the registry, then run again';
    default:
      return 'check --discovery, then run again';
  }
}

function etcdHint(err: EtcdError): string {
  switch (err.code) {
    case 'auth-required':
      return 'pass valid --user and --password (or ELASTIC_ETCD_USER and ELASTIC_ETCD_PASSWORD)';
    case 'unavailable':
    case 'timeout':
      return 'check that the members are reachable (--client-port, --endpoints, TLS flags), then run again';
    case 'unhealthy-cluster':
      return 'etcd refused the change to protect its quorum; bring unhealthy members back, then run again';
    default:
      return 'run again; if it persists, check the cluster with etcdctl member list';
  }
}
