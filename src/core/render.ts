// Renders etcd settings for the three places etcd reads configuration from, plus JSON.
// Deterministic: fixed key order, unset keys left out, so the same plan always yields the same bytes.
import { memberIdToDecimal, memberIdToHex } from './ids.js';
import type { EtcdSettings, Member, Plan } from './types.js';

export type OutputFormat = 'env' | 'dropin' | 'flags' | 'json';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['env', 'dropin', 'flags', 'json'];

/** The settings cannot be written in the asked format (a value no format can carry, a bad unit name). */
export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}

/** etcd's environment variables in a fixed order; the flag name is the variable without ETCD_, lowercased. */
export function settingsEntries(settings: EtcdSettings): [key: string, value: string][] {
  const list = (v: readonly string[] | undefined): string | undefined => (v === undefined ? undefined : v.join(','));
  const entries: [string, string | undefined][] = [
    ['ETCD_NAME', settings.name],
    ['ETCD_DATA_DIR', settings.dataDir],
    ['ETCD_INITIAL_ADVERTISE_PEER_URLS', list(settings.initialAdvertisePeerURLs)],
    ['ETCD_LISTEN_PEER_URLS', list(settings.listenPeerURLs)],
    ['ETCD_LISTEN_CLIENT_URLS', list(settings.listenClientURLs)],
    ['ETCD_ADVERTISE_CLIENT_URLS', list(settings.advertiseClientURLs)],
    ['ETCD_INITIAL_CLUSTER', list(settings.initialCluster?.map((e) => `${e.name}=${e.peerURL}`))],
    ['ETCD_INITIAL_CLUSTER_STATE', settings.initialClusterState],
    ['ETCD_INITIAL_CLUSTER_TOKEN', settings.initialClusterToken],
    ['ETCD_DISCOVERY', settings.discovery],
    ['ETCD_QUOTA_BACKEND_BYTES', settings.quotaBackendBytes?.toString()],
    ['ETCD_AUTO_COMPACTION_MODE', settings.autoCompaction?.mode],
    ['ETCD_AUTO_COMPACTION_RETENTION', settings.autoCompaction?.retention],
    ...tlsEntries(settings.tls),
  ];
  return entries.filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '');
}

/** etcd's TLS keys: the member certificate on the client and the peer listener, client certificates required on both. */
function tlsEntries(tls: EtcdSettings['tls']): [string, string][] {
  if (tls === undefined) return [];
  return [
    ['ETCD_CERT_FILE', tls.certFile],
    ['ETCD_KEY_FILE', tls.keyFile],
    ['ETCD_TRUSTED_CA_FILE', tls.trustedCaFile],
    ['ETCD_CLIENT_CERT_AUTH', 'true'],
    ['ETCD_PEER_CERT_FILE', tls.certFile],
    ['ETCD_PEER_KEY_FILE', tls.keyFile],
    ['ETCD_PEER_TRUSTED_CA_FILE', tls.trustedCaFile],
    ['ETCD_PEER_CLIENT_CERT_AUTH', 'true'],
  ];
}

/** `KEY="value"` lines, valid both for a POSIX shell (`set -a; . file`) and a systemd EnvironmentFile. */
export function renderEnv(settings: EtcdSettings): string {
  return settingsEntries(settings)
    .map(([key, value]) => `${key}="${escapeDoubleQuoted(key, value)}"\n`)
    .join('');
}

export interface DropinOptions {
  /** A unit the etcd unit must start after and require (the original's `elastic-etcd.service`); none if omitted. */
  readonly requires?: string;
  /** Commands systemd runs after etcd started, e.g. the learner promotion. */
  readonly execStartPost?: readonly string[];
}

/** A systemd drop-in for the etcd unit. */
export function renderDropin(settings: EtcdSettings, options: DropinOptions = {}): string {
  const lines: string[] = ['# Written by elastic-etcd; rewritten on every run.'];
  if (options.requires !== undefined) {
    const unit = systemdUnitName(options.requires);
    lines.push('[Unit]', `After=${unit}`, `Requires=${unit}`, '');
  }
  lines.push('[Service]');
  for (const [key, value] of settingsEntries(settings)) {
    lines.push(`Environment="${escapeSystemd(key, `${key}=${value}`)}"`);
  }
  for (const command of options.execStartPost ?? []) {
    lines.push(`ExecStartPost=${escapeSystemdCommand(command)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One line of `--flag=value` tokens for unquoted command substitution: `etcd $(elastic-etcd -o flags ...)`. */
export function renderFlags(settings: EtcdSettings): string {
  const tokens = settingsEntries(settings).map(([key, value]) => {
    if (/[\s'"\\$`;&|<>(){}*?[\]!#~]/.test(value)) {
      throw new RenderError(
        `${key} value ${JSON.stringify(value)} cannot be passed through unquoted command substitution; use -o env or -o dropin`,
      );
    }
    return `--${key.slice('ETCD_'.length).toLowerCase().replaceAll('_', '-')}=${value}`;
  });
  return `${tokens.join(' ')}\n`;
}

