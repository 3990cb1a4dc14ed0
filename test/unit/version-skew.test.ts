import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkVersionSkew, parseEtcdVersion } from '../../src/core/version.js';

test('parseEtcdVersion reads major.minor.patch and nothing else', () => {
  assert.deepEqual(parseEtcdVersion('3.5.30'), { major: 3, minor: 5, patch: 30 });
  assert.deepEqual(parseEtcdVersion(' 3.4.0 '), { major: 3, minor: 4, patch: 0 });
  for (const bad of ['', '3.5', 'v3.5.30', '3.5.x', 'not_decided', '3.5.30-rc.1', '3.5.30.1'])
    assert.equal(parseEtcdVersion(bad), undefined, bad);
});

test('version skew: one minor apart upwards or the same is admitted; more, older or another major is refused', () => {
  const table: [member: string, cluster: string, expected: 'ok' | 'refuse' | 'unknown', server?: string][] = [
    ['3.4.23', '3.4.0', 'ok'],
    ['3.5.30', '3.4.0', 'ok'], // the rolling upgrade
    ['3.5.30', '3.5.0', 'ok'],
    ['3.6.5', '3.5.0', 'ok'],
    ['3.6.5', '3.4.0', 'refuse'], // two minors apart
    ['3.4.23', '3.6.0', 'refuse'],
    ['3.4.23', '3.5.0', 'refuse'], // older than the cluster
    ['3.5.30', '3.6.0', 'refuse'],
    ['4.0.0', '3.6.0', 'refuse'],
    ['3.5.30', 'not_decided', 'unknown'],
    ['3.5.30', '', 'unknown'],
    // A cluster that just formed reports etcd's placeholder 3.0.0: the answering member's version stands in.
    ['3.5.30', '3.0.0', 'unknown'],
    ['3.4.23', '3.0.0', 'ok', '3.4.23'],
    ['3.6.0', '3.0.0', 'refuse', '3.4.23'],
    ['3.5.30', 'not_decided', 'refuse', '3.6.1'],
    ['3.5.30', '3.4.0', 'ok', '3.5.30'], // a decided cluster version wins over the answering member's
  ];
  for (const [member, cluster, expected, server] of table) {
    const parsed = parseEtcdVersion(member);
    assert.ok(parsed !== undefined);
    const decision = checkVersionSkew(parsed, cluster, server);
    assert.equal(decision.kind, expected, `${member} into ${cluster} (${server ?? 'no server version'})`);
    if (decision.kind === 'refuse') assert.match(decision.reason, new RegExp(`etcd ${parsed.major}\\.${parsed.minor} `));
  }
});
