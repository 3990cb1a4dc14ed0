// The backup variables of the Lambda's configuration: off without a bucket, defaults with one, and every bad
// value named in the one ConfigError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/lambda/config.js';

const minimal = {
  ELASTIC_ETCD_CLUSTER_NAME: 'etcd',
  ELASTIC_ETCD_AUTO_SCALING_GROUP: 'etcd-asg',
  ELASTIC_ETCD_CLUSTER_SIZE: '3',
  ELASTIC_ETCD_LAUNCH_HOOK: 'launch',
  ELASTIC_ETCD_TERMINATE_HOOK: 'terminate',
};

test('no bucket: backups are off', () => {
  assert.equal(loadConfig(minimal).backup, undefined);
  assert.equal(loadConfig({ ...minimal, ELASTIC_ETCD_BACKUP_BUCKET: '  ' }).backup, undefined);
});

test('a bucket: the default prefix and the 30-minute interval', () => {
  assert.deepEqual(loadConfig({ ...minimal, ELASTIC_ETCD_BACKUP_BUCKET: 'my-backups' }).backup, {
    bucket: 'my-backups',
    prefix: 'elastic-etcd',
    intervalMs: 1_800_000,
    autoRestore: true,
    restoreAfterMs: 600_000,
  });
  assert.deepEqual(
    loadConfig({
      ...minimal,
      ELASTIC_ETCD_BACKUP_BUCKET: 'b.k-t',
      ELASTIC_ETCD_BACKUP_PREFIX: 'a/b',
      ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS: '60',
    }).backup,
    {
      bucket: 'b.k-t',
      prefix: 'a/b',
      intervalMs: 60_000,
      autoRestore: true,
      restoreAfterMs: 600_000,
    },
  );
});

test('bad bucket, prefix and interval are each named', () => {
  try {
    loadConfig({
      ...minimal,
      ELASTIC_ETCD_BACKUP_BUCKET: 'Bad_Bucket',
      ELASTIC_ETCD_BACKUP_PREFIX: '/lead',
      ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS: '59',
    });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => p.variable).sort(), [
      'ELASTIC_ETCD_BACKUP_BUCKET',
      'ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS',
      'ELASTIC_ETCD_BACKUP_PREFIX',
    ]);
  }
  for (const prefix of ['trailing/', 'a//b', 'sp ace']) {
    assert.throws(
      () => loadConfig({ ...minimal, ELASTIC_ETCD_BACKUP_BUCKET: 'ok-bucket', ELASTIC_ETCD_BACKUP_PREFIX: prefix }),
      ConfigError,
      prefix,
    );
  }
});
