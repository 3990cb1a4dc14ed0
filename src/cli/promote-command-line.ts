// The command the drop-in runs after etcd started (ExecStartPost) to promote this node's learner: this same
// program with the same connection flags. The password is deliberately left out: a drop-in is readable by
// anyone on the host, so `promote` takes it from ELASTIC_ETCD_PASSWORD in the etcd unit's environment.
import { DEFAULTS, type JoinOptions } from './options.js';
import { formatDuration } from './duration.js';

export function promoteArguments(options: JoinOptions): string[] {
  const c = options.connection;
  return [
    'promote',
    `--name=${options.self.name}`,
    `--initial-advertise-peer-urls=${options.self.peerURLs.join(',')}`,
    `--discovery=${options.discoveryURL}`,
    ...(c.endpoints.length > 0 ? [`--endpoints=${c.endpoints.join(',')}`] : []),
    ...(c.clientPort !== DEFAULTS.clientPort ? [`--client-port=${c.clientPort}`] : []),
    ...(c.caFile !== undefined ? [`--cacert=${c.caFile}`] : []),
    ...(c.certFile !== undefined ? [`--cert=${c.certFile}`] : []),
    ...(c.keyFile !== undefined ? [`--key=${c.keyFile}`] : []),
    ...(c.insecureSkipTlsVerify ? ['--insecure-skip-tls-verify'] : []),
    ...(c.auth !== undefined ? [`--user=${c.auth.username}`] : []),
    ...(c.healthTimeoutMs !== DEFAULTS.healthTimeoutMs ? [`--health-timeout=${formatDuration(c.healthTimeoutMs)}`] : []),
    ...(c.commandTimeoutMs !== DEFAULTS.commandTimeoutMs ? [`--command-timeout=${formatDuration(c.commandTimeoutMs)}`] : []),
    ...(options.verbosity > 0 ? [`-v=${options.verbosity}`] : []),
  ];
}

/** One systemd command line (without the leading '-'); the renderer escapes '%' itself. */
export function promoteCommandLine(options: JoinOptions, selfCommand: readonly string[]): string {
  return [...selfCommand, ...promoteArguments(options)].map(quoteForSystemd).join(' ');
}

/** systemd splits Exec lines on whitespace, honours double quotes with C escapes, and expands $VAR ($$ is a $). */
export function quoteForSystemd(arg: string): string {
  const dollarsEscaped = arg.replaceAll('$', '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(dollarsEscaped) && dollarsEscaped !== ';') return dollarsEscaped;
  return `"${dollarsEscaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
