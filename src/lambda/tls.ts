// The cluster's certificates, as the Lambda keeps them (thin over src/adapters/pki and the parameter store):
//   <root>/tls/ca               the CA, certificate and key: SecureString, create-only, read by the Lambda only
//   <root>/tls/ca-certificate   the CA certificate alone (public)
//   <root>/instances/<id>/tls   a member's certificate and key with the CA certificate: SecureString, that instance's
//   <root>/tls/clients/<name>   a configured client's certificate and key: SecureString
// and the Lambda's own client certificate (in memory only, one day, renewed when due), which makes every call it
// makes to etcd mutual TLS. A stored CA that cannot be used is a TlsSetupError naming its parameter: nothing is
// written then, and a launch is abandoned rather than started without TLS.
import { createHash } from 'node:crypto';
import * as z from '../adapters/zod.js';
import { isRenewalDue, LEAF_VALIDITY_DAYS, validityWindow, type ValidityWindow } from '../core/certificates.js';
import { errorMessage } from '../core/errors.js';
import {
  CertificateError,
  checkCertificate,
  createCertificateAuthority,
  issueClientCertificate,
  issueMemberCertificate,
  loadCertificateAuthority,
  type CertificateFacts,
  type PemInput,
} from '../adapters/pki/index.js';
import type { ParameterName } from '../adapters/aws/index.js';
import type { EtcdTlsOptions } from '../adapters/etcd/index.js';
import { LAMBDA_CLIENT_NAME, type TlsConfig } from './config.js';
import type { LifecycleDeps } from './deps.js';
import { liveInstances, type GroupInstanceView, type GroupView } from './group.js';

/** The Lambda's own client certificate lives this long; it is renewed at the configured fraction of it. */
export const LAMBDA_CLIENT_VALIDITY_DAYS = 1;

/** The cluster's certificates cannot be used or issued; the message names the parameter (or input) at fault. */
export class TlsSetupError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TlsSetupError';
  }
}

/** The CA as stored in `<root>/tls/ca`. */
const caRecordSchema = z.object({
  format: z.literal(1),
  certificate: z.string().check(z.minLength(1)),
  privateKey: z.string().check(z.minLength(1)),
  createdAt: z.string().check(z.minLength(1)),
});

/** A leaf certificate as stored in `instances/<id>/tls` and `tls/clients/<name>`. */
const certificateRecordSchema = z.object({
  format: z.literal(1),
  caCertificate: z.string().check(z.minLength(1)),
  certificate: z.string().check(z.minLength(1)),
  privateKey: z.string().check(z.minLength(1)),
  notAfter: z.string().check(z.minLength(1)),
});

/** The cluster's CA, loaded from its parameter and checked: ready to issue. */
export interface ClusterCa {
  readonly certificate: PemInput;
  readonly privateKey: PemInput;
}

/** What a TLS invocation works with: the CA, and the deps whose connection carries the Lambda's client certificate. */
export interface TlsContext {
  readonly ca: ClusterCa;
  readonly deps: LifecycleDeps;
}

/**
 * How long this container trusts that `<root>/tls/ca-certificate` still holds the CA it published; after that the
 * next load reads it again (and repairs it when it was changed or deleted).
 */
export const CA_PUBLISH_RECHECK_MS = 15 * 60_000;

/**
 * The CA this container last loaded, by its stored value. The stored value is read on every load (one
 * GetParameter), so a replaced CA is noticed at once; only the parse, the key import and the check are skipped
 * while it is the same, and the publication is looked at again every CA_PUBLISH_RECHECK_MS.
 */
let loadedCa: { stored: string; ca: ClusterCa; notAfter: Date; publishedAt: number } | undefined;

/**
 * The cluster's CA: created on first need (create-only, so two invocations racing both end with the one stored),
 * checked (it parses, is a CA valid now, its key is its ECDSA P-256 key), then its certificate published in
 * `<root>/tls/ca-certificate`. Throws TlsSetupError naming the parameter when the stored CA cannot be used;
 * nothing is written then. In a warm container, the same stored CA costs one read (see loadedCa).
 */
