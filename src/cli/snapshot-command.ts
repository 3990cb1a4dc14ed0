// `elastic-etcd snapshot --to FILE|-`: a verified snapshot of a running cluster, for a cron job or a systemd
// timer on machines outside AWS. The file appears under its name only once complete and verified (written to a
// temporary name beside it, synced, then renamed); with `-` stdout carries the snapshot's bytes and nothing else.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { parseMemberURLList } from '../core/urls.js';
import type { Logger } from '../services/log.js';
import { openSnapshot, SNAPSHOT_BUFFER_BYTES, SnapshotError, type SnapshotManifest } from '../services/snapshot.js';
import { CONNECTION_FLAGS, toEtcdConnection, userAuth } from './connection.js';
import type { CliDependencies, CliIO } from './context.js';
import { parseDurationMs } from './duration.js';
import { CommandFailedError, EXIT_OK, UsageError } from './errors.js';
import { StderrLogger } from './logger.js';
import type { Environment } from './options.js';
import { errorMessage } from '../core/errors.js';

export const SNAPSHOT_HELP = `usage: elastic-etcd snapshot --to FILE|- --endpoints URLS [options]

Takes a snapshot of the cluster reached at --endpoints (from a healthy follower when there is one), checks it
against etcd's own checksum, and writes it to FILE (only once complete: never a partial file under that name)
or, with "-", to stdout (the snapshot's bytes only). Logs its SHA-256, size, revision and cluster on stderr.

  --to FILE|-                   where the snapshot goes (required)
  --endpoints URLS              client URLs of members, comma-separated (required; ELASTIC_ETCD_ENDPOINTS)
  --command-timeout DURATION    bound for one request, and for each pause in the stream (default 15s)
  --health-timeout DURATION     bound for each member's status check when choosing the source (default 2s)
  --cacert FILE, --cert FILE, --key FILE, --insecure-skip-tls-verify, --user NAME[:PASSWORD], --password P
                                TLS and authentication, as for join (and ELASTIC_ETCD_* variables)
`;

const FLAGS = {
  to: { type: 'string' },
  endpoints: { type: 'string' },
  ...CONNECTION_FLAGS,
  help: { type: 'boolean', short: 'h' },
} as const;

export interface SnapshotCommandOptions {
  readonly to: string;
  readonly endpoints: readonly string[];
  readonly connection: Parameters<typeof toEtcdConnection>[0];
}

/** Parses `snapshot`'s arguments (flag > non-empty ELASTIC_ETCD_* variable); 'help' when asked for it. */
export function parseSnapshotCommandLine(argv: readonly string[], env: Environment): SnapshotCommandOptions | 'help' {
  let values: { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`snapshot: ${errorMessage(err)}`, 'run elastic-etcd snapshot --help for usage');
  }
  if (values.help === true) return 'help';
  const fromEnv = (name: string): string | undefined => {
    const raw = env[`ELASTIC_ETCD_${name.toUpperCase().replaceAll('-', '_')}`]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const value = (name: Exclude<keyof typeof FLAGS, 'help' | 'insecure-skip-tls-verify'>): string | undefined =>
    values[name] ?? (name === 'to' ? undefined : fromEnv(name));
  const to = value('to');
  if (to === undefined || to === '')
    throw new UsageError('snapshot needs --to FILE or --to - (stdout)', 'run elastic-etcd snapshot --help for usage');
  const rawEndpoints = value('endpoints');
  if (rawEndpoints === undefined)
    throw new UsageError(
      'snapshot needs --endpoints (client URLs of the cluster)',
      'pass --endpoints=http://10.0.0.1:2379,... or set ELASTIC_ETCD_ENDPOINTS',
    );
  let endpoints: string[];
  try {
    endpoints = parseMemberURLList(rawEndpoints);
  } catch (err) {
    throw new UsageError(`--endpoints: ${errorMessage(err)}`, 'pass client URLs such as http://10.0.0.1:2379, comma-separated');
  }
  const duration = (name: 'command-timeout' | 'health-timeout', fallback: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const ms = parseDurationMs(raw);
    if (ms === undefined)
      throw new UsageError(`--${name}=${JSON.stringify(raw)} is not a duration`, 'use a duration such as 500ms, 15s or 1m');
    return ms;
  };
  const auth = userAuth(value('user'), value('password'));
  const caFile = value('cacert');
  const certFile = value('cert');
  const keyFile = value('key');
  const insecure = values['insecure-skip-tls-verify'] ?? fromEnv('insecure-skip-tls-verify') === 'true';
  return {
    to,
    endpoints,
    connection: {
      endpoints,
      clientPort: 2379,
      commandTimeoutMs: duration('command-timeout', 15_000),
      healthTimeoutMs: duration('health-timeout', 2_000),
      insecureSkipTlsVerify: insecure,
      ...(caFile !== undefined && { caFile }),
      ...(certFile !== undefined && { certFile }),
      ...(keyFile !== undefined && { keyFile }),
      ...(auth !== undefined && { auth }),
    },
  };
}

