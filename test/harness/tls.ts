// Mutual TLS for harness members: a per-cluster CA made by our own PKI code (src/adapters/pki), member
// certificates written to files etcd reads, client certificates for tests, and HTTPS JSON probes that present
// one. Renewing a member writes new files at the same paths, as an instance's renewal timer would.
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueMemberCertificate,
  type CertificateAndKey,
  type PemInput,
} from '../../src/adapters/pki/index.js';

/** Paths of the PEM files one party (member or client) uses, as etcd and etcdctl name them. */
export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** PEM contents for a client (what our etcd adapter's `tls` option takes). */
export interface TlsPems {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A client identity: its files and its PEM contents. */
export interface TlsClientIdentity extends TlsFiles, TlsPems {}

export interface IssueOptions {
  /** Issue "now" at this time (e.g. in the past, for an expired certificate). */
  readonly now?: Date;
  readonly validityDays?: number;
}

/** A test CA whose files live in `dir`. */
export class TestPki {
  readonly caFile: string;

  private constructor(
    readonly dir: string,
    readonly ca: CertificateAndKey,
  ) {
    this.caFile = join(dir, 'ca.crt');
    writeFileSync(this.caFile, ca.certificate);
  }

  /**
   * Makes a fresh CA (our own code) and writes its certificate to `dir`/ca.crt. The CA is dated 30 days back,
   * so tests can issue certificates that have already expired.
   */
  static async create(dir: string, clusterName = 'test'): Promise<TestPki> {
    mkdirSync(dir, { recursive: true });
    return new TestPki(dir, await createCertificateAuthority({ clusterName, now: new Date(Date.now() - 30 * 86_400_000) }));
  }

  private get authority(): { certificate: PemInput; privateKey: PemInput } {
    return {
      certificate: { pem: this.ca.certificate, source: 'test CA certificate' },
      privateKey: { pem: this.ca.privateKey, source: 'test CA key' },
    };
  }

  /** Issues (or re-issues: same paths, new files) a member certificate for `ip`, with "localhost" as DNS SAN. */
  async issueMember(name: string, ip: string, options: IssueOptions = {}): Promise<TlsFiles> {
    const pair = await issueMemberCertificate(this.authority, { name, ips: [ip], dnsNames: ['localhost'], ...options });
    return this.write(`member-${ip}`, pair);
  }

  /** Issues a client certificate named `commonName` and writes it as `client-<commonName>`. */
  async issueClient(commonName: string, options: IssueOptions = {}): Promise<TlsClientIdentity> {
    const pair = await issueClientCertificate(this.authority, { commonName, ...options });
    const files = this.write(`client-${commonName}`, pair);
    return { ...files, ca: this.ca.certificate, cert: pair.certificate, key: pair.privateKey };
  }

  private write(base: string, pair: CertificateAndKey): TlsFiles {
    const certFile = join(this.dir, `${base}.crt`);
    const keyFile = join(this.dir, `${base}.key`);
    writeFileSync(certFile, pair.certificate);
    writeFileSync(keyFile, pair.privateKey, { mode: 0o600 });
    return { caFile: this.caFile, certFile, keyFile };
  }
}

/** etcd's settings for TLS with client certificates required on both the client and the peer listener. */
export function memberTlsSettings(files: TlsFiles): Record<string, string> {
  return {
    ETCD_CERT_FILE: files.certFile,
    ETCD_KEY_FILE: files.keyFile,
    ETCD_TRUSTED_CA_FILE: files.caFile,
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_CERT_FILE: files.certFile,
    ETCD_PEER_KEY_FILE: files.keyFile,
    ETCD_PEER_TRUSTED_CA_FILE: files.caFile,
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
  };
}

/** etcdctl's flags for a client identity. */
export function etcdctlTlsFlags(files: TlsFiles): string[] {
  return [`--cacert=${files.caFile}`, `--cert=${files.certFile}`, `--key=${files.keyFile}`];
}

/** The outcome of one HTTPS request: the status and body, or the transport error (e.g. a refused handshake). */
export type HttpsOutcome =
  { readonly ok: true; readonly status: number; readonly body: string } | { readonly ok: false; readonly error: Error };

/**
 * POSTs (or GETs) a JSON URL over HTTPS presenting `client` (or no certificate), on a fresh connection each time
 * so a test sees what a new handshake gets. Never throws.
 */
export function httpsJson(
  url: string,
  client: Partial<TlsPems>,
  init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {},
): Promise<HttpsOutcome> {
  return new Promise((resolve) => {
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    const req = request(
      url,
      {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        agent: false,
        ...(client.ca !== undefined && { ca: client.ca }),
        ...(client.cert !== undefined && { cert: client.cert }),
        ...(client.key !== undefined && { key: client.key }),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        timeout: init.timeoutMs ?? 2000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, body: text }));
        res.on('error', (error) => resolve({ ok: false, error }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${init.timeoutMs ?? 2000} ms`)));
    req.on('error', (error) => resolve({ ok: false, error }));
    req.end(body);
  });
}

/** Like tryJson, over HTTPS with a client identity: the parsed JSON of a 2xx answer, undefined otherwise. */
export async function tryHttpsJson(
  url: string,
  client: Partial<TlsPems>,
  init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {},
): Promise<unknown> {
  const outcome = await httpsJson(url, client, init);
  if (!outcome.ok || outcome.status < 200 || outcome.status >= 300) return undefined;
  try {
    return JSON.parse(outcome.body) as unknown;
  } catch {
    return undefined;
  }
}

/** What a fresh TLS handshake with a listener shows of the certificate it serves now. */
export interface ServedCertificate {
  readonly serialNumber: string;
  /** Node's rendering of the SANs, e.g. "IP Address:127.0.0.11, DNS:ip-127-0-0-11.ec2.internal". */
  readonly subjectAltName: string;
  readonly validTo: Date;
}

/**
 * Opens a new TLS connection to ip:port presenting `client` and resolves with the server certificate it got
 * (checked against `client.ca`, with the IP as the name to verify).
 */
export function servedCertificate(ip: string, port: number, client: TlsPems, timeoutMs = 3000): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port, ca: client.ca, cert: client.cert, key: client.key }, () => {
      const peer = socket.getPeerCertificate();
      socket.destroy();
      resolve({ serialNumber: peer.serialNumber, subjectAltName: peer.subjectaltname ?? '', validTo: new Date(peer.valid_to) });
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS handshake with ${ip}:${port}`)));
    socket.on('error', reject);
  });
}