export async function loadClusterCa(
  deps: Pick<LifecycleDeps, 'config' | 'parameters' | 'telemetry'>,
  now = new Date(),
): Promise<ClusterCa> {
  const { parameters } = deps;
  const name = parameters.tlsCaName();
  const leafDays = deps.config.tls?.validityDays ?? LEAF_VALIDITY_DAYS;
  let stored = await parameters.get(name);
  if (stored === undefined) {
    const made = await createCertificateAuthority({ clusterName: deps.config.clusterName, now });
    const record = JSON.stringify({ format: 1, ...made, createdAt: now.toISOString() });
    const result = await parameters.createOnly(name, record, { secure: true });
    if (result.created) deps.telemetry.info('created the cluster certificate authority', { parameter: name });
    stored = result.value;
  }
  const cached = loadedCa;
  if (cached !== undefined && cached.stored === stored && cached.ca.certificate.source.startsWith(name)) {
    // The CA is the one already checked: only whether it can still sign a full-length certificate is asked again.
    checkCaOutlives(name, cached.ca, cached.notAfter, now, leafDays);
    if (now.getTime() - cached.publishedAt < CA_PUBLISH_RECHECK_MS) return cached.ca;
    await publishCa(deps, cached.ca);
    loadedCa = { ...cached, publishedAt: now.getTime() };
    return cached.ca;
  }
  const { ca, notAfter } = parseCa(name, stored, now);
  checkCaOutlives(name, ca, notAfter, now, leafDays);
  await publishCa(deps, ca);
  loadedCa = { stored, ca, notAfter, publishedAt: now.getTime() };
  return ca;
}

/** `<root>/tls/ca-certificate` holds the CA certificate: written when it does not. */
async function publishCa(deps: Pick<LifecycleDeps, 'parameters'>, ca: ClusterCa): Promise<void> {
  const published = deps.parameters.tlsCaCertificateName();
  if ((await deps.parameters.get(published)) !== ca.certificate.pem) await deps.parameters.put(published, ca.certificate.pem);
}

function parseCa(name: ParameterName, value: string, now: Date): { ca: ClusterCa; notAfter: Date } {
  const record = parseRecord(name, value, caRecordSchema, '{"format":1,"certificate":PEM,"privateKey":PEM,"createdAt":ISO}');
  const ca = {
    certificate: { pem: record.certificate, source: `${name} (certificate)` },
    privateKey: { pem: record.privateKey, source: `${name} (privateKey)` },
  };
  try {
    return { ca, notAfter: new Date(loadCertificateAuthority(ca.certificate, ca.privateKey, now).certificate.validTo) };
  } catch (err) {
    throw asSetupError(name, err);
  }
}

/** A CA that cannot sign a full-length certificate any more: said now, before anything is written. */
function checkCaOutlives(name: ParameterName, ca: ClusterCa, notAfter: Date, now: Date, leafDays: number): void {
  const leafEnd = validityWindow(now, leafDays).notAfter;
  if (notAfter < leafEnd) {
    throw new TlsSetupError(
      name,
      `${ca.certificate.source}: the CA expires at ${notAfter.toISOString()}, before a certificate of ${leafDays} days would (${leafEnd.toISOString()}): renew the CA first`,
    );
  }
}

