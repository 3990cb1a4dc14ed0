// The cluster's own certificate authority: makes the per-cluster CA, issues member (server + peer) and client
// certificates, and checks certificates handed to us. ECDSA P-256 keys (etcd and Go's TLS stack accept them),
// PEM in and out. Certificates are built with @peculiar/x509 on Node's WebCrypto; parsing, signature and key
// checks use Node's own X509Certificate. The library uses globalThis.crypto (Node's WebCrypto) by default.
import 'reflect-metadata'; // @peculiar/x509 2.x resolves its ASN.1 services through tsyringe, which needs it
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { CA_VALIDITY_DAYS, LEAF_VALIDITY_DAYS, missingSubjectNames, validityWindow, type SubjectNames } from '../../core/certificates.js';

const subtle = webcrypto.subtle;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A certificate and its private key, both PEM (the key as PKCS#8 "PRIVATE KEY"). */
export interface CertificateAndKey {
  readonly certificate: string;
  readonly privateKey: string;
}

/** PEM text and where it came from (a file path or parameter name), so that an error can name it. */
export interface PemInput {
  readonly pem: string;
  readonly source: string;
}

/** A certificate or key that cannot be used; the message names the input. Nothing was issued or changed. */
export class CertificateError extends Error {
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
    this.name = 'CertificateError';
  }
}

export interface CreateCaOptions {
  /** Goes into the CA's subject, e.g. the cluster (stack) name. */
  readonly clusterName: string;
  readonly validityDays?: number;
  readonly now?: Date;
}

export interface MemberCertificateOptions {
  /** The member's name; the certificate's common name. */
  readonly name: string;
  /** Subject alternative names: at least one IP or DNS name. */
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
  readonly validityDays?: number;
  readonly now?: Date;
}

export interface ClientCertificateOptions {
  /** The client's name; etcd takes it as the user name when its auth is on. */
  readonly commonName: string;
  readonly validityDays?: number;
  readonly now?: Date;
}

/**
 * Creates a new per-cluster CA: a self-signed ECDSA P-256 certificate (CA:TRUE, path length 0, keyCertSign)
 * and its key. Call it once per cluster; storing it create-only is the caller's job.
 */
export async function createCertificateAuthority(options: CreateCaOptions): Promise<CertificateAndKey> {
  const name = requireName(options.clusterName, 'cluster name');
  const keys = await subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const window = validityWindow(options.now ?? new Date(), options.validityDays ?? CA_VALIDITY_DAYS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [`elastic-etcd CA ${name}`] }],
    ...window,
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
    ],
  });
  return { certificate: pemText(cert.toString('pem')), privateKey: await exportKey(keys.privateKey) };
}

/**
 * Issues a member's certificate for both etcd's client and peer listeners (serverAuth and clientAuth, since a
 * member is also the client of its peers), with the member's IPs and DNS names as SANs. The CA is checked first.
 */
export async function issueMemberCertificate(
  ca: { certificate: PemInput; privateKey: PemInput },
  options: MemberCertificateOptions,
): Promise<CertificateAndKey> {
  const name = requireName(options.name, 'member name');
  const ips = unique(options.ips);
  const dnsNames = unique(options.dnsNames.map((n) => n.toLowerCase()));
  for (const ip of ips) if (isIP(ip) === 0) throw new CertificateError(`member ${name}`, `${JSON.stringify(ip)} is not an IP address`);
  for (const dns of dnsNames) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(dns))
      throw new CertificateError(`member ${name}`, `${JSON.stringify(dns)} is not a DNS name`);
  }
  if (ips.length + dnsNames.length === 0)
    throw new CertificateError(`member ${name}`, 'a member certificate needs at least one IP address or DNS name');
  const sans = new x509.SubjectAlternativeNameExtension(
    [...ips.map((value) => ({ type: 'ip' as const, value })), ...dnsNames.map((value) => ({ type: 'dns' as const, value }))],
    false,
  );
  return issue(ca, {
    commonName: name,
    usages: [SERVER_AUTH, CLIENT_AUTH],
    extra: [sans],
    validityDays: options.validityDays,
    now: options.now,
  });
}

