// Renders infra/userdata/boot-etcd.sh: the script is a real file (so shellcheck and the tests see the very text
// an instance runs) with @PLACEHOLDERS@ that are filled in here at synth time. Pure apart from reading the file.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BOOT_SCRIPT_PATH = fileURLToPath(new URL('./userdata/boot-etcd.sh', import.meta.url));

/** Where the systemd drop-in lands on the instance (relative to the systemd unit directory). */
export const DROPIN_RELATIVE_PATH = 'etcd.service.d/99-elastic-etcd.conf';

/** How the instance gets etcd. */
export type EtcdInstall =
  /** Download the official release tarball for `etcdVersion` to /usr/local/bin (the default). */
  | { readonly method: 'release'; readonly baseUrl?: string }
  /** Run these shell commands instead; they must leave an etcd binary at /usr/local/bin/etcd. */
  | { readonly method: 'commands'; readonly commands: readonly string[] }
  /** The machine image already has /usr/local/bin/etcd. */
  | { readonly method: 'preinstalled' };

export const DEFAULT_RELEASE_BASE_URL = 'https://github.com/etcd-io/etcd/releases/download';

export interface BootScriptOptions {
  /** `<prefix>/<cluster>`: the instance reads `<parameterPath>/instances/<id>/dropin`. */
  readonly parameterPath: string;
  readonly etcdVersion: string;
  readonly install: EtcdInstall;
  /** How long the instance waits for its drop-in before giving up. */
  readonly dropinWaitSeconds: number;
}

export class InvalidBootScriptOptionError extends Error {
  constructor(option: string, value: string, reason: string) {
    super(`invalid ${option} ${JSON.stringify(value)}: ${reason}`);
    this.name = 'InvalidBootScriptOptionError';
  }
}

// Values land inside single quotes in a root shell script: allow only characters that cannot break out of them.
const PARAMETER_PATH = /^(\/[A-Za-z0-9_.-]+)+$/;
const ETCD_VERSION = /^[0-9]+\.[0-9]+\.[0-9]+(-[A-Za-z0-9.]+)?$/;
const SAFE_URL = /^https?:\/\/[A-Za-z0-9._~:/@%+=-]+$/;

/** Fills the boot script's placeholders; throws InvalidBootScriptOptionError for values it cannot embed safely. */
export function renderBootScript(options: BootScriptOptions, template = readFileSync(BOOT_SCRIPT_PATH, 'utf8')): string {
  if (!PARAMETER_PATH.test(options.parameterPath)) {
    throw new InvalidBootScriptOptionError('parameter path', options.parameterPath, 'expected /segment/segment with letters, digits, _ . -');
  }
  if (!ETCD_VERSION.test(options.etcdVersion)) {
    throw new InvalidBootScriptOptionError('etcd version', options.etcdVersion, 'expected a release version such as 3.5.17');
  }
  if (!Number.isInteger(options.dropinWaitSeconds) || options.dropinWaitSeconds < 1) {
    throw new InvalidBootScriptOptionError('drop-in wait', String(options.dropinWaitSeconds), 'expected a positive whole number of seconds');
  }
  const baseUrl = options.install.method === 'release' ? (options.install.baseUrl ?? DEFAULT_RELEASE_BASE_URL) : DEFAULT_RELEASE_BASE_URL;
  if (!SAFE_URL.test(baseUrl)) throw new InvalidBootScriptOptionError('release base URL', baseUrl, 'expected a plain http(s) URL');

  const commands = options.install.method === 'commands' ? options.install.commands : [];
  if (options.install.method === 'commands' && commands.length === 0) {
    throw new InvalidBootScriptOptionError('install commands', '', 'at least one command is required');
  }
  // Custom commands are the operator's own shell, run as they are; they only must not smuggle in a second
  // placeholder line or contain NUL.
  for (const command of commands) {
    if (command.includes('\0') || /@[A-Z_]+@/.test(command)) {
      throw new InvalidBootScriptOptionError('install command', command, 'must not contain NUL or @PLACEHOLDER@ text');
    }
  }

  const values: Record<string, string> = {
    PARAMETER_PATH: options.parameterPath,
    ETCD_VERSION: options.etcdVersion,
    INSTALL_METHOD: options.install.method,
    RELEASE_BASE_URL: baseUrl.replace(/\/+$/, ''),
    DROPIN_WAIT_SECONDS: String(options.dropinWaitSeconds),
  };
  let script = template;
  if (commands.length > 0) {
    script = replaceExactlyOnce(script, '  : # @INSTALL_COMMANDS@', commands.map((c) => `  ${c}`).join('\n'));
  }
  for (const [key, value] of Object.entries(values)) {
    script = replaceExactlyOnce(script, `'@${key}@'`, `'${value}'`);
  }
  const leftover = /'@[A-Z_]+@'/.exec(script);
  if (leftover) throw new Error(`boot script template has an unfilled placeholder ${leftover[0]}`);
  return script;
}

function replaceExactlyOnce(text: string, search: string, replacement: string): string {
  const first = text.indexOf(search);
  if (first < 0 || text.indexOf(search, first + 1) >= 0) {
    throw new Error(`boot script template must contain ${search} exactly once`);
  }
  return text.slice(0, first) + replacement + text.slice(first + search.length);
}
