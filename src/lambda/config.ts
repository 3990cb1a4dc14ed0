// The Lambda's configuration contract: the ELASTIC_ETCD_* environment, written by `toEnvironment` (the construct,
// the simulated world and the bench) and read once at start by `loadConfig`. Every bad or missing variable is
// reported in one error that names the variable and what it expects.
import * as z from '../adapters/zod.js';
import { CLUSTER_DEFAULTS } from '../core/defaults.js';
import { DEFAULT_RENEW_AT_FRACTION, LEAF_VALIDITY_DAYS } from '../core/certificates.js';
import type { ClusterSize, JoinStrategy } from '../core/types.js';
import { parseEtcdVersion, type EtcdVersionNumber } from '../core/version.js';
import { validateClusterName, validateGroupName, validateHookName, validateParameterPrefix } from '../adapters/aws/identifiers.js';

export interface LambdaConfig {
  readonly clusterName: string;
  readonly parameterPrefix: string;
  readonly autoScalingGroup: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly clusterSize: ClusterSize;
  readonly joinStrategy: JoinStrategy;
  readonly joinAs: 'learner' | 'voter';
  readonly dataDir: string;
  readonly launchHook: string;
  readonly terminateHook: string;
  readonly healthTimeoutMs: number;
  /** The etcd version new instances run (the stack's); when set, a launch refuses a skew etcd does not support. */
  readonly etcdVersion?: EtcdVersionNumber;
  /**
   * How long a newly added member's join marker says "starting, not dead" once its launch is no longer
   * pending. While its launch action waits (until the member votes), the platform says so anyway.
   */
  readonly joinGraceSeconds: number;
  /** A member unhealthy this long (without a break) counts as dead: replaced through the group, removed by joins. */
  readonly unhealthyAfterMs: number;
  /** Snapshots to S3 (backup.ts): off when no bucket is configured. */
  readonly backup?: {
    readonly bucket: string;
    readonly prefix: string;
    readonly intervalMs: number;
    /** Restore from the newest verified snapshot by itself once the cluster is lost for good (restore.ts). */
    readonly autoRestore: boolean;
    /** How long no voter may have answered before an automatic restore. */
    readonly restoreAfterMs: number;
  };
  /**
   * TLS with client certificates on every member (tls.ts issues them from the cluster's CA); undefined: plain
   * HTTP, for development only.
   */
  readonly tls?: TlsConfig;
  /** etcd's space quota in bytes: the drop-in sets it (--quota-backend-bytes) and upkeep.ts keeps below it. */
  readonly quotaBackendBytes: number;
  /** etcd's auto-compaction, set by the drop-in (--auto-compaction-mode, --auto-compaction-retention). */
  readonly autoCompaction: AutoCompaction;
}

/**
 * `periodic`: keep `retention` of history (a Go duration such as 1h or 30m, or whole hours); `revision`: keep the
 * last `retention` revisions.
 */
export interface AutoCompaction {
  readonly mode: 'periodic' | 'revision';
  readonly retention: string;
}

/** etcd's periodic retention: a duration of h, m and s parts (decimals allowed) or whole hours; never zero (off). */
const PERIODIC_RETENTION = /^([0-9]{1,6}|([0-9]{1,6}(\.[0-9]{1,6})?[hms])+)$/;
/** etcd's revision retention: a positive count of revisions. */
const REVISION_RETENTION = /^[1-9][0-9]{0,18}$/;

export interface TlsConfig {
  /** The KMS key the SecureString parameters are encrypted under; SSM's default key (alias/aws/ssm) when unset. */
  readonly kmsKeyId?: string;
  /** Lifetime of member and client certificates. */
  readonly validityDays: number;
  /** A certificate is re-issued once this fraction (0 < f <= 1) of its lifetime has passed. */
  readonly renewAtFraction: number;
  /** Client certificates the reconcile pass issues and renews into `<root>/tls/clients/<name>`. */
  readonly clients: readonly string[];
}

/** A client certificate's name: its common name and the last segment of its parameter. */
export const TLS_CLIENT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** The common name of the Lambda's own client certificate: no configured client may take it. */
export const LAMBDA_CLIENT_NAME = 'elastic-etcd-lambda';