/** Issues a client certificate (clientAuth only) for an application, an operator or the Lambda itself. */
export async function issueClientCertificate(
  ca: { certificate: PemInput; privateKey: PemInput },
  options: ClientCertificateOptions,
): Promise<CertificateAndKey> {
  const commonName = requireName(options.commonName, 'client name');
  return issue(ca, { commonName, usages: [CLIENT_AUTH], extra: [], validityDays: options.validityDays, now: options.now });
}

async function issue(
  ca: { certificate: PemInput; privateKey: PemInput },
  leaf: { commonName: string; usages: string[]; extra: x509.Extension[]; validityDays: number | undefined; now: Date | undefined },
): Promise<CertificateAndKey> {
  const now = leaf.now ?? new Date();
  const authority = loadCertificateAuthority(ca.certificate, ca.privateKey, now);
  const signingKey = await subtle.importKey('pkcs8', authority.key.export({ format: 'der', type: 'pkcs8' }), EC_KEY, false, ['sign']);
  const caCert = new x509.X509Certificate(ca.certificate.pem);
  const keys = await subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const window = validityWindow(now, leaf.validityDays ?? LEAF_VALIDITY_DAYS);
  if (window.notAfter > notAfterOf(authority.certificate)) {
    throw new CertificateError(
      ca.certificate.source,
      `the CA expires at ${notAfterOf(authority.certificate).toISOString()}, before the certificate would (${window.notAfter.toISOString()}): renew the CA first`,
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [leaf.commonName] }],
    issuer: caCert.subject,
    ...window,
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(leaf.usages, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      ...leaf.extra,
    ],
  });
  return { certificate: pemText(cert.toString('pem')), privateKey: await exportKey(keys.privateKey) };
}

/** A CA checked for use: its certificate is a CA, valid at `now`, and the key is its ECDSA P-256 key. */
export interface LoadedCertificateAuthority {
  readonly certificate: X509Certificate;
  readonly key: KeyObject;
}

/** Parses and checks a CA certificate and key; a CertificateError names the input at fault. */
export function loadCertificateAuthority(certificate: PemInput, privateKey: PemInput, now = new Date()): LoadedCertificateAuthority {
  const cert = parseCertificate(certificate);
  if (!cert.ca) throw new CertificateError(certificate.source, 'is not a CA certificate (basicConstraints CA is not set)');
  checkValidAt(cert, certificate.source, now);
  const key = parseEcKey(privateKey);
  if (!cert.checkPrivateKey(key))
    throw new CertificateError(privateKey.source, `is not the key of the CA certificate ${certificate.source}`);
  return { certificate: cert, key };
}

export interface CheckCertificateInput {
  readonly certificate: PemInput;
  /** When given, it must be an ECDSA P-256 key and match the certificate. */
  readonly privateKey?: PemInput;
  /** The CA that must have signed the certificate. */
  readonly ca: PemInput;
  /** 'member': serverAuth and clientAuth; 'client': clientAuth. */
  readonly usage: 'member' | 'client';
  /** Names the certificate must carry as SANs (members). */
  readonly names?: SubjectNames;
  readonly now?: Date;
}

/** What a checked certificate says about itself. */
export interface CertificateFacts {
  readonly commonName: string;
  readonly names: SubjectNames;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
}

/**
 * Checks a certificate (and its key) before anything uses it: it parses, the CA signed it, it is valid now,
 * its extended key usage fits, it carries the required names, the key is ECDSA P-256 and belongs to it.
 * Throws a CertificateError naming the input at fault; returns the certificate's facts otherwise.
 */
