// The simulated SSM Parameter Store: names, values and versions, with the semantics the adapters rely on
// (create-only puts, idempotent deletes, path listing with pagination), and SecureString as SSM has it: the type
// and KMS key are stored, a key the account does not have is refused (InvalidKeyId), and the plain text comes
// back only when decryption is asked for (otherwise a ciphertext-like value, never the plain text).
import { createHash } from 'node:crypto';

export type SimParameterType = 'String' | 'StringList' | 'SecureString';

/** SSM's default key for SecureString parameters: every account has it. */
export const DEFAULT_SSM_KEY = 'alias/aws/ssm';

export interface SimParameter {
  readonly name: string;
  readonly value: string;
  readonly version: number;
  readonly lastModified: Date;
  readonly tags: Readonly<Record<string, string>>;
  readonly type: SimParameterType;
  /** The KMS key a SecureString is encrypted under (as the put named it); undefined for other types. */
  readonly keyId?: string;
}

export interface SimPutOptions {
  readonly type?: SimParameterType;
  readonly keyId?: string;
}

export class SimParameterError extends Error {
  constructor(
    readonly code: 'ParameterNotFound' | 'ParameterAlreadyExists' | 'ValidationException' | 'InvalidKeyId',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

const NAME = /^\/?[A-Za-z0-9_.\-/]{1,1011}$/;
const MAX_VALUE_LENGTH = 8192; // Advanced tier; the adapters ask for Intelligent-Tiering

export class SimulatedParameters {
  private readonly parameters = new Map<string, SimParameter>();
  /** Every way the account's KMS keys may be named (key ID, key ARN, alias name, alias ARN). */
  private readonly kmsKeys = new Set<string>([DEFAULT_SSM_KEY]);

  constructor(private readonly clock: () => Date = () => new Date()) {}

  /** Makes a KMS key known to the account under each of the given names (its ID, ARN, alias, alias ARN). */
  addKmsKey(...names: string[]): void {
    for (const name of names) this.kmsKeys.add(name);
  }

  put(name: string, value: string, overwrite: boolean, tags?: Readonly<Record<string, string>>, options: SimPutOptions = {}): SimParameter {
    const type = options.type ?? 'String';
    if (options.keyId !== undefined && type !== 'SecureString') {
      throw new SimParameterError('ValidationException', 'KeyId is only valid for a SecureString parameter');
    }
    if (type === 'SecureString' && options.keyId !== undefined && !this.kmsKeys.has(options.keyId)) {
      throw new SimParameterError('InvalidKeyId', "The query key ID isn't valid.");
    }
    if (tags !== undefined && overwrite) {
      // As SSM does: tags can only be given when creating a parameter.
      throw new SimParameterError('ValidationException', "Invalid request: tags and overwrite can't be used together.");
    }
    if (!NAME.test(name) || name.includes('//')) throw new SimParameterError('ValidationException', `Parameter name ${name} is not valid`);
    if (value.length === 0 || value.length > MAX_VALUE_LENGTH) {
      throw new SimParameterError('ValidationException', `Parameter value length ${value.length} is not between 1 and ${MAX_VALUE_LENGTH}`);
    }
    const existing = this.parameters.get(name);
    if (existing !== undefined && !overwrite) {
      throw new SimParameterError(
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      );
    }
    const parameter = {
      name,
      value,
      version: (existing?.version ?? 0) + 1,
      lastModified: this.clock(),
      tags: { ...existing?.tags, ...tags },
      type,
      ...(type === 'SecureString' && { keyId: options.keyId ?? DEFAULT_SSM_KEY }),
    };
    this.parameters.set(name, parameter);
    return parameter;
  }

  /**
   * The value SSM answers for a parameter: a SecureString's plain text only with decryption, otherwise a
   * ciphertext-like base64 value (deterministic, never the plain text).
   */
  static answeredValue(parameter: SimParameter, withDecryption: boolean): string {
    if (parameter.type !== 'SecureString' || withDecryption) return parameter.value;
    const digest = createHash('sha256')
      .update(`${parameter.keyId ?? ''}\0${parameter.version}\0${parameter.value}`)
      .digest();
    return Buffer.concat([Buffer.from([0x01, 0x02, 0x02, 0x00, 0x78]), digest, digest]).toString('base64');
  }

  get(name: string): SimParameter {
    const parameter = this.parameters.get(name);
    if (parameter === undefined) throw new SimParameterError('ParameterNotFound', '');
    return parameter;
  }

  addTags(name: string, tags: Readonly<Record<string, string>>): void {
    const parameter = this.get(name);
    this.parameters.set(name, { ...parameter, tags: { ...parameter.tags, ...tags } });
  }

  /** The tags, or undefined: for tests that inspect the store directly. */
  tags(name: string): Readonly<Record<string, string>> | undefined {
    return this.parameters.get(name)?.tags;
  }

  /** The value, or undefined: for tests that inspect the store directly. */
  value(name: string): string | undefined {
    return this.parameters.get(name)?.value;
  }

  delete(name: string): void {
    if (!this.parameters.delete(name)) throw new SimParameterError('ParameterNotFound', '');
  }

  /** Parameters below `path`, sorted by name; non-recursive lists only the level directly below. */
  byPath(path: string, recursive: boolean): SimParameter[] {
    if (!path.startsWith('/')) throw new SimParameterError('ValidationException', 'The parameter path must begin with a forward slash');
    const base = path.endsWith('/') ? path : `${path}/`;
    return [...this.parameters.values()]
      .filter((p) => p.name.startsWith(base) && (recursive || !p.name.slice(base.length).includes('/')))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return [...this.parameters.keys()].sort();
  }
}