export interface ConfigProblem {
  readonly variable: string;
  readonly expected: string;
  /** The value found, or undefined when the variable is unset or blank. */
  readonly received: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration: ${problems
        .map((p) =>
          p.received === undefined
            ? `${p.variable} is required (${p.expected})`
            : `${p.variable}=${JSON.stringify(p.received)} is invalid, expected ${p.expected}`,
        )
        .join('; ')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Wraps one of the identifier validators as a zod refinement. */
function identifier(validate: (raw: unknown) => string) {
  return z.pipe(
    z.string(),
    z.transform((raw: string, ctx) => {
      try {
        return validate(raw);
      } catch {
        ctx.issues.push({ code: 'custom', message: 'invalid', input: raw });
        return z.NEVER;
      }
    }),
  );
}

const integer = (min: number, max: number) =>
  z.pipe(z.pipe(z.string().check(z.regex(/^[0-9]{1,10}$/)), z.transform(Number)), z.number().check(z.int(), z.gte(min), z.lte(max)));

const port = integer(1, 65535);

// A key ID, a multi-Region key ID, a key or alias ARN, or an alias name (the forms KMS's KeyId accepts).
const KMS_KEY_ID =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias\/[A-Za-z0-9/_-]{1,250}|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key\/[A-Za-z0-9-]{1,64}|alias\/[A-Za-z0-9/_-]{1,250}))$/;

const clusterSize = z.union([z.literal('unlimited'), integer(1, 1000)]);

const joinStrategy = z.pipe(
  z.enum(['prepare', 'prepared', 'add', 'replace', 'prune']),
  z.transform((s): JoinStrategy => (s === 'prepared' ? 'prepare' : s)),
);

