// ELASTIC_ETCD_VERSION: optional; when set, the etcd release new instances run (the stack passes its own).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/lambda/config.js';

const minimal = {
  ELASTIC_ETCD_CLUSTER_NAME: 'prod',
  ELASTIC_ETCD_AUTO_SCALING_GROUP: 'etcd-asg',
  ELASTIC_ETCD_CLUSTER_SIZE: '3',
  ELASTIC_ETCD_LAUNCH_HOOK: 'etcd-launch',
  ELASTIC_ETCD_TERMINATE_HOOK: 'etcd-terminate',
};

test('ELASTIC_ETCD_VERSION is optional and read as a version', () => {
  assert.equal('etcdVersion' in loadConfig(minimal), false);
  assert.equal('etcdVersion' in loadConfig({ ...minimal, ELASTIC_ETCD_VERSION: ' ' }), false);
  assert.deepEqual(loadConfig({ ...minimal, ELASTIC_ETCD_VERSION: '3.5.30' }).etcdVersion, { major: 3, minor: 5, patch: 30 });
  assert.deepEqual(loadConfig({ ...minimal, ELASTIC_ETCD_VERSION: '3.4.23' }).etcdVersion, { major: 3, minor: 4, patch: 23 });
});

test('an unknown ELASTIC_ETCD_VERSION is a config error naming the variable and what it expects', () => {
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
