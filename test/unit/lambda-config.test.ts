import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_DEFAULTS } from '../../src/core/defaults.js';
import { ConfigError, ENVIRONMENT_VARIABLES, loadConfig, toEnvironment, type LambdaConfig } from '../../src/lambda/config.js';

const minimal = {
  ELASTIC_ETCD_CLUSTER_NAME: 'prod',
  ELASTIC_ETCD_AUTO_SCALING_GROUP: 'etcd-asg',
  ELASTIC_ETCD_CLUSTER_SIZE: '3',
  ELASTIC_ETCD_LAUNCH_HOOK: 'etcd-launch',
  ELASTIC_ETCD_TERMINATE_HOOK: 'etcd-terminate',
};

function problemsOf(env: Record<string, string | undefined>): { variable: string; received: string | undefined }[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map(({ variable, received }) => ({ variable, received }));
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    assert.deepEqual(loadConfig(minimal), {
      clusterName: 'prod',
      parameterPrefix: '/elastic-etcd',
      autoScalingGroup: 'etcd-asg',
      clientPort: 2379,
      peerPort: 2380,
      clusterSize: 3,
      joinStrategy: 'replace',
      joinAs: 'learner',
      dataDir: '/var/lib/etcd',
      launchHook: 'etcd-launch',
      terminateHook: 'etcd-terminate',
      healthTimeoutMs: 2000,
      joinGraceSeconds: 600,
      unhealthyAfterMs: 300_000,
      tls: { validityDays: 30, renewAtFraction: 2 / 3, clients: [] },
      quotaBackendBytes: 2147483648,
      autoCompaction: { mode: 'periodic', retention: '1h' },
    });
  });

  it("etcd's upkeep: the quota and auto-compaction, each validated, the retention against its mode", () => {
    const upkeep = (env: Record<string, string>) => {
      const c = loadConfig({ ...minimal, ...env });
      return [c.quotaBackendBytes, c.autoCompaction];
    };
    assert.deepEqual(upkeep({ ELASTIC_ETCD_QUOTA_BACKEND_BYTES: '4194304', ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '30m' }), [
      4194304,
      { mode: 'periodic', retention: '30m' },
    ]);
    assert.deepEqual(upkeep({ ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '1h30m' })[1], { mode: 'periodic', retention: '1h30m' });
    assert.deepEqual(upkeep({ ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '2' })[1], { mode: 'periodic', retention: '2' });
    assert.deepEqual(upkeep({ ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '0.5h' })[1], { mode: 'periodic', retention: '0.5h' });
    assert.deepEqual(upkeep({ ELASTIC_ETCD_AUTO_COMPACTION_MODE: 'revision', ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '10000' })[1], {
      mode: 'revision',
      retention: '10000',
    });
    assert.deepEqual(upkeep({ ELASTIC_ETCD_QUOTA_BACKEND_BYTES: '1048576' })[0], 1048576);
    assert.deepEqual(upkeep({ ELASTIC_ETCD_QUOTA_BACKEND_BYTES: '8589934592' })[0], 8589934592);
    for (const [env, variable, message] of [
      [{ ELASTIC_ETCD_QUOTA_BACKEND_BYTES: '1048575' }, 'ELASTIC_ETCD_QUOTA_BACKEND_BYTES', /1048576 \(1 MiB\) to 8589934592/],
      [{ ELASTIC_ETCD_QUOTA_BACKEND_BYTES: '8589934593' }, 'ELASTIC_ETCD_QUOTA_BACKEND_BYTES', /8 GiB/],
      [{ ELASTIC_ETCD_QUOTA_BACKEND_BYTES: '2GB' }, 'ELASTIC_ETCD_QUOTA_BACKEND_BYTES', /bytes, an integer/],
      [{ ELASTIC_ETCD_AUTO_COMPACTION_MODE: 'hourly' }, 'ELASTIC_ETCD_AUTO_COMPACTION_MODE', /periodic or revision/],
      [{ ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '0' }, 'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION', /non-zero duration/],
      [{ ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '0h0m' }, 'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION', /non-zero duration/],
      [{ ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: 'h' }, 'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION', /non-zero duration/],
      [{ ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '1 hour' }, 'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION', /a duration such as 1h/],
      [{ ELASTIC_ETCD_AUTO_COMPACTION_MODE: 'revision' }, 'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION', /required with .*=revision/],
      [
        { ELASTIC_ETCD_AUTO_COMPACTION_MODE: 'revision', ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '1h' },
        'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION',
        /positive revision count/,
      ],
      [
        { ELASTIC_ETCD_AUTO_COMPACTION_MODE: 'revision', ELASTIC_ETCD_AUTO_COMPACTION_RETENTION: '0' },
        'ELASTIC_ETCD_AUTO_COMPACTION_RETENTION',
        /positive revision count/,
      ],
    ] as const) {
      assert.throws(
        () => loadConfig({ ...minimal, ...env }),
        (err) =>
          err instanceof ConfigError && err.problems.length === 1 && err.problems[0]!.variable === variable && message.test(err.message),
        JSON.stringify(env),
      );
    }
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...minimal,
      ELASTIC_ETCD_PARAMETER_PREFIX: '/team/etcd/',
      ELASTIC_ETCD_CLIENT_PORT: '12379',
      ELASTIC_ETCD_PEER_PORT: '12380',
      ELASTIC_ETCD_CLUSTER_SIZE: 'unlimited',
      ELASTIC_ETCD_JOIN_STRATEGY: 'prepared',
      ELASTIC_ETCD_JOIN_AS: 'voter',
      ELASTIC_ETCD_DATA_DIR: '/data/etcd',
      ELASTIC_ETCD_HEALTH_TIMEOUT_MS: '500',
      ELASTIC_ETCD_JOIN_GRACE_SECONDS: '1800',
      ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: '90',
    });
    assert.equal(config.unhealthyAfterMs, 90_000);
    assert.equal(config.parameterPrefix, '/team/etcd');
    assert.equal(config.clientPort, 12379);
    assert.equal(config.peerPort, 12380);
    assert.equal(config.clusterSize, 'unlimited');
    assert.equal(config.joinStrategy, 'prepare', 'prepared is an alias of prepare');
    assert.equal(config.joinAs, 'voter');
    assert.equal(config.dataDir, '/data/etcd');
    assert.equal(config.healthTimeoutMs, 500);
    assert.equal(config.joinGraceSeconds, 1800);
  });

  it('treats blank values as unset', () => {
    assert.equal(loadConfig({ ...minimal, ELASTIC_ETCD_CLIENT_PORT: '  ' }).clientPort, 2379);
  });

  it('names every missing required variable in one error', () => {
    assert.deepEqual(
      problemsOf({}).map((p) => p.variable),
      [
        'ELASTIC_ETCD_CLUSTER_NAME',
        'ELASTIC_ETCD_AUTO_SCALING_GROUP',
        'ELASTIC_ETCD_CLUSTER_SIZE',
        'ELASTIC_ETCD_LAUNCH_HOOK',
        'ELASTIC_ETCD_TERMINATE_HOOK',
      ],
    );
    assert.throws(() => loadConfig({}), /ELASTIC_ETCD_CLUSTER_NAME is required \(1-64 characters/);
  });

  const bad: [string, string][] = [
    ['ELASTIC_ETCD_CLUSTER_NAME', '../x'],
    ['ELASTIC_ETCD_PARAMETER_PREFIX', 'no-slash'],
    ['ELASTIC_ETCD_CLIENT_PORT', '0x10'],
    ['ELASTIC_ETCD_CLIENT_PORT', '70000'],
    ['ELASTIC_ETCD_PEER_PORT', '-1'],
    ['ELASTIC_ETCD_CLUSTER_SIZE', '0'],
    ['ELASTIC_ETCD_CLUSTER_SIZE', '3.5'],
    ['ELASTIC_ETCD_CLUSTER_SIZE', 'many'],
    ['ELASTIC_ETCD_JOIN_STRATEGY', 'dumb'],
    ['ELASTIC_ETCD_JOIN_AS', 'observer'],
    ['ELASTIC_ETCD_DATA_DIR', 'relative/dir'],
    ['ELASTIC_ETCD_LAUNCH_HOOK', 'has space'],
    ['ELASTIC_ETCD_HEALTH_TIMEOUT_MS', '2s'],
    ['ELASTIC_ETCD_JOIN_GRACE_SECONDS', '5'],
    ['ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS', '0'],
    ['ELASTIC_ETCD_TLS', 'true'],
    ['ELASTIC_ETCD_TLS_KMS_KEY_ID', 'my key'],
    ['ELASTIC_ETCD_TLS_KMS_KEY_ID', 'arn:aws:s3:::bucket'],
    ['ELASTIC_ETCD_TLS_VALIDITY_DAYS', '0'],
    ['ELASTIC_ETCD_TLS_VALIDITY_DAYS', '400'],
    ['ELASTIC_ETCD_TLS_RENEW_AT', '0'],
    ['ELASTIC_ETCD_TLS_RENEW_AT', '1.5'],
    ['ELASTIC_ETCD_TLS_RENEW_AT', '2/3'],
    ['ELASTIC_ETCD_TLS_CLIENTS', 'app,App'],
    ['ELASTIC_ETCD_TLS_CLIENTS', 'app,,web'],
    ['ELASTIC_ETCD_TLS_CLIENTS', 'app,app'],
    ['ELASTIC_ETCD_TLS_CLIENTS', '-app'],
    ['ELASTIC_ETCD_TLS_CLIENTS', 'elastic-etcd-lambda'],
  ];
  for (const [variable, value] of bad) {
    it(`rejects ${variable}=${value} naming the variable and what it expects`, () => {
      assert.deepEqual(problemsOf({ ...minimal, [variable]: value }), [{ variable, received: value }]);
      assert.throws(() => loadConfig({ ...minimal, [variable]: value }), new RegExp(`${variable}=.* is invalid, expected `));
    });
  }

  it('rejects equal client and peer ports', () => {
    assert.deepEqual(problemsOf({ ...minimal, ELASTIC_ETCD_CLIENT_PORT: '2380' }), [
      { variable: 'ELASTIC_ETCD_PEER_PORT', received: '2380' },
    ]);
  });
});

