// `elastic-etcd restore --from latest|S3-KEY`: records an operator's restore request where the lifecycle Lambda
// reads it (`<parameter-prefix>/<cluster>/restore-request`), after checking that the snapshot exists and has a
// valid manifest. It changes nothing in the cluster: the Lambda restores once the group was scaled to 0 and back
// (infra/README.md, "Restoring from a backup"). `--cancel` withdraws a pending request.
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { BackupStore, BackupStoreError, createS3Client } from '../adapters/aws/backups.js';
import { createAwsClients } from '../adapters/aws/clients.js';
import { AwsCallError } from '../adapters/aws/errors.js';
import { InvalidIdentifierError, validateClusterName, validateParameterPrefix } from '../adapters/aws/identifiers.js';
import { ParameterStore } from '../adapters/aws/parameters.js';
import type { RestoreRequest } from '../adapters/aws/restore-parameters.js';
import { CLUSTER_DEFAULTS } from '../core/defaults.js';
import { errorMessage } from '../core/errors.js';
import { cancelRestoreRequest, findSnapshot, recordRestoreRequest, RestoreRequestError } from '../services/restore-request.js';
import type { CliIO } from './context.js';
import { CommandFailedError, EXIT_OK, UsageError } from './errors.js';
import type { Environment } from './options.js';

export const RESTORE_HELP = `usage: elastic-etcd restore --bucket BUCKET --from latest|S3-KEY [options]
       elastic-etcd restore --cancel [options]

Asks the lifecycle Lambda to restore the cluster from a snapshot in its backup bucket. Checks that the snapshot
exists and has a valid manifest, then records the request at <parameter-prefix>/<cluster-name>/restore-request.
Nothing happens to the cluster until you scale its Auto Scaling group to 0, wait until every instance is gone,
and scale it back: the new first wave then boots from the snapshot (infra/README.md, "Restoring from a backup").
Prints what was recorded as one JSON object on stdout and the next steps on stderr.
Exit status: 0 recorded (or cancelled), 1 refused or an AWS/S3 error (nothing recorded), 2 usage error.

  --bucket BUCKET               the backup bucket (required unless --cancel; env ELASTIC_ETCD_BACKUP_BUCKET)
  --from latest|S3-KEY          "latest": the newest verified snapshot of both tiers (snapshots/ and daily/),
                                resolved now and recorded as its key; or one snapshot's key
  --backup-prefix PREFIX        key prefix of the cluster's snapshots (default: the cluster name, which is what
                                the construct uses; env ELASTIC_ETCD_BACKUP_PREFIX)
  --cluster-name NAME           the cluster (default ${CLUSTER_DEFAULTS.clusterName}; env ELASTIC_ETCD_CLUSTER_NAME)
  --parameter-prefix PREFIX     where the cluster's parameters live (default ${CLUSTER_DEFAULTS.parameterPrefix};
                                env ELASTIC_ETCD_PARAMETER_PREFIX)
  --replace                     replace a request that is already pending (refused otherwise)
  --cancel                      withdraw the pending request instead
  --region REGION               AWS region (default: the SDK's, e.g. AWS_REGION)
AWS is reached with the SDK's usual credentials; AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL_S3 are honoured.
`;

const FLAGS = {
  bucket: { type: 'string' },
  from: { type: 'string' },
  'backup-prefix': { type: 'string' },
  'cluster-name': { type: 'string' },
  'parameter-prefix': { type: 'string' },
  replace: { type: 'boolean' },
  cancel: { type: 'boolean' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HINT = 'run elastic-etcd restore --help for usage';
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const BACKUP_PREFIX = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

export type RestoreCommandOptions =
  | { readonly action: 'cancel'; readonly parameters: ParameterTarget; readonly region?: string }
  | {
      readonly action: 'record';
      readonly parameters: ParameterTarget;
      readonly region?: string;
      readonly bucket: string;
      readonly backupPrefix: string;
      readonly from: string;
      readonly replace: boolean;
    };

interface ParameterTarget {
  readonly prefix: string;
  readonly cluster: string;
}

/** Parses `restore`'s arguments (flag > non-empty ELASTIC_ETCD_* variable > default); 'help' when asked for it. */
export function parseRestoreCommandLine(argv: readonly string[], env: Environment): RestoreCommandOptions | 'help' {
  let values: { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`restore: ${errorMessage(err)}`, HINT);
  }
  if (values.help === true) return 'help';
  const fromEnv = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const cluster = values['cluster-name'] ?? fromEnv('ELASTIC_ETCD_CLUSTER_NAME') ?? CLUSTER_DEFAULTS.clusterName;
  const prefix = values['parameter-prefix'] ?? fromEnv('ELASTIC_ETCD_PARAMETER_PREFIX') ?? CLUSTER_DEFAULTS.parameterPrefix;
  const parameters = { prefix, cluster };
  try {
    validateClusterName(cluster);
    validateParameterPrefix(prefix);
  } catch (err) {
    if (err instanceof InvalidIdentifierError) throw new UsageError(err.message, HINT);
    throw err;
  }
  const region = values.region;
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region))
    throw new UsageError(`--region ${JSON.stringify(region)} is not a region name`, HINT);
  const common = { parameters, ...(region !== undefined && { region }) };
  if (values.cancel === true) {
    if (values.from !== undefined || values.replace === true) throw new UsageError('--cancel takes neither --from nor --replace', HINT);
    return { action: 'cancel', ...common };
  }
  const bucket = values.bucket ?? fromEnv('ELASTIC_ETCD_BACKUP_BUCKET');
  if (bucket === undefined) throw new UsageError('restore needs --bucket (the backup bucket)', HINT);
  if (!S3_BUCKET.test(bucket)) throw new UsageError(`--bucket ${JSON.stringify(bucket)} is not an S3 bucket name`, HINT);
  const backupPrefix = (values['backup-prefix'] ?? fromEnv('ELASTIC_ETCD_BACKUP_PREFIX') ?? cluster).replace(/\/+$/, '');
  if (!BACKUP_PREFIX.test(backupPrefix))
    throw new UsageError(
      `--backup-prefix ${JSON.stringify(backupPrefix)} is not a key prefix`,
      'use segments of A-Z a-z 0-9 _ . - joined by /',
    );
  const from = values.from;
  if (from === undefined || from === '') throw new UsageError('restore needs --from latest or --from S3-KEY', HINT);
  // The instances may read these two tiers only: a snapshot elsewhere could never be restored.
  if (from !== 'latest' && !(from.startsWith(`${backupPrefix}/snapshots/`) || from.startsWith(`${backupPrefix}/daily/`)))
    throw new UsageError(
      `--from ${JSON.stringify(from)} is not a snapshot of this cluster`,
      `name a key under ${backupPrefix}/snapshots/ or ${backupPrefix}/daily/, or use --from latest`,
    );
  return { action: 'record', ...common, bucket, backupPrefix, from, replace: values.replace === true };
}

