// The TLS side of a simulated instance and of the world's own clients, as the contract of issue 16 has it:
//   - an instance reads `<root>/instances/<id>/tls` (SecureString, with decryption) once its drop-in arrived, and
//     writes ca.crt, member.crt and member.key (key 0600, directory 0700) into its own pki dir, as the boot
//     script does before etcd starts and the renewal timer does again when the parameter changed;
//   - the world's clients (put, get, status reads, checks) present a client certificate issued from the stored
//     CA (`<root>/tls/ca`, read through the simulated SSM), made with our own PKI code.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import * as z from '../../src/adapters/zod.js';
import { checkCertificate, issueClientCertificate, type CertificateAndKey } from '../../src/adapters/pki/index.js';
import type { TlsClientIdentity, TlsFiles } from '../harness/tls.js';

/** The drop-in's certificate settings the simulated instance points at its own files (as it does ETCD_DATA_DIR). */
export const TLS_FILE_SETTINGS = {
  ETCD_CERT_FILE: 'certFile',
  ETCD_KEY_FILE: 'keyFile',
  ETCD_TRUSTED_CA_FILE: 'caFile',
  ETCD_PEER_CERT_FILE: 'certFile',
  ETCD_PEER_KEY_FILE: 'keyFile',
  ETCD_PEER_TRUSTED_CA_FILE: 'caFile',
} as const satisfies Record<string, keyof TlsFiles>;

/** Whether a drop-in's settings ask etcd for TLS: a certificate setting, client-cert auth or an https URL. */
export function dropinAsksForTls(settings: Readonly<Record<string, string>>): boolean {
  return (
    Object.keys(TLS_FILE_SETTINGS).some((key) => settings[key] !== undefined) ||
    settings.ETCD_CLIENT_CERT_AUTH === 'true' ||
    settings.ETCD_PEER_CLIENT_CERT_AUTH === 'true' ||
    Object.entries(settings).some(([key, value]) => key.endsWith('_URLS') && value.includes('https://'))
  );
}

/** `<root>/instances/<id>/tls` and `<root>/tls/clients/<name>`: one certificate with its key and CA. */
const storedCertificateSchema = z.object({
  format: z.literal(1),
  caCertificate: z.string().check(z.minLength(1)),
  certificate: z.string().check(z.minLength(1)),
  privateKey: z.string().check(z.minLength(1)),
  notAfter: z.string().check(z.minLength(1)),
});
export type StoredCertificate = z.infer<typeof storedCertificateSchema>;

/** `<root>/tls/ca`: the CA with its key (the Lambda's alone; the world reads it to issue its own client). */
const storedCaSchema = z.object({
  format: z.literal(1),
  certificate: z.string().check(z.minLength(1)),
  privateKey: z.string().check(z.minLength(1)),
  createdAt: z.string().check(z.minLength(1)),
});

export class InstanceTlsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstanceTlsError';
  }
}

function parseJson<T>(schema: z.ZodMiniType<T>, raw: string, where: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InstanceTlsError(`${where} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InstanceTlsError(`${where} is malformed at ${issue?.path.join('.') || 'the top'} (${issue?.message ?? 'invalid'})`);
  }
  return parsed.data;
}

/** GetParameter with decryption (as the boot script's `aws ssm get-parameter --with-decryption`); undefined when absent. */
export async function readSecureParameter(ssm: SSMClient, name: string): Promise<string | undefined> {
  try {
    const answer = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return answer.Parameter?.Value;
  } catch (err) {
    if ((err as { name?: string }).name === 'ParameterNotFound') return undefined;
    throw err;
  }
}

/**
 * Checks an instance's `tls` parameter value as the boot script must before etcd uses it: the JSON shape, the
 * certificate issued by the CA it carries, for a member (serverAuth and clientAuth), naming the instance's IP,
 * and the key its own. Throws an InstanceTlsError naming the parameter.
 */
export function parseInstanceTls(raw: string | undefined, where: string, ip: string): StoredCertificate {
  if (raw === undefined) throw new InstanceTlsError(`the drop-in asks for TLS but there is no ${where}: etcd not started`);
  const stored = parseJson(storedCertificateSchema, raw, where);
  try {
    checkCertificate({
      certificate: { pem: stored.certificate, source: `${where} certificate` },
      privateKey: { pem: stored.privateKey, source: `${where} privateKey` },
      ca: { pem: stored.caCertificate, source: `${where} caCertificate` },
      usage: 'member',
      names: { ips: [ip], dnsNames: [] },
    });
  } catch (err) {
    throw new InstanceTlsError(`${(err as Error).message}: etcd not started`);
  }
  return stored;
}

/** Where an instance keeps its certificate files: `<dir>/ca.crt`, `member.crt`, `member.key`. */
export function memberTlsFiles(dir: string): TlsFiles {
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'member.crt'), keyFile: join(dir, 'member.key') };
}

/**
 * Writes the three files the way the boot script and the renewal timer do: each to a temporary name, then
 * renamed over the old one, so etcd never reads a half-written file. Returns whether anything changed.
 */
export function writeMemberTlsFiles(files: TlsFiles, stored: StoredCertificate): boolean {
  const dir = join(files.certFile, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  let changed = false;
  const put = (path: string, content: string, mode: number): void => {
    let old: string | undefined;
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      old = undefined;
    }
    if (old === content) return;
    writeFileSync(`${path}.new`, content, { mode });
    renameSync(`${path}.new`, path);
    changed = true;
  };
  put(files.caFile, stored.caCertificate, 0o644);
  put(files.certFile, stored.certificate, 0o644);
  put(files.keyFile, stored.privateKey, 0o600);
  return changed;
}

/**
 * A client certificate named `commonName` issued from the CA stored at `caParameter`, written to `dir` as
 * ca.crt, client.crt, client.key. Undefined while the CA does not exist yet (no launch has created it).
 */
export async function issueClientFromStoredCa(
  ssm: SSMClient,
  caParameter: string,
  commonName: string,
  dir: string,
): Promise<TlsClientIdentity | undefined> {
  const raw = await readSecureParameter(ssm, caParameter);
  if (raw === undefined) return undefined;
  const ca = parseJson(storedCaSchema, raw, caParameter);
  const pair: CertificateAndKey = await issueClientCertificate(
    {
      certificate: { pem: ca.certificate, source: `${caParameter} certificate` },
      privateKey: { pem: ca.privateKey, source: `${caParameter} privateKey` },
    },
    { commonName },
  );
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') };
  writeFileSync(files.caFile, ca.certificate);
  writeFileSync(files.certFile, pair.certificate);
  writeFileSync(files.keyFile, pair.privateKey, { mode: 0o600 });
  return { ...files, ca: ca.certificate, cert: pair.certificate, key: pair.privateKey };
}
