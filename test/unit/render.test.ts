// Renderers: fixed order, unset keys left out, and escaping that a real POSIX shell reads back unchanged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RenderError, renderDropin, renderEnv, renderFlags, renderJson } from '../../src/core/render.js';
import type { EtcdSettings } from '../../src/core/types.js';

const bootstrap: EtcdSettings = {
  name: 'n1',
  dataDir: 'n1.etcd',
  initialAdvertisePeerURLs: ['http://10.0.0.1:2380'],
  initialClusterState: 'new',
  discovery: 'https://discovery.etcd.io/abc',
};
const join4: EtcdSettings = {
  name: 'n4',
  dataDir: '/var/lib/etcd2',
  initialAdvertisePeerURLs: ['http://10.0.0.4:2380'],
  initialClusterState: 'existing',
  initialCluster: [
    { name: 'n4', peerURL: 'http://10.0.0.4:2380' },
    { name: 'n1', peerURL: 'http://10.0.0.1:2380' },
    { name: 'n2', peerURL: 'http://10.0.0.2:2380' },
  ],
};

describe('flags', () => {
  test('bootstrap (behaviour doc 4.1 fixture, double-dash flags in a fixed order)', () => {
    assert.equal(
      renderFlags(bootstrap),
      '--name=n1 --data-dir=n1.etcd --initial-advertise-peer-urls=http://10.0.0.1:2380 --initial-cluster-state=new --discovery=https://discovery.etcd.io/abc\n',
    );
  });
  test('join via add', () => {
    assert.equal(
      renderFlags(join4),
      '--name=n4 --data-dir=/var/lib/etcd2 --initial-advertise-peer-urls=http://10.0.0.4:2380 --initial-cluster=n4=http://10.0.0.4:2380,n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380 --initial-cluster-state=existing\n',
    );
  });
  test('a value that unquoted substitution would split is refused, not mangled', () => {
    assert.throws(() => renderFlags({ ...bootstrap, dataDir: '/var/lib/my etcd' }), RenderError);
  });
});

describe('env', () => {
  test('only set keys, in a fixed order, quoted', () => {
    assert.equal(
      renderEnv(bootstrap),
      [
        'ETCD_NAME="n1"',
        'ETCD_DATA_DIR="n1.etcd"',
        'ETCD_INITIAL_ADVERTISE_PEER_URLS="http://10.0.0.1:2380"',
        'ETCD_INITIAL_CLUSTER_STATE="new"',
        'ETCD_DISCOVERY="https://discovery.etcd.io/abc"',
        '',
      ].join('\n'),
    );
  });
  test('a POSIX shell reads every value back byte for byte, special characters included', () => {
    const tricky = { ...join4, dataDir: '/data/$HOME/`id`/"q"/back\\slash/100%/it\'s' };
    const dir = mkdtempSync(join(tmpdir(), 'render-env-'));
    try {
      const file = join(dir, 'etcd.env');
      writeFileSync(file, renderEnv(tricky));
      const out = execFileSync('sh', ['-c', 'set -a; . "$1"; printf %s "$ETCD_DATA_DIR"', 'sh', file], { encoding: 'utf8' });
      assert.equal(out, tricky.dataDir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('a newline cannot be carried and is refused', () => {
    assert.throws(() => renderEnv({ ...bootstrap, name: 'a\nETCD_X=1' }), RenderError);
  });
});

describe('dropin', () => {
  test('Environment= lines with systemd escaping, % doubled', () => {
    const out = renderDropin(
      { ...join4, dataDir: '/data/100%/"x"' },
      { requires: 'elastic-etcd.service', execStartPost: ['/usr/bin/elastic-etcd promote --name=n4'] },
    );
    assert.equal(
      out,
      [
        '# Written by elastic-etcd; rewritten on every run.',
        '[Unit]',
        'After=elastic-etcd.service',
        'Requires=elastic-etcd.service',
        '',
        '[Service]',
        'Environment="ETCD_NAME=n4"',
        'Environment="ETCD_DATA_DIR=/data/100%%/\\"x\\""',
        'Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://10.0.0.4:2380"',
        'Environment="ETCD_INITIAL_CLUSTER=n4=http://10.0.0.4:2380,n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380"',
        'Environment="ETCD_INITIAL_CLUSTER_STATE=existing"',
        'ExecStartPost=/usr/bin/elastic-etcd promote --name=n4',
        '',
      ].join('\n'),
    );
  });
  test('the space quota and auto-compaction, after the cluster keys and before TLS', () => {
    const out = renderDropin({
      ...bootstrap,
      quotaBackendBytes: 2147483648,
      autoCompaction: { mode: 'periodic', retention: '1h' },
      tls: { certFile: 'c', keyFile: 'k', trustedCaFile: 'a' },
    });
    const lines = out.split('\n');
    const at = lines.indexOf('Environment="ETCD_DISCOVERY=https://discovery.etcd.io/abc"');
    assert.deepEqual(lines.slice(at + 1, at + 5), [
      'Environment="ETCD_QUOTA_BACKEND_BYTES=2147483648"',
      'Environment="ETCD_AUTO_COMPACTION_MODE=periodic"',
      'Environment="ETCD_AUTO_COMPACTION_RETENTION=1h"',
      'Environment="ETCD_CERT_FILE=c"',
    ]);
    assert.match(
      renderFlags({ ...bootstrap, quotaBackendBytes: 4194304, autoCompaction: { mode: 'revision', retention: '1000' } }),
      / --quota-backend-bytes=4194304 --auto-compaction-mode=revision --auto-compaction-retention=1000\n$/,
    );
  });
  test('without a required unit there is no [Unit] section', () => {
    assert.ok(!renderDropin(bootstrap).includes('[Unit]'));
  });
  test('an invalid unit name is refused', () => {
    assert.throws(() => renderDropin(bootstrap, { requires: 'x; rm -rf /' }), RenderError);
  });
});

describe('json', () => {
  test('a refusal carries its code and message', () => {
    const parsed = JSON.parse(renderJson({ kind: 'refuse', code: 'cluster-down', message: 'the cluster is down' })) as Record<
      string,
      unknown
    >;
    assert.equal(parsed.code, 'cluster-down');
    assert.equal(parsed.message, 'the cluster is down');
  });
});