/** Runs `elastic-etcd restore`. */
export async function runRestoreCommandLine(
  argv: readonly string[],
  env: Environment,
  io: CliIO,
  now: () => Date = () => new Date(),
): Promise<number> {
  const options = parseRestoreCommandLine(argv, env);
  if (options === 'help') {
    io.stdout(RESTORE_HELP);
    return EXIT_OK;
  }
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const parameters = new ParameterStore(
    createAwsClients({ maxAttempts: 3, ...(region !== undefined && { region }) }).ssm,
    options.parameters,
  );
  const name = parameters.restoreRequestName();
  try {
    if (options.action === 'cancel') {
      const cancelled = await cancelRestoreRequest(parameters);
      io.stdout(`${JSON.stringify({ parameter: name, cancelled })}\n`);
      io.stderr(
        cancelled
          ? `elastic-etcd: the restore request at ${name} is withdrawn\n`
          : `elastic-etcd: no restore request was pending at ${name}\n`,
      );
      return EXIT_OK;
    }
    const store = new BackupStore(createS3Client({ maxAttempts: 3, ...(region !== undefined && { region }) }), {
      bucket: options.bucket,
      prefix: options.backupPrefix,
    });
    const snapshot = await findSnapshot(store, options.from);
    const request: RestoreRequest = {
      format: 1,
      // `latest` is resolved now: a snapshot taken between this request and the scale-down must not be the one
      // restored (it may hold what the restore is meant to undo).
      from: snapshot.key,
      requestedAt: now().toISOString(),
      requestedBy: requester(),
    };
    await recordRestoreRequest(parameters, request, options.replace);
    const { manifest } = snapshot;
    io.stdout(
      `${JSON.stringify({
        parameter: name,
        requested: options.from,
        bucket: options.bucket,
        key: snapshot.key,
        revision: manifest.revision,
        takenAt: manifest.takenAt,
        clusterId: manifest.clusterId,
        size: manifest.size,
        sha256: manifest.sha256,
        requestedAt: request.requestedAt,
        requestedBy: request.requestedBy,
      })}\n`,
    );
    io.stderr(
      [
        `elastic-etcd: restore request recorded at ${name}: s3://${options.bucket}/${snapshot.key} (revision ${manifest.revision}, taken ${manifest.takenAt})`,
        'Next steps (nothing happens before them):',
        '  1. scale the Auto Scaling group to 0 (desired capacity 0) and wait until every instance is terminated;',
        '  2. scale it back to the cluster size: the new first wave boots from the snapshot with a new cluster token;',
        '  3. check: the Lambda logs "restore" with the snapshot key and revisions; etcdctl endpoint health --cluster.',
        'Writes made after the snapshot are lost. Withdraw with: elastic-etcd restore --cancel',
        '',
      ].join('\n'),
    );
    return EXIT_OK;
  } catch (err) {
    throw asCommandError(err, options.action === 'cancel' ? 'nothing was changed' : 'nothing was recorded');
  }
}

/** Who asked, for the Lambda's log: the local user and host (an AWS identity would cost an STS call). */
function requester(): string {
  try {
    return `elastic-etcd restore (${userInfo().username}@${hostname()})`.slice(0, 512);
  } catch {
    return 'elastic-etcd restore';
  }
}

function asCommandError(err: unknown, what: string): Error {
  if (err instanceof RestoreRequestError) return new CommandFailedError(`restore: ${err.message}`, `${err.hint}; ${what}`, { cause: err });
  if (err instanceof BackupStoreError) return new CommandFailedError(`restore: ${err.message}`, what, { cause: err });
  if (err instanceof AwsCallError)
    return new CommandFailedError(`restore: ${err.message}`, `check credentials and region; ${what}`, { cause: err });
  if (err instanceof UsageError || err instanceof CommandFailedError) return err;
  const name = (err as { name?: string }).name;
  const message = errorMessage(err);
  return new CommandFailedError(
    `restore: S3 or SSM failed${name === undefined ? '' : ` (${name})`}: ${message}`,
    `check --bucket, credentials and region; ${what}`,
    {
      cause: err,
    },
  );
}
