// `elastic-etcd status` and certificates, without etcd: the PEM files are checked before any connection (a wrong
// file is a usage error naming the flag), and a failed TLS handshake is told apart from a member that is down.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EtcdError } from '../../src/adapters/etcd/index.js';
import { createCertificateAuthority, issueClientCertificate } from '../../src/adapters/pki/index.js';
import { checkTlsMaterial } from '../../src/cli/status-command.js';
import { UsageError } from '../../src/cli/errors.js';
import { tlsFailureOf } from '../../src/services/status.js';

describe('status: the PEM files, checked before connecting', async () => {
  const ca = await createCertificateAuthority({ clusterName: 'unit' });
  const authority = { certificate: { pem: ca.certificate, source: 'ca' }, privateKey: { pem: ca.privateKey, source: 'ca key' } };
  const client = await issueClientCertificate(authority, { commonName: 'ops' });
  const other = await issueClientCertificate(authority, { commonName: 'other' });
  const files = { caFile: 'ca.crt', certFile: 'ops.crt', keyFile: 'ops.key' };
  const check = (tls: { ca?: string; cert?: string; key?: string }): string | undefined => {
    try {
      checkTlsMaterial({ requestTimeoutMs: 1, healthTimeoutMs: 1, tls }, files);
      return undefined;
    } catch (err) {
      assert.ok(err instanceof UsageError, String(err));
      return err.message;
    }
  };

  test('good files, a CA bundle, and no TLS at all pass', () => {
    assert.equal(check({ ca: ca.certificate, cert: client.certificate, key: client.privateKey }), undefined);
    assert.equal(check({ ca: `${ca.certificate}\n${ca.certificate}` }), undefined);
    assert.equal(check({ cert: client.certificate, key: client.privateKey }), undefined);
    checkTlsMaterial({ requestTimeoutMs: 1, healthTimeoutMs: 1 }, {});
  });

  test('each wrong file is one usage error naming its flag and file', () => {
    const cases: [{ ca?: string; cert?: string; key?: string }, string][] = [
      [{ ca: 'not a PEM' }, '--cacert "ca.crt" holds no PEM certificate'],
      [{ ca: client.privateKey }, '--cacert "ca.crt" holds no PEM certificate'],
      [
        { ca: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
        '--cacert "ca.crt" holds a certificate that cannot be read',
      ],
      [{ cert: 'not a PEM', key: client.privateKey }, '--cert "ops.crt" holds no PEM certificate'],
      [{ cert: client.certificate, key: 'not a PEM' }, '--key "ops.key" holds no PEM private key'],
      [{ cert: client.certificate, key: other.privateKey }, '--key "ops.key" does not belong to the certificate --cert "ops.crt"'],
    ];
    for (const [tls, message] of cases)
      assert.ok(check(tls)?.startsWith(message), `${JSON.stringify(Object.keys(tls))}: ${check(tls) ?? 'passed'}`);
  });
});

describe('status: TLS handshake failures', () => {
  const wrapped = (code: string, message = 'x'): EtcdError =>
    new EtcdError('unavailable', `etcd at https://10.0.0.1:2379 is unreachable (${code})`, {
      endpoint: 'https://10.0.0.1:2379',
      cause: Object.assign(new Error(message), { code }),
    });

  test('by side: the member certificate, our client certificate, no TLS; anything else is none', () => {
    const table: [EtcdError, string | undefined][] = [
      [wrapped('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'member-certificate'],
      [wrapped('DEPTH_ZERO_SELF_SIGNED_CERT'), 'member-certificate'],
      [wrapped('CERT_HAS_EXPIRED'), 'member-certificate'],
      [wrapped('ERR_TLS_CERT_ALTNAME_INVALID'), 'member-certificate'],
      [wrapped('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), 'client-certificate'],
      [wrapped('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), 'client-certificate'],
      [wrapped('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED'), 'client-certificate'],
      [wrapped('EPROTO', 'write EPROTO ...:ssl3_get_record:wrong version number:...'), 'not-tls'],
      [wrapped('EPROTO', 'something else'), undefined],
      [wrapped('ECONNREFUSED'), undefined],
      [wrapped('ECONNRESET'), undefined],
    ];
    for (const [err, side] of table) assert.equal(tlsFailureOf(err)?.side, side, err.message);
    assert.equal(tlsFailureOf(new Error('plain')), undefined);
    assert.equal(tlsFailureOf(undefined), undefined);
    assert.deepEqual(tlsFailureOf(wrapped('CERT_HAS_EXPIRED')), {
      side: 'member-certificate',
      code: 'CERT_HAS_EXPIRED',
      reason: 'its certificate has expired',
    });
  });
});
