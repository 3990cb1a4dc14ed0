// The env and drop-in of a TLS member: etcd's eight TLS keys after the others, one member certificate on both
// listeners, client certificates required on both; none of them without EtcdSettings.tls.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_DEFAULTS, memberTlsPaths } from '../../src/core/defaults.js';
import { renderDropin, renderEnv, renderFlags, settingsEntries } from '../../src/core/render.js';
import type { EtcdSettings } from '../../src/core/types.js';

const member: EtcdSettings = {
  name: 'i-0abc',
  dataDir: '/var/lib/etcd',
  initialAdvertisePeerURLs: ['https://10.0.0.4:2380'],
  initialClusterState: 'existing',
  initialCluster: [
    { name: 'i-0abc', peerURL: 'https://10.0.0.4:2380' },
    { name: 'i-0def', peerURL: 'https://10.0.0.5:2380' },
  ],
  listenPeerURLs: ['https://10.0.0.4:2380'],
  listenClientURLs: ['https://10.0.0.4:2379'],
  advertiseClientURLs: ['https://10.0.0.4:2379'],
  tls: memberTlsPaths(),
};

const TLS_KEYS: [string, string][] = [
  ['ETCD_CERT_FILE', '/etc/etcd/pki/member.crt'],
  ['ETCD_KEY_FILE', '/etc/etcd/pki/member.key'],
  ['ETCD_TRUSTED_CA_FILE', '/etc/etcd/pki/ca.crt'],
  ['ETCD_CLIENT_CERT_AUTH', 'true'],
  ['ETCD_PEER_CERT_FILE', '/etc/etcd/pki/member.crt'],
  ['ETCD_PEER_KEY_FILE', '/etc/etcd/pki/member.key'],
  ['ETCD_PEER_TRUSTED_CA_FILE', '/etc/etcd/pki/ca.crt'],
  ['ETCD_PEER_CLIENT_CERT_AUTH', 'true'],
];

describe('TLS settings', () => {
  test('the member files live in the shared pkiDir', () => {
    assert.equal(CLUSTER_DEFAULTS.pkiDir, '/etc/etcd/pki');
    assert.deepEqual(memberTlsPaths('/opt/pki/'), {
      certFile: '/opt/pki/member.crt',
      keyFile: '/opt/pki/member.key',
      trustedCaFile: '/opt/pki/ca.crt',
    });
  });

  const cases: { name: string; settings: EtcdSettings; tlsKeys: [string, string][] }[] = [
    { name: 'with tls: the eight keys, after all the others', settings: member, tlsKeys: TLS_KEYS },
    { name: 'without tls: none of them', settings: { ...member, tls: undefined }, tlsKeys: [] },
    {
      name: 'other paths are rendered as given, on both listeners',
      settings: { ...member, tls: { certFile: '/p/c.pem', keyFile: '/p/k.pem', trustedCaFile: '/p/ca.pem' } },
      tlsKeys: TLS_KEYS.map(([k, v]) => [
        k,
        v
          .replace('/etc/etcd/pki/member.crt', '/p/c.pem')
          .replace('/etc/etcd/pki/member.key', '/p/k.pem')
          .replace('/etc/etcd/pki/ca.crt', '/p/ca.pem'),
      ]),
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const entries = settingsEntries(c.settings);
      const plain = settingsEntries({ ...c.settings, tls: undefined });
      assert.deepEqual(entries, [...plain, ...c.tlsKeys]);
      assert.ok(plain.every(([key]) => !/CERT|KEY_FILE|TRUSTED_CA/.test(key)));
      const env = renderEnv(c.settings);
      for (const [key, value] of c.tlsKeys) assert.ok(env.includes(`${key}="${value}"\n`), `${key} in the env file`);
      const dropin = renderDropin(c.settings);
      for (const [key, value] of c.tlsKeys) assert.ok(dropin.includes(`Environment="${key}=${value}"\n`), `${key} in the drop-in`);
      const flags = renderFlags(c.settings);
      for (const [key, value] of c.tlsKeys) assert.ok(flags.includes(`--${key.slice(5).toLowerCase().replaceAll('_', '-')}=${value}`));
    });
  }

  test('every URL of a TLS member is https', () => {
    for (const [key, value] of settingsEntries(member).filter(([k]) => k.endsWith('URLS') || k === 'ETCD_INITIAL_CLUSTER')) {
      assert.doesNotMatch(value, /http:\/\//, key);
    }
  });
});
