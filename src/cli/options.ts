// The command line: yargs turns argv into raw values, this module applies ELASTIC_ETCD_* variables and
// defaults (flag > non-empty variable > default) and validates everything into typed options. Pure apart from
// yargs; nothing here touches the network or the disk, so every usage error is unit-testable.
//
// Go-style single-dash long flags (`-name=master2`, `-v=6 -logtostderr`, `-o flags`) work because short
// option groups are off: `-name` is the option `name`, not `-n -a -m -e`.
import yargs, { type Argv } from 'yargs';
import { parseDiscoveryURL } from '../adapters/discovery/index.js';
import { CLUSTER_DEFAULTS } from '../core/defaults.js';
import { errorMessage } from '../core/errors.js';
import type { OutputFormat } from '../core/render.js';
import { OUTPUT_FORMATS } from '../core/render.js';
import type { ClusterSize, JoinStrategy, SelfIdentity } from '../core/types.js';
import { parseMemberURL, parseMemberURLList } from '../core/urls.js';
import { formatDuration, parseDurationMs } from './duration.js';
import { UsageError } from './errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;
export type CommandName = 'join' | 'promote';

/** One flag: its yargs type, which commands take it, its ELASTIC_ETCD_* variable and its help line. */
export interface OptionSpec {
  readonly name: string;
  readonly type: 'string' | 'boolean';
  readonly commands: readonly CommandName[];
  /** True when an ELASTIC_ETCD_<NAME> variable may supply the value. */
  readonly env: boolean;
  readonly placeholder?: string;
  readonly defaultText?: string;
  readonly description: string;
  /** Accepted for compatibility with the original's glog flags, otherwise ignored; listed separately in help. */
  readonly compatibility?: boolean;
}

const BOTH: readonly CommandName[] = ['join', 'promote'];
const JOIN: readonly CommandName[] = ['join'];
const PROMOTE: readonly CommandName[] = ['promote'];

export const DEFAULTS = {
  format: 'env' as OutputFormat,
  strategy: CLUSTER_DEFAULTS.joinStrategy,
  clientPort: CLUSTER_DEFAULTS.clientPort,
  clusterSize: -1,
  peerURLs: `http://localhost:${CLUSTER_DEFAULTS.peerPort}`,
  joinAs: CLUSTER_DEFAULTS.joinAs,
  healthTimeoutMs: CLUSTER_DEFAULTS.healthTimeoutMs,
  commandTimeoutMs: 5_000,
  lockTimeoutMs: 60_000,
  promoteTimeoutMs: 5 * 60_000,
};

