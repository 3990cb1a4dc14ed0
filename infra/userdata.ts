// Renders infra/userdata/boot-etcd.sh: the script is a real file (so shellcheck and the tests see the very text
// an instance runs) with @PLACEHOLDERS@ that are filled in here at synth time. Pure apart from reading the file.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Token } from 'aws-cdk-lib';
import type { EtcdRelease } from './etcd-releases.js';

export const BOOT_SCRIPT_PATH = fileURLToPath(new URL('./userdata/boot-etcd.sh', import.meta.url));

/** Where the systemd drop-in lands on the instance (relative to the systemd unit directory). */
export const DROPIN_RELATIVE_PATH = 'etcd.service.d/99-elastic-etcd.conf';
/** Where the static drop-in with the construct's etcdSettings lands (sorts before the Lambda's). */
export const SETTINGS_DROPIN_RELATIVE_PATH = 'etcd.service.d/50-elastic-etcd-settings.conf';

/** How the instance gets etcd. Every method ends with a check that the binary reports exactly the pinned version. */
export type EtcdInstall =
  /** Download the official release tarball (or a mirror of it under `baseUrl`), verify its SHA-256, install it. */
  | { readonly method: 'release'; readonly baseUrl?: string }
  /**
   * Read the release tarball from S3 (object `key` in `bucket`, e.g. a CDK asset), signed with the instance role;
   * verify its SHA-256 and install it. The path for subnets without internet (S3 gateway endpoint).
   */
  | { readonly method: 's3'; readonly bucket: string; readonly key: string }
  /** Run these shell commands instead; they must leave the pinned etcd at /usr/local/bin/etcd. */
  | { readonly method: 'commands'; readonly commands: readonly string[] }
  /** The machine image already has the pinned etcd at /usr/local/bin/etcd (a baked AMI). */
  | { readonly method: 'preinstalled' };

export const DEFAULT_RELEASE_BASE_URL = 'https://github.com/etcd-io/etcd/releases/download';
/** EC2 accepts at most 16 KB of user data in raw form, before base64 encoding (EC2 User Guide, "user data"). */
export const MAX_USER_DATA_BYTES = 16 * 1024;
/** Per-attempt bound of the etcd download (the whole download is bounded by 4 attempts of this). */
export const DEFAULT_DOWNLOAD_TIMEOUT_SECONDS = 300;

export interface BootScriptOptions {
  /** `<prefix>/<cluster>`: the instance reads `<parameterPath>/instances/<id>/dropin`. */
  readonly parameterPath: string;
  /** The release to install and its expected SHA-256 (see infra/etcd-releases.ts). */
  readonly release: EtcdRelease;
  readonly install: EtcdInstall;
  /** How long the instance waits for its drop-in before giving up. */
  readonly dropinWaitSeconds: number;
  /** Per-attempt bound of the etcd download. @default DEFAULT_DOWNLOAD_TIMEOUT_SECONDS */
  readonly downloadTimeoutSeconds?: number;
  /** Extra etcd settings as `ETCD_<NAME>` -> value, already validated (see etcd-settings.ts). */
  readonly settings?: Readonly<Record<string, string>>;
}

export class InvalidBootScriptOptionError extends Error {
  constructor(option: string, value: string, reason: string) {
    super(`invalid ${option} ${JSON.stringify(value)}: ${reason}`);
    this.name = 'InvalidBootScriptOptionError';
  }
}

// Values land inside single quotes in a root shell script: allow only characters that cannot break out of them.
const PARAMETER_PATH = /^(\/[A-Za-z0-9_.-]+)+$/;
const ETCD_VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;
const SHA256 = /^[0-9a-f]{64}$/;
const SAFE_URL = /^https?:\/\/[A-Za-z0-9._~:/@%+=-]+$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const OBJECT_KEY = /^[A-Za-z0-9!_.*()/-]{1,1024}$/;
const SETTING_NAME = /^ETCD_[A-Z0-9_]+$/;
const SETTING_VALUE = /^[A-Za-z0-9 _.,:/=+@-]*$/;

/** A value checked against `pattern`, unless it is a CDK token resolved at deploy time (a bucket or asset key). */
function tokenOr(pattern: RegExp, value: string): boolean {
  return Token.isUnresolved(value) ? /^[A-Za-z0-9${}[\]._-]+$/.test(value) : pattern.test(value);
}