/** The whole plan as JSON; member IDs as both hex (discovery, etcdctl) and decimal (v3 API) strings. */
export function renderJson(plan: Plan): string {
  const member = (m: Member): Record<string, unknown> => ({
    id: memberIdToHex(m.id),
    idDecimal: memberIdToDecimal(m.id),
    name: m.name,
    peerURLs: m.peerURLs,
    isLearner: m.isLearner,
  });
  const body: Record<string, unknown> = { kind: plan.kind };
  switch (plan.kind) {
    case 'refuse':
      Object.assign(body, { code: plan.code, message: plan.message, checks: plan.checks ?? [] });
      break;
    case 'bootstrap':
      Object.assign(body, { reason: plan.reason, settings: plan.settings, env: Object.fromEntries(settingsEntries(plan.settings)) });
      break;
    case 'resume':
      Object.assign(body, {
        reason: plan.reason,
        promote: plan.promote,
        updatePeerURLs:
          plan.updatePeerURLs === undefined
            ? undefined
            : { member: member(plan.updatePeerURLs.member), peerURLs: plan.updatePeerURLs.peerURLs },
        settings: plan.settings,
        env: Object.fromEntries(settingsEntries(plan.settings)),
      });
      break;
    case 'join':
      Object.assign(body, {
        reason: plan.reason,
        removals: plan.removals.map((r) => ({ member: member(r.member), reason: r.reason })),
        admission: plan.admission.kind === 'add' ? plan.admission : { kind: 'reuse', member: member(plan.admission.member) },
        promote: plan.promote,
        checks: plan.checks,
        settings: plan.settings,
        env: Object.fromEntries(settingsEntries(plan.settings)),
      });
      break;
  }
  return `${JSON.stringify(body, null, 2)}\n`;
}

/**
 * render writes `settings` as etcd reads them: `env` (an EnvironmentFile), `dropin` (a systemd drop-in for the
 * etcd unit, with the unit dependency and ExecStartPost commands `dropin` asks for) or `flags` (one line of
 * flags for command substitution). Pure and deterministic: the same settings give the same bytes.
 *
 * @throws RenderError when a value cannot be carried by the format (a control character anywhere, shell
 *   metacharacters in `flags`, an invalid unit name).
 */
export function render(format: Exclude<OutputFormat, 'json'>, settings: EtcdSettings, dropin?: DropinOptions): string {
  switch (format) {
    case 'env':
      return renderEnv(settings);
    case 'dropin':
      return renderDropin(settings, dropin);
    case 'flags':
      return renderFlags(settings);
  }
}

// Inside double quotes, POSIX sh and systemd's EnvironmentFile parser both unescape exactly \\ \" \$ \`.
function escapeDoubleQuoted(key: string, value: string): string {
  rejectControlCharacters(key, value);
  return value.replace(/[\\"$`]/g, (c) => `\\${c}`);
}

// In Environment="...", systemd unquotes C-style (\\ and \") and expands % specifiers, so % must be %%.
function escapeSystemd(key: string, assignment: string): string {
  rejectControlCharacters(key, assignment);
  return assignment.replace(/[\\"]/g, (c) => `\\${c}`).replaceAll('%', '%%');
}

function escapeSystemdCommand(command: string): string {
  rejectControlCharacters('ExecStartPost', command);
  return command.replaceAll('%', '%%');
}

function systemdUnitName(unit: string): string {
  if (!/^[A-Za-z0-9:_.@-]+\.(service|target|mount)$/.test(unit)) {
    throw new RenderError(`invalid systemd unit name ${JSON.stringify(unit)}`);
  }
  return unit;
}

function rejectControlCharacters(key: string, value: string): void {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we look for
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new RenderError(`${key} contains a control character (e.g. a newline), which no output format can carry`);
  }
}