export const OPTION_SPECS: readonly OptionSpec[] = [
  {
    name: 'o',
    type: 'string',
    commands: JOIN,
    env: false,
    placeholder: 'FORMAT',
    defaultText: DEFAULTS.format,
    description: 'output format: env, dropin, flags or json',
  },
  {
    name: 'discovery',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'URL',
    description: 'etcd discovery URL, e.g. https://discovery.etcd.io/<token> (required to join; promote needs it or --endpoints)',
  },
  {
    name: 'name',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'NAME',
    description: 'the cluster-unique etcd member name (required)',
  },
  {
    name: 'initial-advertise-peer-urls',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'URLS',
    defaultText: DEFAULTS.peerURLs,
    description: "this node's peer URLs, comma-separated",
  },
  {
    name: 'data-dir',
    type: 'string',
    commands: JOIN,
    env: true,
    placeholder: 'DIR',
    defaultText: '<name>.etcd',
    description: 'the etcd data dir: decides whether this node is fresh, and is passed on to etcd',
  },
  {
    name: 'join-strategy',
    type: 'string',
    commands: JOIN,
    env: true,
    placeholder: 'STRATEGY',
    defaultText: DEFAULTS.strategy,
    description:
      'prepare (alias prepared): never change membership, use a pre-added member; add: add only, never remove; replace: remove one dead member when the cluster is full, then add; prune: remove every dead member, then add',
  },
  {
    name: 'cluster-size',
    type: 'string',
    commands: JOIN,
    env: true,
    placeholder: 'N',
    defaultText: String(DEFAULTS.clusterSize),
    description: "target cluster size: -1 = the discovery URL's size, 0 = unlimited, N > 0 = N (e.g. to grow a cluster)",
  },
  {
    name: 'client-port',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'PORT',
    defaultText: String(DEFAULTS.clientPort),
    description: 'the client port of every member, used to reach members found in the discovery registry',
  },
  {
    name: 'join-as',
    type: 'string',
    commands: JOIN,
    env: true,
    placeholder: 'ROLE',
    defaultText: DEFAULTS.joinAs,
    description: 'learner (promoted by "elastic-etcd promote" once in sync) or voter',
  },
  {
    name: 'dry-run',
    type: 'boolean',
    commands: JOIN,
    env: false,
    description: 'observe and plan, change nothing; prints the would-be configuration (-o json: the plan) and logs the plan',
  },
  {
    name: 'endpoints',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'URLS',
    description: 'extra client URLs of existing members, comma-separated, to find the cluster',
  },
  {
    name: 'health-timeout',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'DURATION',
    defaultText: formatDuration(DEFAULTS.healthTimeoutMs),
    description: 'a member that does not answer its health check within this time counts as unreachable',
  },
  {
    name: 'command-timeout',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'DURATION',
    defaultText: formatDuration(DEFAULTS.commandTimeoutMs),
    description: 'timeout of one request to etcd',
  },
  {
    name: 'lock-timeout',
    type: 'string',
    commands: JOIN,
    env: true,
    placeholder: 'DURATION',
    defaultText: formatDuration(DEFAULTS.lockTimeoutMs),
    description: 'how long to wait for the membership lock another joining node holds',
  },
  {
    name: 'unhealthy-after',
    type: 'string',
    commands: JOIN,
    env: true,
    placeholder: 'DURATION',
    defaultText: 'one failed health check',
    description:
      'replace and prune: a member counts as dead only once it has been unreachable this long, watched by this run (re-checking until then) or recorded by earlier runs in etcd',
  },
  {
    name: 'promote-command',
    type: 'string',
    commands: JOIN,
    env: true,
    placeholder: 'COMMAND',
    description:
      'ExecStartPost command that promotes the learner (-o dropin); default: this program\'s "promote" with the same connection flags',
  },
  {
    name: 'timeout',
    type: 'string',
    commands: PROMOTE,
    env: false,
    placeholder: 'DURATION',
    defaultText: formatDuration(DEFAULTS.promoteTimeoutMs),
    description: 'how long to wait for the learner to catch up',
  },
  {
    name: 'cacert',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'FILE',
    description: 'verify etcd servers with this CA bundle (as etcdctl)',
  },
  { name: 'cert', type: 'string', commands: BOTH, env: true, placeholder: 'FILE', description: 'client certificate for etcd (as etcdctl)' },
  { name: 'key', type: 'string', commands: BOTH, env: true, placeholder: 'FILE', description: 'client key for etcd (as etcdctl)' },
  {
    name: 'insecure-skip-tls-verify',
    type: 'boolean',
    commands: BOTH,
    env: true,
    description: "do not verify the servers' certificates (as etcdctl; tests only)",
  },
  { name: 'user', type: 'string', commands: BOTH, env: true, placeholder: 'NAME[:PASSWORD]', description: 'etcd user (as etcdctl)' },
  {
    name: 'password',
    type: 'string',
    commands: BOTH,
    env: true,
    placeholder: 'PASSWORD',
    description: 'etcd password, if not given in --user (as etcdctl)',
  },
  {
    name: 'v',
    type: 'string',
    commands: BOTH,
    env: false,
    placeholder: 'N',
    defaultText: '0',
    description: 'log verbosity: debug lines up to level N go to stderr (info, warnings and errors always do)',
  },
  { name: 'logtostderr', type: 'boolean', commands: BOTH, env: false, compatibility: true, description: '' },
  { name: 'alsologtostderr', type: 'boolean', commands: BOTH, env: false, compatibility: true, description: '' },
  { name: 'stderrthreshold', type: 'string', commands: BOTH, env: false, compatibility: true, description: '' },
  { name: 'vmodule', type: 'string', commands: BOTH, env: false, compatibility: true, description: '' },
  { name: 'log_backtrace_at', type: 'string', commands: BOTH, env: false, compatibility: true, description: '' },
  { name: 'log_dir', type: 'string', commands: BOTH, env: false, compatibility: true, description: '' },
  { name: 'help', type: 'boolean', commands: BOTH, env: false, description: 'show this help' },
];

export function envVarOf(optionName: string): string {
  return `ELASTIC_ETCD_${optionName.toUpperCase().replaceAll('-', '_')}`;
}

