// etcdctl (API v3) for assertions from outside our own code.
import { execFile } from 'node:child_process';
import { etcdctlTlsFlags, type TlsFiles } from './tls.js';
import { etcdBinaries, type EtcdVersionName } from './versions.js';

export interface EtcdctlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs etcdctl against `endpoints`; resolves with the exit code instead of throwing. */
export function etcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: { timeoutMs?: number; version?: EtcdVersionName; tls?: TlsFiles } = {},
): Promise<EtcdctlResult> {
  const bin = etcdBinaries(options.version).etcdctl;
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCDCTL')));
  return new Promise((resolve) => {
    execFile(
      bin,
      [
        `--endpoints=${endpoints.join(',')}`,
        '--dial-timeout=2s',
        '--command-timeout=5s',
        ...(options.tls === undefined ? [] : etcdctlTlsFlags(options.tls)),
        ...args,
      ],
      { env: { ...inherited, ETCDCTL_API: '3' }, timeout: options.timeoutMs ?? 15_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ exitCode: code, stdout, stderr });
      },
    );
  });
}

/** Like etcdctl(), but throws with etcdctl's stderr when it fails. */
export async function etcdctlOk(endpoints: readonly string[], args: readonly string[], options: { tls?: TlsFiles } = {}): Promise<string> {
  const result = await etcdctl(endpoints, args, options);
  if (result.exitCode !== 0) throw new Error(`etcdctl ${args.join(' ')} failed (${result.exitCode}): ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * JSON.parse for etcdctl's `-w json` output, whose uint64 IDs are bare JSON numbers above 2^53: integers of
 * 16 or more digits are quoted first so they survive as strings.
 */
export function parseEtcdctlJson(text: string): unknown {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

export interface EtcdctlMember {
  readonly id: bigint;
  readonly name: string;
  readonly peerURLs: string[];
  readonly clientURLs: string[];
  readonly isLearner: boolean;
}

function toBigInt(value: unknown): bigint {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new Error(`etcdctl printed an unexpected ID ${JSON.stringify(value)}`);
}

/** `etcdctl member list -w json`, IDs as bigint; also the cluster ID from the header. */
export async function etcdctlMemberList(
  endpoints: readonly string[],
  options: { tls?: TlsFiles } = {},
): Promise<{ clusterId: bigint; members: EtcdctlMember[] }> {
  const parsed = parseEtcdctlJson(await etcdctlOk(endpoints, ['member', 'list', '-w', 'json'], options)) as {
    header?: { cluster_id?: unknown };
    members?: { ID?: unknown; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }[];
  };
  return {
    clusterId: toBigInt(parsed.header?.cluster_id),
    members: (parsed.members ?? []).map((m) => ({
      id: toBigInt(m.ID),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
      clientURLs: m.clientURLs ?? [],
      isLearner: m.isLearner === true,
    })),
  };
}