export function checkCertificate(input: CheckCertificateInput): CertificateFacts {
  const now = input.now ?? new Date();
  const source = input.certificate.source;
  const ca = parseCertificate(input.ca);
  const cert = parseCertificate(input.certificate);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    throw new CertificateError(source, `was not issued by the CA in ${input.ca.source}`);
  checkValidAt(cert, source, now);
  const usages = cert.keyUsage ?? [];
  const needed = input.usage === 'member' ? [SERVER_AUTH, CLIENT_AUTH] : [CLIENT_AUTH];
  const lacking = needed.filter((oid) => !usages.includes(oid));
  if (lacking.length > 0) {
    throw new CertificateError(
      source,
      `lacks the extended key usage ${lacking.map((oid) => (oid === SERVER_AUTH ? 'serverAuth' : 'clientAuth')).join(' and ')} a ${input.usage} certificate needs`,
    );
  }
  const names = subjectNamesOf(input.certificate.pem);
  if (input.names !== undefined) {
    const missing = missingSubjectNames(input.names, names);
    if (missing.length > 0) throw new CertificateError(source, `does not name ${missing.join(', ')} (it names ${describeNames(names)})`);
  }
  if (input.privateKey !== undefined) {
    const key = parseEcKey(input.privateKey);
    if (!cert.checkPrivateKey(key)) throw new CertificateError(input.privateKey.source, `is not the key of the certificate ${source}`);
  }
  return {
    commonName: commonNameOf(cert),
    names,
    notBefore: notBeforeOf(cert),
    notAfter: notAfterOf(cert),
    serialNumber: cert.serialNumber,
  };
}

function parseCertificate(input: PemInput): X509Certificate {
  if (!input.pem.includes('-----BEGIN CERTIFICATE-----')) throw new CertificateError(input.source, 'holds no PEM certificate');
  try {
    return new X509Certificate(input.pem);
  } catch (err) {
    throw new CertificateError(input.source, `is not a valid certificate: ${(err as Error).message}`, { cause: err });
  }
}

function parseEcKey(input: PemInput): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(input.pem);
  } catch (err) {
    throw new CertificateError(input.source, `is not a valid private key: ${(err as Error).message}`, { cause: err });
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type !== 'ec' || curve !== 'prime256v1') {
    throw new CertificateError(
      input.source,
      `is ${type === 'ec' ? `an EC key on ${curve ?? 'an unknown curve'}` : `an ${String(type).toUpperCase()} key`}; expected an ECDSA P-256 key`,
    );
  }
  return key;
}

function checkValidAt(cert: X509Certificate, source: string, now: Date): void {
  if (now < notBeforeOf(cert)) throw new CertificateError(source, `is not valid before ${notBeforeOf(cert).toISOString()}`);
  if (now >= notAfterOf(cert)) throw new CertificateError(source, `expired at ${notAfterOf(cert).toISOString()}`);
}

// validFromDate/validToDate arrived in Node 22; these read the strings Node 20 has too.
function notBeforeOf(cert: X509Certificate): Date {
  return new Date(cert.validFrom);
}

function notAfterOf(cert: X509Certificate): Date {
  return new Date(cert.validTo);
}

function subjectNamesOf(pem: string): SubjectNames {
  const ext = new x509.X509Certificate(pem).getExtension(x509.SubjectAlternativeNameExtension);
  const items = ext?.names.items ?? [];
  return {
    ips: items.filter((n) => n.type === 'ip').map((n) => n.value),
    dnsNames: items.filter((n) => n.type === 'dns').map((n) => n.value),
  };
}

function commonNameOf(cert: X509Certificate): string {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3) ?? '';
}

function describeNames(names: SubjectNames): string {
  const all = [...names.ips.map((ip) => `IP ${ip}`), ...names.dnsNames.map((n) => `DNS ${n}`)];
  return all.length === 0 ? 'no names' : all.join(', ');
}

function requireName(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === '' || /[\n\r,=+<>#;"\\]/.test(trimmed)) throw new CertificateError(what, `${JSON.stringify(value)} is not a usable name`);
  return trimmed;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))];
}

/** 128 random bits as a positive serial number (RFC 5280: positive, at most 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** PEM ending in a newline: files concatenated into a CA bundle stay parseable (Go's PEM reader needs it). */
function pemText(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}