/** How to reach etcd, as given on the command line (files not read yet). */
export interface ConnectionOptions {
  /** Extra client URLs from --endpoints (canonical). */
  readonly endpoints: readonly string[];
  readonly clientPort: number;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly insecureSkipTlsVerify: boolean;
  readonly auth?: { readonly username: string; readonly password: string };
  readonly healthTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

interface CommonOptions {
  readonly self: SelfIdentity;
  readonly discoveryURL?: string;
  readonly connection: ConnectionOptions;
  readonly verbosity: number;
}

export interface JoinOptions extends CommonOptions {
  readonly discoveryURL: string;
  readonly format: OutputFormat;
  readonly strategy: JoinStrategy;
  /** 'from-discovery' reads `_config/size` (the default, -1). */
  readonly clusterSize: ClusterSize | 'from-discovery';
  readonly dataDir: string;
  readonly joinAs: 'learner' | 'voter';
  readonly dryRun: boolean;
  readonly lockTimeoutMs: number;
  readonly promoteCommand?: string;
  /** --unhealthy-after: unset keeps the default (one failed health check makes a member dead). */
  readonly unhealthyAfterMs?: number;
}

export interface PromoteOptions extends CommonOptions {
  readonly timeoutMs: number;
}

export type CliCommand =
  | { readonly kind: 'help'; readonly command: CommandName }
  | { readonly kind: 'join'; readonly options: JoinOptions }
  | { readonly kind: 'promote'; readonly options: PromoteOptions };

type RawArgs = Readonly<Record<string, unknown>>;

/** Parses argv (without node and the script) and the environment; throws UsageError on anything wrong. */
export async function parseCommandLine(argv: readonly string[], env: Environment): Promise<CliCommand> {
  // The original also took a first positional `help` or `h`.
  if (argv[0] === 'help' || argv[0] === 'h') return { kind: 'help', command: argv[1] === 'promote' ? 'promote' : 'join' };
  const raw = await parseWithYargs(argv);
  const command: CommandName = raw._command === 'promote' ? 'promote' : 'join';
  if (raw.help === true) return { kind: 'help', command };
  const values = new ValueSource(raw, env);
  return command === 'promote' ? { kind: 'promote', options: promoteOptions(values) } : { kind: 'join', options: joinOptions(values) };
}

async function parseWithYargs(argv: readonly string[]): Promise<RawArgs & { _command?: string }> {
  const declare = (parser: Argv, command: CommandName): Argv => {
    let declared = parser;
    for (const spec of OPTION_SPECS) {
      if (!spec.commands.includes(command)) continue;
      // Explicitly no defaults: an absent flag must stay undefined so variables and defaults apply after it.
      declared = declared.option(spec.name, { type: spec.type, ...(spec.name === 'help' && { alias: 'h' }) });
    }
    return declared;
  };
  let failure: string | undefined;
  const parser = yargs([...argv])
    .parserConfiguration({
      'short-option-groups': false,
      'camel-case-expansion': false,
      'dot-notation': false,
      'duplicate-arguments-array': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'greedy-arrays': false,
      'halt-at-non-option': false,
      'unknown-options-as-args': false,
    })
    .scriptName('elastic-etcd')
    .command('$0', 'join the cluster and print the etcd configuration', (y) => declare(y, 'join'))
    .command('promote', 'promote this node once its learner is in sync', (y) => declare(y, 'promote'))
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .showHelpOnFail(false)
    .fail((message: string | null | undefined, err: Error | undefined) => {
      failure = message ?? err?.message ?? 'invalid command line';
    });
  let parsed: RawArgs;
  try {
    parsed = await parser.parseAsync();
  } catch (err) {
    throw new UsageError(describeYargsFailure(failure ?? errorMessage(err), argv));
  }
  if (failure !== undefined) throw new UsageError(describeYargsFailure(failure, argv));
  const positionals = Array.isArray(parsed._) ? parsed._.map(String) : [];
  return { ...parsed, ...(positionals[0] === 'promote' && { _command: 'promote' }) };
}

/** yargs says "Unknown argument: bogus"; name it as the user typed it (-bogus, --bogus=1 or a stray word). */
function describeYargsFailure(message: string, argv: readonly string[]): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown?.[1] === undefined) return message.replace(/\s+/g, ' ').trim();
  const names = unknown[1].split(', ').map((name) => {
    const typed = argv.find((token) => token.startsWith('-') && token.replace(/^--?/, '').split('=', 1)[0] === name);
    if (typed !== undefined) return `option ${typed.split('=', 1)[0] ?? typed}`;
    return `argument ${JSON.stringify(name)}`;
  });
  return `unknown ${names.join(', ')}`;
}

/** Flag > non-empty ELASTIC_ETCD_* variable > default, remembering where a value came from for messages. */
class ValueSource {
  constructor(
    private readonly raw: RawArgs,
    private readonly env: Environment,
  ) {}