/** Each variable: its schema, its default (if optional) and the human description of what it expects. */
const VARIABLES = {
  ELASTIC_ETCD_CLUSTER_NAME: { schema: identifier(validateClusterName), expected: '1-64 characters of A-Z a-z 0-9 _ . -' },
  ELASTIC_ETCD_PARAMETER_PREFIX: {
    schema: identifier(validateParameterPrefix),
    default: CLUSTER_DEFAULTS.parameterPrefix,
    expected: 'an SSM path like /elastic-etcd ("/"-separated segments of A-Z a-z 0-9 _ . -)',
  },
  ELASTIC_ETCD_AUTO_SCALING_GROUP: { schema: identifier(validateGroupName), expected: 'the Auto Scaling group name' },
  ELASTIC_ETCD_CLIENT_PORT: { schema: port, default: String(CLUSTER_DEFAULTS.clientPort), expected: 'a port number 1-65535' },
  ELASTIC_ETCD_PEER_PORT: { schema: port, default: String(CLUSTER_DEFAULTS.peerPort), expected: 'a port number 1-65535' },
  ELASTIC_ETCD_CLUSTER_SIZE: { schema: clusterSize, expected: 'a positive integer (e.g. 3) or "unlimited"' },
  ELASTIC_ETCD_JOIN_STRATEGY: {
    schema: joinStrategy,
    default: CLUSTER_DEFAULTS.joinStrategy,
    expected: 'one of prepare, prepared, add, replace, prune',
  },
  ELASTIC_ETCD_JOIN_AS: { schema: z.enum(['learner', 'voter']), default: CLUSTER_DEFAULTS.joinAs, expected: 'learner or voter' },
  ELASTIC_ETCD_DATA_DIR: {
    schema: z.string().check(z.regex(/^\/[^\0\n]*$/)),
    default: CLUSTER_DEFAULTS.dataDir,
    expected: 'an absolute path such as /var/lib/etcd',
  },
  ELASTIC_ETCD_LAUNCH_HOOK: { schema: identifier(validateHookName), expected: 'the launch lifecycle hook name' },
  ELASTIC_ETCD_TERMINATE_HOOK: { schema: identifier(validateHookName), expected: 'the terminate lifecycle hook name' },
  ELASTIC_ETCD_HEALTH_TIMEOUT_MS: {
    schema: integer(1, 60_000),
    default: String(CLUSTER_DEFAULTS.healthTimeoutMs),
    expected: 'milliseconds, an integer 1-60000',
  },
  // The construct's default launch heartbeat timeout (10 min): a slow boot or snapshot is not taken for dead.
  ELASTIC_ETCD_JOIN_GRACE_SECONDS: { schema: integer(10, 7200), default: '600', expected: 'seconds, an integer 10-7200' },
  ELASTIC_ETCD_VERSION: {
    schema: z.pipe(
      z.string().check(z.regex(/^3\.[4-6]\.[0-9]{1,4}$/)),
      z.transform((raw: string) => parseEtcdVersion(raw)!),
    ),
    optional: true,
    expected: 'an etcd release 3.4.x, 3.5.x or 3.6.x such as 3.5.30 (or unset)',
  },
  ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: {
    schema: integer(1, 86_400),
    default: String(CLUSTER_DEFAULTS.unhealthyAfterSeconds),
    expected: 'seconds, an integer 1-86400',
  },
  ELASTIC_ETCD_BACKUP_BUCKET: {
    schema: z.string().check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)),
    optional: true,
    expected: 'an S3 bucket name (3-63 characters of a-z 0-9 . -), or unset for no backups',
  },
  ELASTIC_ETCD_BACKUP_PREFIX: {
    schema: z.string().check(z.regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/)),
    default: CLUSTER_DEFAULTS.backupPrefix,
    expected: 'an S3 key prefix without leading or trailing "/" (segments of A-Z a-z 0-9 _ . -)',
  },
  ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS: {
    schema: integer(60, 604_800),
    default: String(CLUSTER_DEFAULTS.backupIntervalSeconds),
    expected: 'seconds, an integer 60-604800',
  },
  ELASTIC_ETCD_AUTO_RESTORE: {
    schema: z.pipe(
      z.enum(['true', 'false']),
      z.transform((raw) => raw === 'true'),
    ),
    default: String(CLUSTER_DEFAULTS.autoRestore),
    expected: 'true or false',
  },
  ELASTIC_ETCD_RESTORE_AFTER_SECONDS: {
    schema: integer(60, 86_400),
    default: String(CLUSTER_DEFAULTS.restoreAfterSeconds),
    expected: 'seconds, an integer 60-86400',
  },
  ELASTIC_ETCD_TLS: {
    schema: z.pipe(
      z.enum(['on', 'off']),
      z.transform((raw) => raw === 'on'),
    ),
    default: CLUSTER_DEFAULTS.tls ? 'on' : 'off',
    expected: 'on or off (off: plain HTTP, for development only)',
  },
  ELASTIC_ETCD_TLS_KMS_KEY_ID: {
    schema: z.string().check(z.regex(KMS_KEY_ID)),
    optional: true,
    expected: 'a KMS key ID, key ARN, alias name (alias/...) or alias ARN, or unset for the SSM default key',
  },
  ELASTIC_ETCD_TLS_VALIDITY_DAYS: {
    schema: integer(1, 365),
    default: String(LEAF_VALIDITY_DAYS),
    expected: 'days, an integer 1-365',
  },
  ELASTIC_ETCD_TLS_RENEW_AT: {
    schema: z.pipe(
      z.pipe(z.string().check(z.regex(/^(0?\.[0-9]{1,20}|1(\.0*)?)$/)), z.transform(Number)),
      z.number().check(z.gt(0), z.lte(1)),
    ),
    default: String(DEFAULT_RENEW_AT_FRACTION),
    expected: 'a fraction of the certificate lifetime, greater than 0 and at most 1, such as 0.66',
  },
  ELASTIC_ETCD_QUOTA_BACKEND_BYTES: {
    // etcd warns above 8 GiB; below 1 MiB a fresh member raises NOSPACE at once.
    schema: integer(1024 ** 2, 8 * 1024 ** 3),
    default: String(CLUSTER_DEFAULTS.quotaBackendBytes),
    expected: 'bytes, an integer from 1048576 (1 MiB) to 8589934592 (8 GiB)',
  },
  ELASTIC_ETCD_AUTO_COMPACTION_MODE: {
    schema: z.enum(['periodic', 'revision']),
    default: CLUSTER_DEFAULTS.autoCompactionMode,
    expected: 'periodic or revision',
  },
  // Its default depends on the mode (checked in loadConfig): the default retention is periodic's.
  ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: {
    schema: z.string().check(z.regex(/^[0-9.hms]{1,40}$/)),
    optional: true,
    expected: 'a duration such as 1h or 30m for periodic, a positive revision count for revision',
  },
  ELASTIC_ETCD_TLS_CLIENTS: {
    schema: z.pipe(
      z.pipe(
        z.string(),
        z.transform((raw: string) => raw.split(',').map((name) => name.trim())),
      ),
      z
        .array(
          z.string().check(
            z.regex(TLS_CLIENT_NAME),
            z.refine((name) => name !== LAMBDA_CLIENT_NAME),
          ),
        )
        .check(z.refine((names) => new Set(names).size === names.length)),
    ),
    optional: true,
    expected: `comma-separated client names, each unique and 1-63 characters of a-z 0-9 - (not starting with -, not ${LAMBDA_CLIENT_NAME})`,
  },
} as const satisfies Record<string, { schema: z.ZodMiniType<unknown, string>; default?: string; optional?: true; expected: string }>;

