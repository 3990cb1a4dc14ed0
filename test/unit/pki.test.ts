// The cluster CA: certificates it makes are what etcd needs (checked by a real TLS handshake here and by real
// etcd in test/integration/etcd-tls.test.ts), and every bad input is refused with an error naming it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type TLSSocket } from 'node:tls';
import {
  CertificateError,
  checkCertificate,
  createCertificateAuthority,
  issueClientCertificate,
  issueMemberCertificate,
  loadCertificateAuthority,
  type CertificateAndKey,
  type PemInput,
} from '../../src/adapters/pki/index.js';
import { isRenewalDue, missingSubjectNames, validityWindow } from '../../src/core/certificates.js';

const DAY = 86_400_000;
const caInput = (ca: CertificateAndKey): { certificate: PemInput; privateKey: PemInput } => ({
  certificate: { pem: ca.certificate, source: 'ca.crt' },
  privateKey: { pem: ca.privateKey, source: 'ca.key' },
});

function rejectsNaming(source: string, pattern: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof CertificateError, `expected a CertificateError, got ${String(err)}`);
    assert.equal(err.source, source);
    assert.match(err.message, pattern);
    assert.ok(err.message.startsWith(`${source}: `), err.message);
    return true;
  };
}

describe('creating and issuing', async () => {
  const now = new Date('2026-11-28T00:00:00Z');
  const ca = await createCertificateAuthority({ clusterName: 'prod', now });
  const member = await issueMemberCertificate(caInput(ca), {
    name: 'm1',
    ips: ['10.0.1.17'],
    dnsNames: ['ip-10-0-1-17.ec2.internal'],
    now,
  });
  const client = await issueClientCertificate(caInput(ca), { commonName: 'app', now });

  test('the CA is a self-signed ECDSA P-256 CA valid for ten years', () => {
    const cert = new X509Certificate(ca.certificate);
    assert.equal(cert.ca, true);
    assert.ok(cert.checkIssued(cert) && cert.verify(cert.publicKey));
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.match(cert.subject, /CN=elastic-etcd CA prod/);
    assert.equal(new Date(cert.validTo).getUTCFullYear(), 2036);
    assert.match(ca.privateKey, /^-----BEGIN PRIVATE KEY-----\n/);
    loadCertificateAuthority({ pem: ca.certificate, source: 'ca.crt' }, { pem: ca.privateKey, source: 'ca.key' }, now);
  });

  test('a member certificate names its IP and DNS name, serves and connects, and lives 30 days', () => {
    const facts = checkCertificate({
      certificate: { pem: member.certificate, source: 'member.crt' },
      privateKey: { pem: member.privateKey, source: 'member.key' },
      ca: { pem: ca.certificate, source: 'ca.crt' },
      usage: 'member',
      names: { ips: ['10.0.1.17'], dnsNames: ['IP-10-0-1-17.ec2.internal'] },
      now,
    });
    assert.equal(facts.commonName, 'm1');
    assert.deepEqual(facts.names, { ips: ['10.0.1.17'], dnsNames: ['ip-10-0-1-17.ec2.internal'] });
    assert.equal(Math.round((facts.notAfter.getTime() - now.getTime()) / DAY), 30);
    assert.ok(facts.notBefore < now, 'backdated for clock skew');
    const cert = new X509Certificate(member.certificate);
    assert.equal(cert.ca, false);
    assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(cert.checkIP('10.0.1.17'), '10.0.1.17');
  });

  test('a client certificate is for clientAuth only and is no member certificate', () => {
    const facts = checkCertificate({
      certificate: { pem: client.certificate, source: 'app.crt' },
      ca: { pem: ca.certificate, source: 'ca.crt' },
      usage: 'client',
      now,
    });
    assert.equal(facts.commonName, 'app');
    assert.deepEqual(new X509Certificate(client.certificate).keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.throws(
      () =>
        checkCertificate({
          certificate: { pem: client.certificate, source: 'app.crt' },
          ca: { pem: ca.certificate, source: 'ca.crt' },
          usage: 'member',
          now,
        }),
      rejectsNaming('app.crt', /lacks the extended key usage serverAuth/),
    );
  });

  test('PEM output ends in a newline, so certificates concatenate into a bundle', () => {
    for (const pem of [ca.certificate, ca.privateKey, member.certificate, member.privateKey, client.certificate])
      assert.ok(pem.endsWith('-----\n'), pem.slice(-40));
  });

  test('serial numbers differ between certificates', async () => {
    const again = await issueClientCertificate(caInput(ca), { commonName: 'app', now });
    assert.notEqual(new X509Certificate(again.certificate).serialNumber, new X509Certificate(client.certificate).serialNumber);
  });

  test('mutual TLS works with these certificates (Node TLS on loopback)', async () => {
    const fresh = await createCertificateAuthority({ clusterName: 'tls' });
    const server = await issueMemberCertificate(caInput(fresh), { name: 'srv', ips: ['127.0.0.1'], dnsNames: ['localhost'] });
    const user = await issueClientCertificate(caInput(fresh), { commonName: 'user' });
    const tlsServer = createServer(
      { cert: server.certificate, key: server.privateKey, ca: fresh.certificate, requestCert: true, rejectUnauthorized: true },
      (socket) => {
        socket.end(`hello ${(socket.getPeerCertificate().subject as { CN?: string }).CN ?? '?'}`);
      },
    );
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    const { port } = tlsServer.address() as { port: number };
    try {
      const talk = async (options: { cert?: string; key?: string }): Promise<string> => {
        const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca: fresh.certificate, ...options });
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        try {
          await once(socket, 'end');
        } finally {
          socket.destroy();
        }
        return text;
      };
      assert.equal(await talk({ cert: user.certificate, key: user.privateKey }), 'hello user');
      await assert.rejects(talk({}), 'a client without a certificate is refused');
    } finally {
      tlsServer.close();
    }
  });
});