  string(name: string): { value: string; origin: string } | undefined {
    const fromFlag = this.raw[name];
    if (typeof fromFlag === 'string') return { value: fromFlag, origin: `--${name}` };
    const spec = OPTION_SPECS.find((s) => s.name === name);
    if (spec?.env === true) {
      const variable = envVarOf(name);
      const fromEnv = this.env[variable];
      if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, origin: variable };
    }
    return undefined;
  }

  boolean(name: string): boolean {
    const fromFlag = this.raw[name];
    if (typeof fromFlag === 'boolean') return fromFlag;
    const spec = OPTION_SPECS.find((s) => s.name === name);
    if (spec?.env !== true) return false;
    const variable = envVarOf(name);
    const fromEnv = this.env[variable];
    if (fromEnv === undefined || fromEnv === '') return false;
    if (/^(1|true|yes)$/i.test(fromEnv)) return true;
    if (/^(0|false|no)$/i.test(fromEnv)) return false;
    throw new UsageError(`invalid ${variable} ${JSON.stringify(fromEnv)}: expected true or false`);
  }
}

function invalid(origin: string, value: string, expected: string): UsageError {
  return new UsageError(`invalid ${origin} ${JSON.stringify(value)}: ${expected}`);
}

function integer(values: ValueSource, name: string, fallback: number, min: number, max: number): number {
  const given = values.string(name);
  if (given === undefined) return fallback;
  const text = given.value.trim();
  const parsed = /^-?[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw invalid(given.origin, given.value, `expected an integer from ${min} to ${max}`);
  }
  return parsed;
}

function duration(values: ValueSource, name: string, fallback: number): number {
  const given = values.string(name);
  if (given === undefined) return fallback;
  const ms = parseDurationMs(given.value);
  if (ms === undefined)
    throw invalid(given.origin, given.value, 'expected a positive duration such as 500ms, 2s, 1m30s or 5m (at most 24h)');
  return ms;
}

function oneOf<T extends string>(values: ValueSource, name: string, fallback: T, allowed: Readonly<Record<string, T>>): T {
  const given = values.string(name);
  if (given === undefined) return fallback;
  const found = allowed[given.value.trim()];
  if (found === undefined) throw invalid(given.origin, given.value, `expected one of ${Object.keys(allowed).join(', ')}`);
  return found;
}

function commonOptions(values: ValueSource): CommonOptions {
  const name = values.string('name')?.value.trim() ?? '';
  if (name === '')
    throw new UsageError('--name is required (or ELASTIC_ETCD_NAME)', 'pass the cluster-unique member name, e.g. --name=node1');
  // ',' and '=' separate entries of etcd's initial cluster and of discovery registry values.
  if (/[,=\s]/.test(name)) throw invalid('--name', name, "a member name cannot contain ',', '=' or spaces");

  const peers = values.string('initial-advertise-peer-urls') ?? { value: DEFAULTS.peerURLs, origin: '--initial-advertise-peer-urls' };
  let peerURLs: string[];
  try {
    peerURLs = parseMemberURLList(peers.value);
  } catch (err) {
    throw invalid(peers.origin, peers.value, `${errorMessage(err)} (expected http(s)://host:port[,...])`);
  }

  const discovery = values.string('discovery');
  let discoveryURL: string | undefined;
  if (discovery !== undefined) {
    try {
      discoveryURL = parseDiscoveryURL(discovery.value);
    } catch (err) {
      throw new UsageError(`${errorMessage(err)} (from ${discovery.origin})`);
    }
  }

  const verbosity = integer(values, 'v', 0, 0, 100);
  return {
    self: { name, peerURLs },
    ...(discoveryURL !== undefined && { discoveryURL }),
    connection: connectionOptions(values),
    verbosity,
  };
}

function connectionOptions(values: ValueSource): ConnectionOptions {
  const endpointsGiven = values.string('endpoints');
  let endpoints: string[] = [];
  if (endpointsGiven !== undefined && endpointsGiven.value.trim() !== '') {
    try {
      endpoints = parseMemberURLList(endpointsGiven.value).map(parseMemberURL);
    } catch (err) {
      throw invalid(endpointsGiven.origin, endpointsGiven.value, `${errorMessage(err)} (expected http(s)://host:port[,...])`);
    }
  }
  const file = (name: string): string | undefined => {
    const given = values.string(name)?.value.trim();
    return given === undefined || given === '' ? undefined : given;
  };
  const caFile = file('cacert');
  const certFile = file('cert');
  const keyFile = file('key');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError('--cert and --key go together', 'pass both the client certificate and its key, or neither');
  }
  return {
    endpoints,
    clientPort: integer(values, 'client-port', DEFAULTS.clientPort, 1, 65_535),
    ...(caFile !== undefined && { caFile }),
    ...(certFile !== undefined && { certFile }),
    ...(keyFile !== undefined && { keyFile }),
    insecureSkipTlsVerify: values.boolean('insecure-skip-tls-verify'),
    ...authOption(values),
    healthTimeoutMs: duration(values, 'health-timeout', DEFAULTS.healthTimeoutMs),
    commandTimeoutMs: duration(values, 'command-timeout', DEFAULTS.commandTimeoutMs),
  };
}