/** Runs `elastic-etcd snapshot`; `stdoutBytes` receives the snapshot with `--to -` (default: process.stdout). */
export async function runSnapshotCommandLine(
  argv: readonly string[],
  env: Environment,
  io: CliIO & { readonly stdoutBytes?: Writable },
  deps: CliDependencies,
): Promise<number> {
  const options = parseSnapshotCommandLine(argv, env);
  if (options === 'help') {
    io.stdout(SNAPSHOT_HELP);
    return EXIT_OK;
  }
  const log = new StderrLogger(io.stderr, 0);
  const connection = await toEtcdConnection(options.connection, deps);
  const manifest = await writeSnapshot(options.to, io.stdoutBytes ?? process.stdout, log, async () =>
    openSnapshot({
      endpoints: options.endpoints,
      connection,
      log,
      idleTimeoutMs: connection.requestTimeoutMs,
      ...(io.signal !== undefined && { signal: io.signal }),
    }),
  );
  log.info('snapshot verified', { ...manifest, to: options.to });
  return EXIT_OK;
}

async function writeSnapshot(
  to: string,
  stdout: Writable,
  log: Logger,
  open: () => ReturnType<typeof openSnapshot>,
): Promise<SnapshotManifest> {
  let snapshot: Awaited<ReturnType<typeof openSnapshot>>;
  try {
    snapshot = await open();
  } catch (err) {
    throw failed(err, `nothing was written to ${to === '-' ? 'stdout' : to}`);
  }
  if (to === '-') {
    try {
      await pipeline(snapshot.bytes, stdout, { end: false });
      return await snapshot.manifest;
    } catch (err) {
      throw failed(err, 'stdout received a snapshot that is incomplete or damaged: discard it');
    }
  }
  const temporary = join(dirname(to), `.${basename(to)}.partial-${randomBytes(4).toString('hex')}`);
  try {
    const file = createWriteStream(temporary, { flags: 'wx', mode: 0o600, flush: true, highWaterMark: SNAPSHOT_BUFFER_BYTES });
    await pipeline(snapshot.bytes, file);
    const manifest = await snapshot.manifest;
    await rename(temporary, to);
    return manifest;
  } catch (err) {
    await rm(temporary, { force: true });
    log.debug(1, 'removed the partial snapshot', { temporary });
    throw failed(err, `nothing was written to ${to}`);
  }
}

function failed(err: unknown, what: string): Error {
  if (err instanceof SnapshotError) return new CommandFailedError(`snapshot: ${err.message}`, what, { cause: err });
  if (err instanceof UsageError || err instanceof CommandFailedError) return err;
  const message = errorMessage(err);
  return new CommandFailedError(`snapshot failed: ${message}`, what, { cause: err });
}