describe('bad input is refused, naming it', async () => {
  const now = new Date('2026-11-28T00:00:00Z');
  const ca = await createCertificateAuthority({ clusterName: 'prod', now });
  const otherCa = await createCertificateAuthority({ clusterName: 'other', now });
  const member = await issueMemberCertificate(caInput(ca), { name: 'm1', ips: ['10.0.1.17'], dnsNames: [], now });
  const check = (over: Partial<Parameters<typeof checkCertificate>[0]>): ReturnType<typeof checkCertificate> =>
    checkCertificate({
      certificate: { pem: member.certificate, source: '/etc/etcd/member.crt' },
      privateKey: { pem: member.privateKey, source: '/etc/etcd/member.key' },
      ca: { pem: ca.certificate, source: '/etc/etcd/ca.crt' },
      usage: 'member',
      names: { ips: ['10.0.1.17'], dnsNames: [] },
      now,
      ...over,
    });

  test('a certificate that does not parse', () => {
    assert.throws(() => check({ certificate: { pem: 'hello', source: '/x.crt' } }), rejectsNaming('/x.crt', /holds no PEM certificate/));
    const broken = member.certificate.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    assert.throws(
      () => check({ certificate: { pem: broken, source: '/x.crt' } }),
      rejectsNaming('/x.crt', /is not a valid certificate|was not issued/),
    );
    assert.throws(() => check({ ca: { pem: '', source: 'param ca' } }), rejectsNaming('param ca', /holds no PEM certificate/));
  });

  test('a key of the wrong type', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.throws(
      () => check({ privateKey: { pem: rsa, source: '/rsa.key' } }),
      rejectsNaming('/rsa.key', /is an RSA key; expected an ECDSA P-256 key/),
    );
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.throws(() => check({ privateKey: { pem: p384, source: '/p384.key' } }), rejectsNaming('/p384.key', /EC key on secp384r1/));
    assert.throws(
      () => check({ privateKey: { pem: 'nope', source: '/bad.key' } }),
      rejectsNaming('/bad.key', /is not a valid private key/),
    );
  });

  test('a key that belongs to another certificate', () => {
    assert.throws(
      () => check({ privateKey: { pem: ca.privateKey, source: '/ca.key' } }),
      rejectsNaming('/ca.key', /is not the key of the certificate \/etc\/etcd\/member.crt/),
    );
  });

  test('a SAN mismatch', () => {
    assert.throws(
      () => check({ names: { ips: ['10.0.1.18'], dnsNames: ['ip-10-0-1-18.ec2.internal'] } }),
      rejectsNaming('/etc/etcd/member.crt', /does not name IP 10.0.1.18, DNS ip-10-0-1-18.ec2.internal \(it names IP 10.0.1.17\)/),
    );
  });

  test('expired, or not yet valid', () => {
    assert.throws(
      () => check({ now: new Date(now.getTime() + 31 * DAY) }),
      rejectsNaming('/etc/etcd/member.crt', /expired at 2026-12-28T00:00:00.000Z/),
    );
    assert.throws(() => check({ now: new Date(now.getTime() - DAY) }), rejectsNaming('/etc/etcd/member.crt', /is not valid before/));
  });

  test('a certificate from another CA', () => {
    assert.throws(
      () => check({ ca: { pem: otherCa.certificate, source: 'other-ca.crt' } }),
      rejectsNaming('/etc/etcd/member.crt', /was not issued by the CA in other-ca.crt/),
    );
  });

  test('a CA that is not a CA, is expired, or whose key is another', async () => {
    const issue = (certificate: PemInput, privateKey: PemInput, at = now): Promise<CertificateAndKey> =>
      issueClientCertificate({ certificate, privateKey }, { commonName: 'x', now: at });
    await assert.rejects(
      issue({ pem: member.certificate, source: 'ca param' }, { pem: member.privateKey, source: 'key param' }),
      rejectsNaming('ca param', /is not a CA certificate/),
    );
    await assert.rejects(
      issue({ pem: ca.certificate, source: 'ca param' }, { pem: otherCa.privateKey, source: 'key param' }),
      rejectsNaming('key param', /is not the key of the CA certificate ca param/),
    );
    await assert.rejects(
      issue({ pem: ca.certificate, source: 'ca param' }, { pem: ca.privateKey, source: 'key param' }, new Date(now.getTime() + 3651 * DAY)),
      rejectsNaming('ca param', /expired/),
    );
    await assert.rejects(
      issue({ pem: ca.certificate, source: 'ca param' }, { pem: ca.privateKey, source: 'key param' }, new Date(now.getTime() + 3640 * DAY)),
      rejectsNaming('ca param', /renew the CA first/),
    );
  });

  test('member names and SANs that are not names', async () => {
    await assert.rejects(
      issueMemberCertificate(caInput(ca), { name: 'm1', ips: ['10.0.1'], dnsNames: [] }),
      rejectsNaming('member m1', /"10.0.1" is not an IP address/),
    );
    await assert.rejects(
      issueMemberCertificate(caInput(ca), { name: 'm1', ips: [], dnsNames: ['bad_name!'] }),
      rejectsNaming('member m1', /is not a DNS name/),
    );
    await assert.rejects(
      issueMemberCertificate(caInput(ca), { name: 'm1', ips: [' '], dnsNames: [] }),
      rejectsNaming('member m1', /at least one IP address or DNS name/),
    );
    await assert.rejects(
      issueClientCertificate(caInput(ca), { commonName: 'a,CN=admin' }),
      rejectsNaming('client name', /not a usable name/),
    );
  });
});

describe('certificate policy (pure)', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  test('renewal is due after the fraction of the lifetime, or outside the window', () => {
    const w = validityWindow(now, 30);
    assert.equal(isRenewalDue(w, new Date(now.getTime() + 19 * DAY)), false);
    assert.equal(isRenewalDue(w, new Date(now.getTime() + 21 * DAY)), true);
    assert.equal(isRenewalDue(w, new Date(now.getTime() + 10 * DAY), 0.5), false);
    assert.equal(isRenewalDue(w, new Date(now.getTime() + 16 * DAY), 0.5), true);
    assert.equal(isRenewalDue(w, new Date(now.getTime() - DAY)), true);
    assert.equal(isRenewalDue(w, new Date(now.getTime() + 31 * DAY)), true);
    assert.throws(() => isRenewalDue(w, now, 0), RangeError);
    assert.throws(() => validityWindow(now, 0), RangeError);
  });
  test('missing names are listed, DNS case-insensitively', () => {
    assert.deepEqual(
      missingSubjectNames({ ips: ['1.2.3.4', '5.6.7.8'], dnsNames: ['A.example'] }, { ips: ['1.2.3.4'], dnsNames: ['a.example'] }),
      ['IP 5.6.7.8'],
    );
  });
});