function authOption(values: ValueSource): { auth?: { username: string; password: string } } {
  const user = values.string('user');
  const password = values.string('password');
  if (user === undefined || user.value === '') {
    if (password !== undefined) throw new UsageError('--password needs --user', 'pass --user=NAME as well, or drop --password');
    return {};
  }
  const colon = user.value.indexOf(':');
  const username = colon >= 0 ? user.value.slice(0, colon) : user.value;
  if (username.trim() === '') throw invalid(user.origin, '<hidden>', 'the user name is empty');
  if (colon >= 0) {
    if (password !== undefined)
      throw new UsageError(
        `the password is given twice, in ${user.origin} and ${password.origin}`,
        'use --user=NAME:PASSWORD or --user=NAME --password=PASSWORD',
      );
    return { auth: { username, password: user.value.slice(colon + 1) } };
  }
  // There is no terminal to prompt on (etcdctl would ask): the password must be given.
  if (password === undefined) {
    throw new UsageError(`--user ${username} has no password`, 'give it as --user=NAME:PASSWORD, --password or ELASTIC_ETCD_PASSWORD');
  }
  return { auth: { username, password: password.value } };
}

const FORMATS: Readonly<Record<string, OutputFormat>> = Object.fromEntries(OUTPUT_FORMATS.map((f) => [f, f]));
const STRATEGIES: Readonly<Record<string, JoinStrategy>> = {
  prepare: 'prepare',
  prepared: 'prepare',
  replace: 'replace',
  prune: 'prune',
  add: 'add',
};
const ROLES: Readonly<Record<string, 'learner' | 'voter'>> = { learner: 'learner', voter: 'voter' };

function joinOptions(values: ValueSource): JoinOptions {
  const common = commonOptions(values);
  if (common.discoveryURL === undefined) {
    throw new UsageError(
      '--discovery is required (or ELASTIC_ETCD_DISCOVERY)',
      'pass the discovery URL, e.g. --discovery=https://discovery.etcd.io/<token>',
    );
  }
  const format = values.string('o');
  const resolvedFormat = format === undefined ? DEFAULTS.format : FORMATS[format.value.trim()];
  if (format !== undefined && resolvedFormat === undefined) {
    throw invalid('output format -o', format.value, `expected one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  const size = integer(values, 'cluster-size', DEFAULTS.clusterSize, -1, 2 ** 31 - 1);
  const dataDir = values.string('data-dir')?.value.trim();
  const promoteCommand = values.string('promote-command')?.value.trim();
  const strategy = oneOf(values, 'join-strategy', DEFAULTS.strategy, STRATEGIES);
  const unhealthyAfter = values.string('unhealthy-after');
  if (unhealthyAfter !== undefined && strategy !== 'replace' && strategy !== 'prune') {
    throw invalid(
      unhealthyAfter.origin,
      unhealthyAfter.value,
      `only the replace and prune strategies remove dead members; --join-strategy is ${strategy}`,
    );
  }
  return {
    ...common,
    discoveryURL: common.discoveryURL,
    format: resolvedFormat ?? DEFAULTS.format,
    strategy,
    clusterSize: size === -1 ? 'from-discovery' : size === 0 ? 'unlimited' : size,
    dataDir: dataDir === undefined || dataDir === '' ? `${common.self.name}.etcd` : dataDir,
    joinAs: oneOf(values, 'join-as', DEFAULTS.joinAs, ROLES),
    dryRun: values.boolean('dry-run'),
    lockTimeoutMs: duration(values, 'lock-timeout', DEFAULTS.lockTimeoutMs),
    ...(promoteCommand !== undefined && promoteCommand !== '' && { promoteCommand }),
    ...(unhealthyAfter !== undefined && { unhealthyAfterMs: duration(values, 'unhealthy-after', 0) }),
  };
}

function promoteOptions(values: ValueSource): PromoteOptions {
  const common = commonOptions(values);
  if (common.discoveryURL === undefined && common.connection.endpoints.length === 0) {
    throw new UsageError(
      'promote needs --discovery or --endpoints to find the cluster',
      'pass the same --discovery URL the node joined with',
    );
  }
  return { ...common, timeoutMs: duration(values, 'timeout', DEFAULTS.promoteTimeoutMs) };
}