/** Fills the boot script's placeholders; throws InvalidBootScriptOptionError for values it cannot embed safely. */
export function renderBootScript(options: BootScriptOptions, template = readFileSync(BOOT_SCRIPT_PATH, 'utf8')): string {
  const { release, install } = options;
  if (!PARAMETER_PATH.test(options.parameterPath)) {
    throw new InvalidBootScriptOptionError(
      'parameter path',
      options.parameterPath,
      'expected /segment/segment with letters, digits, _ . -',
    );
  }
  if (!ETCD_VERSION.test(release.version)) {
    throw new InvalidBootScriptOptionError('etcd version', release.version, 'expected a release version such as 3.5.30');
  }
  if (release.architecture !== 'amd64' && release.architecture !== 'arm64') {
    throw new InvalidBootScriptOptionError('etcd architecture', String(release.architecture), 'expected amd64 or arm64');
  }
  if (!SHA256.test(release.sha256)) {
    throw new InvalidBootScriptOptionError('etcd SHA-256', release.sha256, 'expected 64 lowercase hexadecimal digits');
  }
  if (!Number.isInteger(options.dropinWaitSeconds) || options.dropinWaitSeconds < 1) {
    throw new InvalidBootScriptOptionError(
      'drop-in wait',
      String(options.dropinWaitSeconds),
      'expected a positive whole number of seconds',
    );
  }
  const downloadTimeout = options.downloadTimeoutSeconds ?? DEFAULT_DOWNLOAD_TIMEOUT_SECONDS;
  if (!Number.isInteger(downloadTimeout) || downloadTimeout < 1 || downloadTimeout > 3600) {
    throw new InvalidBootScriptOptionError('download timeout', String(downloadTimeout), 'expected 1-3600 whole seconds');
  }
  const baseUrl = install.method === 'release' ? (install.baseUrl ?? DEFAULT_RELEASE_BASE_URL) : DEFAULT_RELEASE_BASE_URL;
  if (!SAFE_URL.test(baseUrl)) throw new InvalidBootScriptOptionError('release base URL', baseUrl, 'expected a plain http(s) URL');
  const bucket = install.method === 's3' ? install.bucket : '';
  const key = install.method === 's3' ? install.key : '';
  if (install.method === 's3') {
    if (!tokenOr(BUCKET, bucket)) throw new InvalidBootScriptOptionError('S3 bucket', bucket, 'expected an S3 bucket name');
    if (!tokenOr(OBJECT_KEY, key))
      throw new InvalidBootScriptOptionError('S3 key', key, 'expected an object key of letters, digits and ! _ . * ( ) / -');
  }

  const commands = install.method === 'commands' ? install.commands : [];
  if (install.method === 'commands' && commands.length === 0) {
    throw new InvalidBootScriptOptionError('install commands', '', 'at least one command is required');
  }
  // Custom commands are the operator's own shell, run as they are; they only must not smuggle in a second
  // placeholder line or contain NUL.
  for (const command of commands) {
    if (command.includes('\0') || /@[A-Z_]+@/.test(command)) {
      throw new InvalidBootScriptOptionError('install command', command, 'must not contain NUL or @PLACEHOLDER@ text');
    }
  }
  const settingLines = Object.entries(options.settings ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => {
      if (!SETTING_NAME.test(name) || !SETTING_VALUE.test(value)) {
        throw new InvalidBootScriptOptionError('etcd setting', `${name}=${value}`, 'expected ETCD_NAME=value of safe characters');
      }
      return `${name}=${value}`;
    });

  const values: Record<string, string> = {
    PARAMETER_PATH: options.parameterPath,
    ETCD_VERSION: release.version,
    ETCD_ARCH: release.architecture,
    ETCD_SHA256: release.sha256,
    INSTALL_METHOD: install.method,
    RELEASE_BASE_URL: baseUrl.replace(/\/+$/, ''),
    S3_BUCKET: bucket,
    S3_KEY: key,
    DOWNLOAD_TIMEOUT_SECONDS: String(downloadTimeout),
    DROPIN_WAIT_SECONDS: String(options.dropinWaitSeconds),
    EXTRA_SETTINGS: settingLines.join('\n'),
  };
  // Indentation is for readers too, and the template's own lines only (the operator's commands stay as given).
  let script = stripIndentation(template);
  if (commands.length > 0) {
    script = replaceExactlyOnce(script, ': # @INSTALL_COMMANDS@', commands.map((c) => `  ${c}`).join('\n'));
  }
  for (const [name, value] of Object.entries(values)) {
    script = replaceExactlyOnce(script, `'@${name}@'`, `'${value}'`);
  }
  // Comment lines are for readers of the template; EC2's 16 KB user data limit counts every byte an instance gets.
  script = stripCommentLines(script);
  const leftover = /'@[A-Z_0-9]+@'/.exec(script);
  if (leftover) throw new Error(`boot script template has an unfilled placeholder ${leftover[0]}`);
  const size = Buffer.byteLength(script, 'utf8');
  if (size > MAX_USER_DATA_BYTES) {
    throw new InvalidBootScriptOptionError(
      'boot script size',
      `${size} bytes`,
      `EC2 accepts at most ${MAX_USER_DATA_BYTES} bytes of user data; shorten the install commands or settings`,
    );
  }
  return script;
}

/**
 * Drops whole-line `#` comments, keeping the shebang, and the argument notes after `name() { #`. Safe for this template: none of its heredocs or quoted
 * multi-line strings (the unit, the python helpers, EXTRA_SETTINGS) has a line that starts with `#`.
 */
function stripCommentLines(script: string): string {
  return script
    .split('\n')
    .filter((line, index) => index === 0 || !/^\s*#/.test(line))
    .map((line) => line.replace(/^([a-z_0-9]+\(\) \{) # .*$/, '$1'))
    .join('\n');
}

/**
 * Drops blank lines and the leading whitespace of every line, except inside the embedded Python programs
 * (`python3 -c '` up to the line that starts with the closing `'`), where indentation is syntax: there each
 * level of four spaces becomes one. Safe for this template: its one heredoc (the unit) and its multi-line strings
 * have no indented lines.
 */
export function stripIndentation(script: string): string {
  let python = false;
  return script
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      if (python) {
        python = !line.startsWith("'");
        return line.replace(/^(?: {4})+/, (indent) => ' '.repeat(indent.length / 4));
      }
      python = line.endsWith("python3 -c '");
      return line.trimStart();
    })
    .join('\n');
}

function replaceExactlyOnce(text: string, search: string, replacement: string): string {
  const first = text.indexOf(search);
  if (first < 0 || text.indexOf(search, first + 1) >= 0) {
    throw new Error(`boot script template must contain ${search} exactly once`);
  }
  return text.slice(0, first) + replacement + text.slice(first + search.length);
}
