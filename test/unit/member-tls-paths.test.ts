// Where etcd is told to find its member certificate, key and trusted CA: the files the boot script writes into the
// pki directory, with or without a trailing slash on the directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_DEFAULTS, memberTlsPaths } from '../../src/core/defaults.js';

test('the default pki directory holds member.crt, member.key and ca.crt', () => {
  assert.equal(CLUSTER_DEFAULTS.pkiDir, '/etc/etcd/pki');
  assert.deepEqual(memberTlsPaths(), {
    certFile: '/etc/etcd/pki/member.crt',
    keyFile: '/etc/etcd/pki/member.key',
    trustedCaFile: '/etc/etcd/pki/ca.crt',
  });
});

test('a directory given with a trailing slash gives the same paths, without a double slash', () => {
  assert.deepEqual(memberTlsPaths('/srv/pki/'), memberTlsPaths('/srv/pki'));
  assert.equal(memberTlsPaths('/srv/pki/').certFile, '/srv/pki/member.crt');
});