// ELASTIC_ETCD_VERSION: optional; when set, the etcd release new instances run (the stack passes its own).
describe('loadConfig: ELASTIC_ETCD_VERSION', () => {
  it('is optional and read as a version', () => {
    assert.equal('etcdVersion' in loadConfig(minimal), false);
    assert.equal('etcdVersion' in loadConfig({ ...minimal, ELASTIC_ETCD_VERSION: ' ' }), false);
    assert.deepEqual(loadConfig({ ...minimal, ELASTIC_ETCD_VERSION: '3.5.30' }).etcdVersion, { major: 3, minor: 5, patch: 30 });
    assert.deepEqual(loadConfig({ ...minimal, ELASTIC_ETCD_VERSION: '3.4.23' }).etcdVersion, { major: 3, minor: 4, patch: 23 });
  });

  it('an unknown version is a config error naming the variable and what it expects', () => {
    for (const bad of ['3.5', 'v3.5.30', 'latest', '3.3.27', '3.7.0', '4.0.0', '3.5.30-rc.1']) {
      assert.throws(
        () => loadConfig({ ...minimal, ELASTIC_ETCD_VERSION: bad }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.length === 1 &&
          err.problems[0]?.variable === 'ELASTIC_ETCD_VERSION' &&
          /ELASTIC_ETCD_VERSION=.* is invalid, expected an etcd release 3\.4\.x, 3\.5\.x or 3\.6\.x/.test(err.message),
        bad,
      );
    }
  });
});

// TLS: on unless ELASTIC_ETCD_TLS=off; its settings only mean something while it is on.
describe('loadConfig: TLS', () => {
  it('is on by default, with the shared certificate lifetime and renewal point', () => {
    assert.equal(CLUSTER_DEFAULTS.tls, true);
    assert.deepEqual(loadConfig(minimal).tls, { validityDays: 30, renewAtFraction: 2 / 3, clients: [] });
  });

  it('reads the KMS key, lifetime, renewal fraction and clients', () => {
    const config = loadConfig({
      ...minimal,
      ELASTIC_ETCD_TLS: 'on',
      ELASTIC_ETCD_TLS_KMS_KEY_ID: 'alias/etcd-secrets',
      ELASTIC_ETCD_TLS_VALIDITY_DAYS: '7',
      ELASTIC_ETCD_TLS_RENEW_AT: '0.5',
      ELASTIC_ETCD_TLS_CLIENTS: 'app, web-frontend',
    });
    assert.deepEqual(config.tls, {
      kmsKeyId: 'alias/etcd-secrets',
      validityDays: 7,
      renewAtFraction: 0.5,
      clients: ['app', 'web-frontend'],
    });
    for (const key of [
      '1234abcd-12ab-34cd-56ef-1234567890ab',
      'mrk-1234abcd12ab34cd56ef1234567890ab',
      'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/etcd',
    ]) {
      assert.equal(loadConfig({ ...minimal, ELASTIC_ETCD_TLS_KMS_KEY_ID: key }).tls?.kmsKeyId, key);
    }
    assert.equal(loadConfig({ ...minimal, ELASTIC_ETCD_TLS_RENEW_AT: '1' }).tls?.renewAtFraction, 1);
  });

  it('off is plain HTTP: no tls at all', () => {
    assert.equal('tls' in loadConfig({ ...minimal, ELASTIC_ETCD_TLS: 'off' }), false);
  });

  it('a client list or KMS key while TLS is off is a problem, not silently ignored', () => {
    assert.deepEqual(
      problemsOf({ ...minimal, ELASTIC_ETCD_TLS: 'off', ELASTIC_ETCD_TLS_CLIENTS: 'app', ELASTIC_ETCD_TLS_KMS_KEY_ID: 'alias/x' }),
      [
        { variable: 'ELASTIC_ETCD_TLS_KMS_KEY_ID', received: 'alias/x' },
        { variable: 'ELASTIC_ETCD_TLS_CLIENTS', received: 'app' },
      ],
    );
    assert.throws(
      () => loadConfig({ ...minimal, ELASTIC_ETCD_TLS: 'off', ELASTIC_ETCD_TLS_CLIENTS: 'app' }),
      /unset while ELASTIC_ETCD_TLS=off/,
    );
  });
});

describe('toEnvironment', () => {
  const full: LambdaConfig = {
    clusterName: 'prod',
    parameterPrefix: '/teams/storage',
    autoScalingGroup: 'etcd-asg',
    clientPort: 12379,
    peerPort: 12380,
    clusterSize: 'unlimited',
    joinStrategy: 'prune',
    joinAs: 'voter',
    dataDir: '/data/etcd',
    launchHook: 'etcd-launch',
    terminateHook: 'etcd-terminate',
    healthTimeoutMs: 1500,
    etcdVersion: { major: 3, minor: 5, patch: 30 },
    joinGraceSeconds: 900,
    unhealthyAfterMs: 120_000,
    backup: {
      bucket: 'prod-etcd-backups',
      prefix: 'teams/storage/prod',
      intervalMs: 600_000,
      autoRestore: false,
      restoreAfterMs: 1_200_000,
    },
    tls: {
      kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      validityDays: 14,
      renewAtFraction: 2 / 3,
      clients: ['app', 'backup-job'],
    },
    quotaBackendBytes: 4 * 1024 ** 3,
    autoCompaction: { mode: 'revision', retention: '50000' },
  };

  it('writes what loadConfig reads back: every setting round-trips', () => {
    assert.deepEqual(loadConfig(toEnvironment(full)), full);
    const { tls: _plain, ...plainHttp } = full;
    assert.deepEqual(loadConfig(toEnvironment({ ...plainHttp, tls: false })), plainHttp);
    const { kmsKeyId: _ssmKey, ...defaultKey } = full.tls!;
    assert.deepEqual(loadConfig(toEnvironment({ ...full, tls: { ...defaultKey, clients: [] } })), {
      ...full,
      tls: { ...defaultKey, clients: [] },
    });
    assert.deepEqual(loadConfig(toEnvironment({ ...full, tls: { ...defaultKey, renewAtFraction: 0.9 } })).tls?.renewAtFraction, 0.9);
    const { etcdVersion: _none, ...withoutVersion } = full;
    assert.deepEqual(loadConfig(toEnvironment(withoutVersion)), withoutVersion);
    const { backup: _off, ...withoutBackups } = full;
    assert.deepEqual(loadConfig(toEnvironment(withoutBackups)), withoutBackups);
    assert.deepEqual(loadConfig(toEnvironment({ ...full, clusterSize: 5, joinStrategy: 'replace' })), {
      ...full,
      clusterSize: 5,
      joinStrategy: 'replace',
    });
  });

  it('writes every variable loadConfig reads, and only those', () => {
    assert.deepEqual(Object.keys(toEnvironment(full)).sort(), [...ENVIRONMENT_VARIABLES].sort());
  });

  it('leaves out the settings not given, so loadConfig applies the shared defaults', () => {
    const env = toEnvironment({
      clusterName: 'prod',
      autoScalingGroup: 'etcd-asg',
      clusterSize: 3,
      launchHook: 'etcd-launch',
      terminateHook: 'etcd-terminate',
    });
    assert.deepEqual(env, minimal);
    const config = loadConfig(env);
    assert.equal(config.parameterPrefix, CLUSTER_DEFAULTS.parameterPrefix);
    assert.deepEqual([config.clientPort, config.peerPort], [CLUSTER_DEFAULTS.clientPort, CLUSTER_DEFAULTS.peerPort]);
    assert.deepEqual(
      [config.joinStrategy, config.joinAs, config.dataDir],
      [CLUSTER_DEFAULTS.joinStrategy, CLUSTER_DEFAULTS.joinAs, CLUSTER_DEFAULTS.dataDir],
    );
    assert.equal(config.healthTimeoutMs, CLUSTER_DEFAULTS.healthTimeoutMs);
    assert.equal(config.unhealthyAfterMs, CLUSTER_DEFAULTS.unhealthyAfterSeconds * 1000);
    assert.deepEqual(config.tls, { validityDays: 30, renewAtFraction: 2 / 3, clients: [] }, 'TLS is on unless asked off');
    assert.equal(config.quotaBackendBytes, CLUSTER_DEFAULTS.quotaBackendBytes);
    assert.deepEqual(config.autoCompaction, {
      mode: CLUSTER_DEFAULTS.autoCompactionMode,
      retention: CLUSTER_DEFAULTS.autoCompactionRetention,
    });
  });

  it('plain HTTP is written only when asked for', () => {
    const base = { clusterName: 'prod', autoScalingGroup: 'etcd-asg', clusterSize: 3, launchHook: 'l', terminateHook: 't' } as const;
    assert.equal(toEnvironment({ ...base, tls: false }).ELASTIC_ETCD_TLS, 'off');
    assert.deepEqual(toEnvironment({ ...base, tls: {} }), { ...toEnvironment(base), ELASTIC_ETCD_TLS: 'on' });
  });

  it('a backup bucket alone turns on automatic restore after the shared default wait', () => {
    const config = loadConfig({ ...minimal, ELASTIC_ETCD_BACKUP_BUCKET: 'prod-etcd-backups' });
    assert.equal(config.backup?.autoRestore, CLUSTER_DEFAULTS.autoRestore);
    assert.equal(config.backup?.restoreAfterMs, CLUSTER_DEFAULTS.restoreAfterSeconds * 1000);
    assert.throws(() => loadConfig({ ...minimal, ELASTIC_ETCD_AUTO_RESTORE: 'yes' }), /ELASTIC_ETCD_AUTO_RESTORE.*true or false/s);
  });
});