type VariableName = keyof typeof VARIABLES;
type OptionalVariable =
  | 'ELASTIC_ETCD_VERSION'
  | 'ELASTIC_ETCD_BACKUP_BUCKET'
  | 'ELASTIC_ETCD_TLS_KMS_KEY_ID'
  | 'ELASTIC_ETCD_TLS_CLIENTS'
  | 'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION';
type Parsed = {
  [K in Exclude<VariableName, OptionalVariable>]: z.output<(typeof VARIABLES)[K]['schema']>;
} & {
  [K in OptionalVariable]?: z.output<(typeof VARIABLES)[K]['schema']>;
};

/** Reads and validates the configuration; throws one ConfigError listing every problem. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): LambdaConfig {
  const problems: ConfigProblem[] = [];
  const parsed: Partial<Record<VariableName, unknown>> = {};
  for (const [variable, spec] of Object.entries(VARIABLES) as [VariableName, (typeof VARIABLES)[VariableName]][]) {
    const raw = env[variable]?.trim();
    const value = raw === undefined || raw === '' ? ('default' in spec ? spec.default : undefined) : raw;
    if (value === undefined) {
      if ('optional' in spec) continue;
      problems.push({ variable, expected: spec.expected, received: undefined });
      continue;
    }
    const result = (spec.schema as z.ZodMiniType<unknown, string>).safeParse(value);
    if (result.success) parsed[variable] = result.data;
    else problems.push({ variable, expected: spec.expected, received: value });
  }
  if (problems.length === 0 && parsed.ELASTIC_ETCD_CLIENT_PORT === parsed.ELASTIC_ETCD_PEER_PORT) {
    // etcd cannot serve clients and peers on the same port of one address.
    problems.push({
      variable: 'ELASTIC_ETCD_PEER_PORT',
      expected: 'a port different from ELASTIC_ETCD_CLIENT_PORT',
      received: env.ELASTIC_ETCD_PEER_PORT ?? String(CLUSTER_DEFAULTS.peerPort),
    });
  }
  if (parsed.ELASTIC_ETCD_TLS === false) {
    // Settings of a TLS that is off would be silently ignored: say so instead.
    for (const variable of ['ELASTIC_ETCD_TLS_KMS_KEY_ID', 'ELASTIC_ETCD_TLS_CLIENTS'] as const) {
      const raw = env[variable]?.trim();
      if (raw !== undefined && raw !== '') problems.push({ variable, expected: 'unset while ELASTIC_ETCD_TLS=off', received: raw });
    }
  }
  const retention = autoCompactionRetention(parsed.ELASTIC_ETCD_AUTO_COMPACTION_MODE, parsed.ELASTIC_ETCD_AUTO_COMPACTION_RETENTION);
  if (typeof retention !== 'string') problems.push(retention);
  if (problems.length > 0) throw new ConfigError(problems);
  const v = parsed as Parsed;
  return {
    clusterName: v.ELASTIC_ETCD_CLUSTER_NAME,
    parameterPrefix: v.ELASTIC_ETCD_PARAMETER_PREFIX,
    autoScalingGroup: v.ELASTIC_ETCD_AUTO_SCALING_GROUP,
    clientPort: v.ELASTIC_ETCD_CLIENT_PORT,
    peerPort: v.ELASTIC_ETCD_PEER_PORT,
    clusterSize: v.ELASTIC_ETCD_CLUSTER_SIZE,
    joinStrategy: v.ELASTIC_ETCD_JOIN_STRATEGY,
    joinAs: v.ELASTIC_ETCD_JOIN_AS,
    dataDir: v.ELASTIC_ETCD_DATA_DIR,
    launchHook: v.ELASTIC_ETCD_LAUNCH_HOOK,
    terminateHook: v.ELASTIC_ETCD_TERMINATE_HOOK,
    healthTimeoutMs: v.ELASTIC_ETCD_HEALTH_TIMEOUT_MS,
    joinGraceSeconds: v.ELASTIC_ETCD_JOIN_GRACE_SECONDS,
    ...(v.ELASTIC_ETCD_VERSION !== undefined && { etcdVersion: v.ELASTIC_ETCD_VERSION }),
    unhealthyAfterMs: v.ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS * 1000,
    ...(v.ELASTIC_ETCD_BACKUP_BUCKET !== undefined && {
      backup: {
        bucket: v.ELASTIC_ETCD_BACKUP_BUCKET,
        prefix: v.ELASTIC_ETCD_BACKUP_PREFIX,
        intervalMs: v.ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS * 1000,
        autoRestore: v.ELASTIC_ETCD_AUTO_RESTORE,
        restoreAfterMs: v.ELASTIC_ETCD_RESTORE_AFTER_SECONDS * 1000,
      },
    }),
    ...(v.ELASTIC_ETCD_TLS && {
      tls: {
        ...(v.ELASTIC_ETCD_TLS_KMS_KEY_ID !== undefined && { kmsKeyId: v.ELASTIC_ETCD_TLS_KMS_KEY_ID }),
        validityDays: v.ELASTIC_ETCD_TLS_VALIDITY_DAYS,
        renewAtFraction: v.ELASTIC_ETCD_TLS_RENEW_AT,
        clients: v.ELASTIC_ETCD_TLS_CLIENTS ?? [],
      },
    }),
    quotaBackendBytes: v.ELASTIC_ETCD_QUOTA_BACKEND_BYTES,
    autoCompaction: { mode: v.ELASTIC_ETCD_AUTO_COMPACTION_MODE, retention: retention as string },
  };
}

/**
 * What is wrong with these upkeep settings, as loadConfig would report it (empty: nothing). For the construct, so a
 * bad prop fails at synth time rather than in the Lambda after deployment.
 */
