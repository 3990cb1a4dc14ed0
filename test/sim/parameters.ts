// The simulated SSM Parameter Store: names, values and versions, with the semantics the adapters rely on
// (create-only puts, idempotent deletes, path listing with pagination).

export interface SimParameter {
  readonly name: string;
  readonly value: string;
  readonly version: number;
  readonly lastModified: Date;
  readonly tags: Readonly<Record<string, string>>;
}

export class SimParameterError extends Error {
  constructor(
    readonly code: 'ParameterNotFound' | 'ParameterAlreadyExists' | 'ValidationException',
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

  constructor(private readonly clock: () => Date = () => new Date()) {}

  put(name: string, value: string, overwrite: boolean, tags?: Readonly<Record<string, string>>): SimParameter {
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
    };
    this.parameters.set(name, parameter);
    return parameter;
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