function parseRecord<T>(name: string, value: string, schema: z.ZodMiniType<T>, shape: string): T {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (err) {
    throw new TlsSetupError(name, `${name}: does not hold JSON (expected ${shape})`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.') || '(value)').join(', ');
    throw new TlsSetupError(name, `${name}: is not ${shape} (check ${fields})`);
  }
  return parsed.data;
}

function asSetupError(parameter: string, err: unknown): TlsSetupError {
  if (err instanceof TlsSetupError) return err;
  if (err instanceof CertificateError) return new TlsSetupError(parameter, err.message, { cause: err });
  throw err;
}

/** Whether `err` says the cluster's certificates cannot be used or issued (a launch is abandoned for it). */
export function isTlsSetupError(err: unknown): err is TlsSetupError | CertificateError {
  return err instanceof TlsSetupError || err instanceof CertificateError;
}

let lambdaCertificate: { caPem: string; window: ValidityWindow; tls: EtcdTlsOptions } | undefined;

/**
 * The Lambda's own client certificate from `ca` (CN elastic-etcd-lambda, one day), kept in this container's memory
 * and re-issued when due (the configured fraction of its life) or when the CA changed.
 */
export async function lambdaClientTls(ca: ClusterCa, tls: TlsConfig, now = new Date()): Promise<EtcdTlsOptions> {
  const cached = lambdaCertificate;
  if (cached !== undefined && cached.caPem === ca.certificate.pem && !isRenewalDue(cached.window, now, tls.renewAtFraction))
    return cached.tls;
  const issued = await issueClientCertificate(ca, { commonName: LAMBDA_CLIENT_NAME, validityDays: LAMBDA_CLIENT_VALIDITY_DAYS, now });
  const facts = checkCertificate({
    certificate: { pem: issued.certificate, source: 'the Lambda client certificate' },
    privateKey: { pem: issued.privateKey, source: 'the Lambda client key' },
    ca: ca.certificate,
    usage: 'client',
    now,
  });
  const fresh = { ca: ca.certificate.pem, cert: issued.certificate, key: issued.privateKey };
  lambdaCertificate = { caPem: ca.certificate.pem, window: facts, tls: fresh };
  return fresh;
}

/**
 * The deps of one TLS invocation: the CA loaded (or created), and the connection carrying the Lambda's client
 * certificate, so every etcd call is mutual TLS. Undefined when TLS is off. Throws TlsSetupError (nothing written).
 */
export async function prepareTls(deps: LifecycleDeps, now = new Date()): Promise<TlsContext | undefined> {
  const tls = deps.config.tls;
  if (tls === undefined) return undefined;
  const ca = await loadClusterCa(deps, now);
  let client: EtcdTlsOptions;
  try {
    client = await lambdaClientTls(ca, tls, now);
  } catch (err) {
    throw asSetupError(ca.certificate.source, err);
  }
  return { ca, deps: { ...deps, connection: { ...deps.connection, tls: client } } };
}

/**
 * A member's certificate for `instance`, issued from `ca` and checked (the CA signed it, it names the instance's
 * private IP and DNS name, its key is its own ECDSA P-256 key): the value of its `instances/<id>/tls`. Writes
 * nothing. Throws TlsSetupError naming the instance when no usable certificate can be issued.
 */
export async function issueMemberTls(ca: ClusterCa, instance: GroupInstanceView, tls: TlsConfig, now = new Date()): Promise<string> {
  const source = `the member certificate of ${instance.instanceId}`;
  if (instance.privateIp === undefined) throw new TlsSetupError(source, `${source}: the instance has no private IP to name`);
  const names = { ips: [instance.privateIp], dnsNames: instance.privateDnsName === undefined ? [] : [instance.privateDnsName] };
  try {
    const issued = await issueMemberCertificate(ca, { name: instance.instanceId, ...names, validityDays: tls.validityDays, now });
    const facts = checkCertificate({
      certificate: { pem: issued.certificate, source },
      privateKey: { pem: issued.privateKey, source: `the member key of ${instance.instanceId}` },
      ca: ca.certificate,
      usage: 'member',
      names,
      now,
    });
    return certificateRecord(ca, issued, facts);
  } catch (err) {
    throw asSetupError(source, err);
  }
}

function certificateRecord(ca: ClusterCa, issued: { certificate: string; privateKey: string }, facts: CertificateFacts): string {
  return JSON.stringify({
    format: 1,
    caCertificate: ca.certificate.pem,
    certificate: issued.certificate,
    privateKey: issued.privateKey,
    notAfter: facts.notAfter.toISOString(),
  });
}

/** Why a stored certificate must be re-issued now, or undefined while it is good and not yet due. */
export function renewalReason(
  stored: string | undefined,
  input: {
    parameter: string;
    ca: ClusterCa;
    usage: 'member' | 'client';
    commonName: string;
    names?: { ips: string[]; dnsNames: string[] };
  },
  tls: TlsConfig,
  now = new Date(),
): string | undefined {
  if (stored === undefined) return 'it has no certificate yet';
  let facts: CertificateFacts;
  try {
    const record = parseRecord(input.parameter, stored, certificateRecordSchema, 'a certificate record');
    if (record.caCertificate !== input.ca.certificate.pem) return 'its certificate is from another CA';
    facts = checkedRecord(stored, input, now, () =>
      checkCertificate({
        certificate: { pem: record.certificate, source: `${input.parameter} (certificate)` },
        privateKey: { pem: record.privateKey, source: `${input.parameter} (privateKey)` },
        ca: input.ca.certificate,
        usage: input.usage,
        ...(input.names !== undefined && { names: input.names }),
        now,
      }),
    );
  } catch (err) {
    if (!isTlsSetupError(err)) throw err;
    return `its certificate cannot be used: ${errorMessage(err)}`;
  }
  if (facts.commonName !== input.commonName)
    return `its certificate names ${JSON.stringify(facts.commonName)}, not ${JSON.stringify(input.commonName)}`;
  if (isRenewalDue(facts, now, tls.renewAtFraction))
    return `its certificate reached ${Math.round(tls.renewAtFraction * 100)} % of its lifetime (valid until ${facts.notAfter.toISOString()})`;
  return undefined;
}

/** At most this many checked certificate records are remembered (a cluster's members and clients). */
const CHECKED_RECORDS = 256;
const checkedRecords = new Map<string, CertificateFacts>();

/**
 * The facts of a stored certificate record checked before against the same CA, usage and names: the signature,
 * key and name checks are not repeated for the same text (every reconcile pass would), only the validity at
 * `now`. Anything else (a changed record, another CA or names, a time outside the window) runs `check`.
 */
function checkedRecord(
  stored: string,
  input: { ca: ClusterCa; usage: string; names?: { ips: string[]; dnsNames: string[] } },
  now: Date,
  check: () => CertificateFacts,
): CertificateFacts {
  const key = createHash('sha256')
    .update(JSON.stringify([stored, input.ca.certificate.pem, input.usage, input.names ?? null]))
    .digest('hex');
  const known = checkedRecords.get(key);
  if (known !== undefined && known.notBefore <= now && now <= known.notAfter) return known;
  const facts = check();
  if (checkedRecords.size >= CHECKED_RECORDS) checkedRecords.clear();
  checkedRecords.set(key, facts);
  return facts;
}

/** What the renewal step re-issued: instance IDs and client names. */
export interface RenewalReport {
  readonly members: string[];
  readonly clients: string[];
}

/**
 * The reconcile pass's renewal: every configured live instance's member certificate (one with a drop-in) and every
 * configured client certificate is re-issued when missing, unreadable, not matching (CA, names, key) or due. Each
 * re-issue is a logged decision with its reason. One failing does not stop the others; the first failure is thrown
 * at the end, so the pass defers it.
 */
export async function renewCertificates(group: GroupView, context: TlsContext, now = new Date()): Promise<RenewalReport> {
  const { deps, ca } = context;
  const { parameters, telemetry } = deps;
  const tls = deps.config.tls;
  const report: RenewalReport = { members: [], clients: [] };
  if (tls === undefined) return report;
  const failures: unknown[] = [];
  for (const instance of liveInstances(group)) {
    if (instance.privateIp === undefined) continue;
    try {
      // Only configured instances: one without a drop-in gets its certificate from its launch.
      if ((await parameters.get(parameters.instanceName(instance.instanceId, 'dropin'))) === undefined) continue;
      const parameter = parameters.instanceName(instance.instanceId, 'tls');
      const names = { ips: [instance.privateIp], dnsNames: instance.privateDnsName === undefined ? [] : [instance.privateDnsName] };
      const reason = renewalReason(
        await parameters.get(parameter),
        { parameter, ca, usage: 'member', commonName: instance.instanceId, names },
        tls,
        now,
      );
      if (reason === undefined) continue;
      await parameters.putInstanceFile(instance.instanceId, 'tls', await issueMemberTls(ca, instance, tls, now));
      report.members.push(instance.instanceId);
      telemetry.decision({
        trigger: 'reconcile',
        instanceId: instance.instanceId,
        decision: 'renew-certificate',
        reason,
        details: { parameter },
      });
    } catch (err) {
      failures.push(err);
      telemetry.warn('a member certificate could not be renewed', { instanceId: instance.instanceId, error: errorMessage(err) });
    }
  }
  for (const name of tls.clients) {
    const parameter = parameters.tlsClientName(name);
    try {
      const reason = renewalReason(await parameters.get(parameter), { parameter, ca, usage: 'client', commonName: name }, tls, now);
      if (reason === undefined) continue;
      const issued = await issueClientCertificate(ca, { commonName: name, validityDays: tls.validityDays, now });
      const facts = checkCertificate({
        certificate: { pem: issued.certificate, source: `${parameter} (certificate)` },
        privateKey: { pem: issued.privateKey, source: `${parameter} (privateKey)` },
        ca: ca.certificate,
        usage: 'client',
        now,
      });
      await parameters.put(parameter, certificateRecord(ca, issued, facts), { secure: true });
      report.clients.push(name);
      telemetry.decision({ trigger: 'reconcile', decision: 'renew-certificate', reason, details: { parameter, client: name } });
    } catch (err) {
      failures.push(err);
      telemetry.warn('a client certificate could not be renewed', { client: name, error: errorMessage(err) });
    }
  }
  if (failures.length > 0) throw failures[0];
  return report;
}