export function upkeepProblems(upkeep: Pick<EnvironmentInput, 'quotaBackendBytes' | 'autoCompaction'>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const check = (variable: 'ELASTIC_ETCD_QUOTA_BACKEND_BYTES' | 'ELASTIC_ETCD_AUTO_COMPACTION_MODE', raw: string | undefined): void => {
    const spec = VARIABLES[variable];
    if (raw !== undefined && !(spec.schema as z.ZodMiniType<unknown, string>).safeParse(raw).success)
      problems.push({ variable, expected: spec.expected, received: raw });
  };
  check('ELASTIC_ETCD_QUOTA_BACKEND_BYTES', upkeep.quotaBackendBytes?.toString());
  check('ELASTIC_ETCD_AUTO_COMPACTION_MODE', upkeep.autoCompaction?.mode);
  const retention = autoCompactionRetention(upkeep.autoCompaction?.mode, upkeep.autoCompaction?.retention);
  if (typeof retention !== 'string') problems.push(retention);
  return problems;
}

/** The retention for `mode`: as given when it fits the mode; periodic's default when unset; else the problem. */
function autoCompactionRetention(mode: unknown, raw: unknown): string | ConfigProblem {
  const variable = 'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION';
  if (mode === 'revision') {
    if (typeof raw === 'string' && REVISION_RETENTION.test(raw)) return raw;
    return {
      variable,
      expected: 'a positive revision count such as 10000 (required with ELASTIC_ETCD_AUTO_COMPACTION_MODE=revision)',
      received: raw as string | undefined,
    };
  }
  if (raw === undefined) return CLUSTER_DEFAULTS.autoCompactionRetention;
  // A zero duration turns etcd's compaction off, which is not what a retention is for.
  if (typeof raw === 'string' && PERIODIC_RETENTION.test(raw) && /[1-9]/.test(raw)) return raw;
  return {
    variable,
    expected: 'a non-zero duration such as 1h, 30m or 1h30m, or whole hours such as 2 (periodic mode)',
    received: raw as string,
  };
}

/** The variables `loadConfig` reads, each written by `toEnvironment`. */
export const ENVIRONMENT_VARIABLES = Object.keys(VARIABLES) as readonly VariableName[];

/** Settings that have a default may be left out: their variable is then not written, and `loadConfig` uses the default. */
type Defaulted =
  | 'parameterPrefix'
  | 'clientPort'
  | 'peerPort'
  | 'joinStrategy'
  | 'joinAs'
  | 'dataDir'
  | 'healthTimeoutMs'
  | 'joinGraceSeconds'
  | 'unhealthyAfterMs'
  | 'quotaBackendBytes';
