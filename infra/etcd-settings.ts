// The construct's `etcdSettings` prop: extra etcd flags (auto-compaction, backend quota, ...) that the boot script
// writes as a static systemd drop-in. Validated at synth time: a bad name or value, or a setting that
// elastic-etcd itself owns, is refused with a clear error and never reaches an instance.

export class InvalidEtcdSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEtcdSettingError';
  }
}

/**
 * Flags the Lambda's drop-in sets for every member, or that would take the member's identity, membership or
 * storage away from elastic-etcd. Refused as extra settings.
 */
export const OWNED_ETCD_FLAGS: readonly string[] = [
  'name',
  'data-dir',
  'wal-dir',
  'listen-peer-urls',
  'listen-client-urls',
  'listen-client-http-urls',
  'initial-advertise-peer-urls',
  'advertise-client-urls',
  'initial-cluster',
  'initial-cluster-state',
  'initial-cluster-token',
  'force-new-cluster',
  'config-file',
];
/**
 * etcd's upkeep settings have their own props: the Lambda's drop-in sets them for every member (it would override a
 * static drop-in anyway) and the reconcile pass keeps the database below the same quota.
 */
const UPKEEP_FLAGS: Readonly<Record<string, string>> = {
  'quota-backend-bytes': 'quotaBackendBytes',
  'auto-compaction-mode': 'autoCompaction',
  'auto-compaction-retention': 'autoCompaction',
};
/** Flag families owned as a whole: the membership bootstrap. */
const OWNED_PREFIXES: readonly string[] = ['initial-cluster', 'discovery'];

const FLAG_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
// Written inside `Environment="..."` of a systemd unit: no quotes, backslashes, '%' (systemd specifiers), '$'
// (variable expansion) or control characters.
const FLAG_VALUE = /^[A-Za-z0-9 _.,:/=+@-]{1,1024}$/;

/**
 * Validates extra etcd settings given by flag name (`quota-backend-bytes`, `auto-compaction-retention`, ...,
 * without the leading `--`) and returns them as the environment variables etcd reads (`ETCD_QUOTA_BACKEND_BYTES`).
 */
export function etcdSettingsEnvironment(settings: Readonly<Record<string, string>>): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [flag, value] of Object.entries(settings)) {
    if (!FLAG_NAME.test(flag)) {
      throw new InvalidEtcdSettingError(
        `etcdSettings key ${JSON.stringify(flag)}: expected an etcd flag name such as quota-backend-bytes (lowercase, hyphens, no leading --)`,
      );
    }
    const prop = UPKEEP_FLAGS[flag];
    if (prop !== undefined) {
      throw new InvalidEtcdSettingError(`etcdSettings key ${flag}: set it with the construct prop ${prop} instead (etcd's upkeep)`);
    }
    if (OWNED_ETCD_FLAGS.includes(flag) || OWNED_PREFIXES.some((prefix) => flag.startsWith(prefix))) {
      throw new InvalidEtcdSettingError(
        `etcdSettings key ${flag}: elastic-etcd sets this itself for every member; it cannot be overridden`,
      );
    }
    if (typeof value !== 'string' || !FLAG_VALUE.test(value)) {
      throw new InvalidEtcdSettingError(
        `etcdSettings ${flag}=${JSON.stringify(value)}: expected 1-1024 characters of letters, digits, space and _ . , : / = + @ -`,
      );
    }
    environment[`ETCD_${flag.toUpperCase().replaceAll('-', '_')}`] = value;
  }
  return environment;
}
