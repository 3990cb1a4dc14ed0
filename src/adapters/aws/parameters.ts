// SSM Parameter Store layout of one cluster:
//   <prefix>/<cluster>/owner                          which Auto Scaling group owns the namespace (written once)
//   <prefix>/<cluster>/bootstrap                      the first wave's bootstrap decision (written once)
//   <prefix>/<cluster>/instances/<instance-id>/env    the instance's etcd environment file
//   <prefix>/<cluster>/instances/<instance-id>/dropin its systemd drop-in
//   <prefix>/<cluster>/instances/<instance-id>/restore the snapshot its boot restores before etcd starts (restore.ts)
//   <prefix>/<cluster>/instances/<instance-id>/tls    its member certificate, key and the CA certificate (SecureString)
//   <prefix>/<cluster>/tls/ca                        the cluster's CA certificate and key (SecureString, create-only)
//   <prefix>/<cluster>/tls/ca-certificate            the CA certificate alone (public)
//   <prefix>/<cluster>/tls/clients/<name>            a client's certificate and key (SecureString)
//   <prefix>/<cluster>/restore-request               an operator's request to restore the cluster (restore.ts)
//   <prefix>/<cluster>/restores/<lost-cluster-token> the restore decided for a lost cluster (written once)
//   <prefix>/<cluster>/down-since                    when no member was first seen answering (create-only)
//   <prefix>/<cluster>/observed                      the last revision the reconcile pass saw (recovery point)
// Names are built only here, from validated identifiers, and carry a brand so no caller can pass a
// hand-made path.
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  GetParameterCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  paginateGetParametersByPath,
} from '@aws-sdk/client-ssm';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { awsErrorCode, MalformedAwsResponseError, rethrowAws } from './errors.js';
import { isInstanceId, validateClusterName, validateInstanceId, validateParameterPrefix } from './identifiers.js';

declare const parameterNameBrand: unique symbol;
/** A parameter name produced by ParameterStore from validated identifiers. */
export type ParameterName = string & { readonly [parameterNameBrand]: true };

export type InstanceFile = 'env' | 'dropin' | 'restore' | 'tls';
export const INSTANCE_FILES: readonly InstanceFile[] = ['env', 'dropin', 'restore', 'tls'];
/** Instance files that hold secrets: written as SecureString under the store's KMS key. */
const SECRET_INSTANCE_FILES: ReadonlySet<InstanceFile> = new Set(['tls']);

export interface CreateOnlyResult {
  /** True when this call wrote the value; false when one existed and `value` is that existing value. */
  readonly created: boolean;
  readonly value: string;
}

export interface ParameterStoreOptions {
  readonly prefix: string;
  readonly cluster: string;
  /**
   * The ARN of an instance. When given, an instance's parameters carry it in the INSTANCE_ARN_TAG tag: the
   * instance role may read a parameter only when that tag equals its own `ec2:SourceInstanceARN`.
   */
  readonly instanceArn?: (instanceId: string) => string;
  /** The Auto Scaling group writing: each instance parameter carries it in GROUP_TAG (reconcile deletes only its own). */
  readonly group?: string;
  /** The KMS key SecureString parameters are encrypted under; SSM's default key (alias/aws/ssm) when left out. */
  readonly kmsKeyId?: string;
}

/** How a value is stored: in the clear, or as a SecureString encrypted under the store's KMS key. */
export interface PutOptions {
  readonly secure?: boolean;
}

/** The tag that ties an instance's parameters to that instance (see infra/elastic-etcd-cluster.ts). */
export const INSTANCE_ARN_TAG = 'elastic-etcd:instance-arn';
/** The tag naming the Auto Scaling group whose Lambda wrote an instance parameter. */
export const GROUP_TAG = 'elastic-etcd:group';

export class ParameterStore {
  readonly root: string;

  private readonly instanceArn: ((instanceId: string) => string) | undefined;
  private readonly group: string | undefined;
  private readonly kmsKeyId: string | undefined;

  constructor(
    private readonly client: SSMClient,
    options: ParameterStoreOptions,
  ) {
    this.instanceArn = options.instanceArn;
    this.group = options.group;
    this.kmsKeyId = options.kmsKeyId;
    const prefix = validateParameterPrefix(options.prefix);
    this.root = `${prefix}/${validateClusterName(options.cluster)}`;
  }