type BackupConfig = NonNullable<LambdaConfig['backup']>;
type BackupDefaulted = 'autoRestore' | 'restoreAfterMs';
type TlsDefaulted = 'validityDays' | 'renewAtFraction' | 'clients';
export type EnvironmentInput = Omit<LambdaConfig, Defaulted | 'backup' | 'tls' | 'autoCompaction'> &
  Partial<Pick<LambdaConfig, Defaulted>> & {
    readonly backup?: Omit<BackupConfig, BackupDefaulted> & Partial<Pick<BackupConfig, BackupDefaulted>>;
    /**
     * TLS settings, or false for plain HTTP. Left out: not written, so the default applies (CLUSTER_DEFAULTS.tls, on);
     * plain HTTP must therefore be asked for with `false`.
     */
    readonly tls?: false | (Omit<TlsConfig, TlsDefaulted> & Partial<Pick<TlsConfig, TlsDefaulted>>);
    /** Left out: periodic with CLUSTER_DEFAULTS.autoCompactionRetention; a revision mode needs its retention. */
    readonly autoCompaction?: { readonly mode?: AutoCompaction['mode']; readonly retention?: string };
  };

/**
 * The ELASTIC_ETCD_* environment that `loadConfig` reads back as `config`: `loadConfig(toEnvironment(c))` equals
 * `c` for every valid configuration (a plain-HTTP `c`, whose `tls` is undefined, given as `{ ...c, tls: false }`:
 * a left-out `tls` means the default). Writes values as they are, without validating them (the construct passes
 * CloudFormation tokens); `loadConfig` validates. A setting left out is not written, so its default applies.
 */
export function toEnvironment(config: EnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {};
  const write = (variable: VariableName, value: string | number | undefined): void => {
    if (value !== undefined) env[variable] = String(value);
  };
  write('ELASTIC_ETCD_CLUSTER_NAME', config.clusterName);
  write('ELASTIC_ETCD_PARAMETER_PREFIX', config.parameterPrefix);
  write('ELASTIC_ETCD_AUTO_SCALING_GROUP', config.autoScalingGroup);
  write('ELASTIC_ETCD_CLIENT_PORT', config.clientPort);
  write('ELASTIC_ETCD_PEER_PORT', config.peerPort);
  write('ELASTIC_ETCD_CLUSTER_SIZE', config.clusterSize);
  write('ELASTIC_ETCD_JOIN_STRATEGY', config.joinStrategy);
  write('ELASTIC_ETCD_JOIN_AS', config.joinAs);
  write('ELASTIC_ETCD_DATA_DIR', config.dataDir);
  write('ELASTIC_ETCD_LAUNCH_HOOK', config.launchHook);
  write('ELASTIC_ETCD_TERMINATE_HOOK', config.terminateHook);
  write('ELASTIC_ETCD_HEALTH_TIMEOUT_MS', config.healthTimeoutMs);
  write('ELASTIC_ETCD_JOIN_GRACE_SECONDS', config.joinGraceSeconds);
  const version = config.etcdVersion;
  write('ELASTIC_ETCD_VERSION', version === undefined ? undefined : `${version.major}.${version.minor}.${version.patch}`);
  write('ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS', config.unhealthyAfterMs === undefined ? undefined : config.unhealthyAfterMs / 1000);
  write('ELASTIC_ETCD_BACKUP_BUCKET', config.backup?.bucket);
  write('ELASTIC_ETCD_BACKUP_PREFIX', config.backup?.prefix);
  write('ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS', config.backup === undefined ? undefined : config.backup.intervalMs / 1000);
  write('ELASTIC_ETCD_AUTO_RESTORE', config.backup?.autoRestore === undefined ? undefined : String(config.backup.autoRestore));
  write(
    'ELASTIC_ETCD_RESTORE_AFTER_SECONDS',
    config.backup?.restoreAfterMs === undefined ? undefined : config.backup.restoreAfterMs / 1000,
  );
  write('ELASTIC_ETCD_QUOTA_BACKEND_BYTES', config.quotaBackendBytes);
  write('ELASTIC_ETCD_AUTO_COMPACTION_MODE', config.autoCompaction?.mode);
  write('ELASTIC_ETCD_AUTO_COMPACTION_RETENTION', config.autoCompaction?.retention);
  const tls = config.tls;
  write('ELASTIC_ETCD_TLS', tls === undefined ? undefined : tls === false ? 'off' : 'on');
  if (tls !== undefined && tls !== false) {
    write('ELASTIC_ETCD_TLS_KMS_KEY_ID', tls.kmsKeyId);
    write('ELASTIC_ETCD_TLS_VALIDITY_DAYS', tls.validityDays);
    write('ELASTIC_ETCD_TLS_RENEW_AT', tls.renewAtFraction);
    write('ELASTIC_ETCD_TLS_CLIENTS', tls.clients === undefined || tls.clients.length === 0 ? undefined : tls.clients.join(','));
  }
  return env;
}