  ownerName(): ParameterName {
    return `${this.root}/owner` as ParameterName;
  }

  bootstrapName(): ParameterName {
    return `${this.root}/bootstrap` as ParameterName;
  }

  /** When the Lambda first saw the formed cluster with no member answering (create-only; deleted once it answers). */
  downSinceName(): ParameterName {
    return `${this.root}/down-since` as ParameterName;
  }

  /** The last revision the reconcile pass saw the cluster at: what a restore's recovery point is measured against. */
  observedName(): ParameterName {
    return `${this.root}/observed` as ParameterName;
  }

  /** The raft term the last reconcile pass saw: the leader-changes metric counts from it (lambda/metrics.ts). */
  raftTermName(): ParameterName {
    return `${this.root}/raft-term` as ParameterName;
  }

  /** Where an operator's restore request waits for the Lambda (restore.ts). */
  restoreRequestName(): ParameterName {
    return `${this.root}/restore-request` as ParameterName;
  }

  /** The restore decided for the lost cluster whose bootstrap token this is: written once, create-only. */
  restoreDecisionName(lostClusterToken: string): ParameterName {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(lostClusterToken)) throw new TypeError(`invalid cluster token ${JSON.stringify(lostClusterToken)}`);
    return `${this.root}/restores/${lostClusterToken}` as ParameterName;
  }

  /** The cluster's CA, certificate and key (SecureString, create-only): only the Lambda reads it. */
  tlsCaName(): ParameterName {
    return `${this.root}/tls/ca` as ParameterName;
  }

  /** The CA certificate alone, public: what instances, clients and operators trust. */
  tlsCaCertificateName(): ParameterName {
    return `${this.root}/tls/ca-certificate` as ParameterName;
  }

  /** A configured client's certificate and key (SecureString); `name` as ELASTIC_ETCD_TLS_CLIENTS allows. */
  tlsClientName(name: string): ParameterName {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new TypeError(`invalid client name ${JSON.stringify(name)}`);
    return `${this.root}/tls/clients/${name}` as ParameterName;
  }

  instanceName(instanceId: string, file: InstanceFile): ParameterName {
    if (!INSTANCE_FILES.includes(file)) throw new TypeError(`unknown instance file ${JSON.stringify(file)}`);
    return `${this.instancesPath()}/${validateInstanceId(instanceId)}/${file}` as ParameterName;
  }

  /** The value (a SecureString decrypted), or undefined when the parameter does not exist. */
  async get(name: ParameterName): Promise<string | undefined> {
    try {
      // Decryption is asked for always: it changes nothing for a String parameter.
      const answer = await this.client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      const value = answer.Parameter?.Value;
      if (value === undefined) throw new MalformedAwsResponseError('GetParameter', `no value for ${name}`);
      return value;
    } catch (err) {
      if (awsErrorCode(err) === 'ParameterNotFound') return undefined;
      rethrowAws('GetParameter', err);
    }
  }

  /** Writes the value, replacing any existing one; `secure`: as a SecureString under the store's KMS key. */
  async put(name: ParameterName, value: string, options: PutOptions = {}): Promise<void> {
    try {
      await this.client.send(new PutParameterCommand(this.putInput(name, value, true, options)));
    } catch (err) {
      rethrowAws('PutParameter', err);
    }
  }

  /**
   * Writes one of an instance's files, tagged with the instance's ARN when the store knows how to build it and
   * with the writing group when it knows that. Its `tls` is a SecureString under the store's KMS key.
   */
  async putInstanceFile(instanceId: string, file: InstanceFile, value: string): Promise<void> {
    const name = this.instanceName(instanceId, file);
    const options = { secure: SECRET_INSTANCE_FILES.has(file) };
    const tags = [
      ...(this.instanceArn === undefined ? [] : [{ Key: INSTANCE_ARN_TAG, Value: this.instanceArn(validateInstanceId(instanceId)) }]),
      ...(this.group === undefined ? [] : [{ Key: GROUP_TAG, Value: this.group }]),
    ];
    if (tags.length === 0) return this.put(name, value, options);
    try {
      // SSM accepts tags only when creating; an existing parameter is overwritten, then tagged.
      await this.client.send(new PutParameterCommand({ ...this.putInput(name, value, false, options), Tags: tags }));
      return;
    } catch (err) {
      if (awsErrorCode(err) !== 'ParameterAlreadyExists') rethrowAws('PutParameter', err);
    }
    await this.put(name, value, options);
    try {
      await this.client.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: name, Tags: tags }));
    } catch (err) {
      rethrowAws('AddTagsToResource', err);
    }
  }

  /** The parameter's tags; undefined when it does not exist. */
  async tags(name: ParameterName): Promise<Record<string, string> | undefined> {
    try {
      const answer = await this.client.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }));
      return Object.fromEntries((answer.TagList ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])));
    } catch (err) {
      if (awsErrorCode(err) === 'InvalidResourceId' || awsErrorCode(err) === 'ParameterNotFound') return undefined;
      rethrowAws('ListTagsForResource', err);
    }
  }

  /**
   * Deletes the instance's parameters that carry this store's group tag; any other (another deployment's, or
   * untagged) is left alone. Answers the names deleted and the names kept. Without a group, deletes nothing.
   */
  async deleteOwnInstanceFiles(instanceId: string): Promise<{ deleted: ParameterName[]; kept: ParameterName[] }> {
    const deleted: ParameterName[] = [];
    const kept: ParameterName[] = [];
    for (const file of INSTANCE_FILES) {
      const name = this.instanceName(instanceId, file);
      const tags = await this.tags(name);
      if (tags === undefined) continue;
      if (this.group !== undefined && tags[GROUP_TAG] === this.group) {
        if (await this.delete(name)) deleted.push(name);
      } else {
        kept.push(name);
      }
    }
    return { deleted, kept };
  }

  /**
   * Writes the value only if the parameter does not exist yet. When it exists, the existing value wins
   * and is returned: concurrent first-wave invocations thereby all agree on one decision. `secure`: as a
   * SecureString under the store's KMS key.
   */
  async createOnly(name: ParameterName, value: string, options: PutOptions = {}): Promise<CreateOnlyResult> {
    // Two rounds cover the race of the existing parameter being deleted between our put and get.
    for (let round = 0; round < 2; round++) {
      try {
        await this.client.send(new PutParameterCommand(this.putInput(name, value, false, options)));
        return { created: true, value };
      } catch (err) {
        if (awsErrorCode(err) !== 'ParameterAlreadyExists') rethrowAws('PutParameter', err);
      }
      const existing = await this.get(name);
      if (existing !== undefined) return { created: false, value: existing };
    }
    throw new MalformedAwsResponseError('PutParameter', `${name} exists and does not exist at the same time`);
  }

  /** Deletes the parameter. Idempotent: `false` when it did not exist. */
  async delete(name: ParameterName): Promise<boolean> {
    try {
      await this.client.send(new DeleteParameterCommand({ Name: name }));
      return true;
    } catch (err) {
      if (awsErrorCode(err) === 'ParameterNotFound') return false;
      rethrowAws('DeleteParameter', err);
    }
  }

  /** Deletes every parameter of the instance (idempotent). */
  async deleteInstance(instanceId: string): Promise<void> {
    for (const file of INSTANCE_FILES) await this.delete(this.instanceName(instanceId, file));
  }

  /** Instance IDs that have at least one parameter under this cluster, sorted. Foreign names are skipped. */
  async listInstanceIds(): Promise<string[]> {
    const base = `${this.instancesPath()}/`;
    const ids = new Set<string>();
    try {
      for await (const page of paginateGetParametersByPath({ client: this.client }, { Path: this.instancesPath(), Recursive: true })) {
        for (const parameter of page.Parameters ?? []) {
          const name = parameter.Name;
          if (name === undefined || !name.startsWith(base)) continue;
          const id = name.slice(base.length).split('/', 1)[0];
          if (isInstanceId(id)) ids.add(id);
        }
      }
    } catch (err) {
      rethrowAws('GetParametersByPath', err);
    }
    return [...ids].sort();
  }

  private instancesPath(): string {
    return `${this.root}/instances`;
  }

  private putInput(name: ParameterName, value: string, overwrite: boolean, options: PutOptions) {
    const secure = options.secure === true;
    return {
      Name: name,
      Value: value,
      Type: secure ? 'SecureString' : 'String',
      ...(secure && this.kmsKeyId !== undefined && { KeyId: this.kmsKeyId }),
      Overwrite: overwrite,
      // Intelligent-Tiering stays Standard (free) and moves to Advanced only if a value outgrows 4 KB.
      Tier: 'Intelligent-Tiering',
    } as const;
  }
}
