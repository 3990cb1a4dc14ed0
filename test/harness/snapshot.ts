// Snapshots for tests: taken over the JSON gateway, restored with the tool of the version the cluster reports
// (etcd 3.4: `etcdctl snapshot restore`; 3.5 moved the offline tools to `etcdutl`, and deprecated the former).
import { execFile } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { majorMinor } from '../../src/adapters/etcd/index.js';
import { etcdBinaries, type EtcdVersionName } from './versions.js';

/** Streams a snapshot from `clientURL` into `file` (the gateway answers newline-delimited base64 chunks). */
export async function saveSnapshot(clientURL: string, file: string): Promise<number> {
  const response = await fetch(`${clientURL}/v3/maintenance/snapshot`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(15_000) });
  if (!response.ok) throw new Error(`snapshot from ${clientURL} answered ${response.status}`);
  const chunks = (await response.text())
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as { result?: { blob?: string }; error?: unknown };
      if (parsed.result === undefined) throw new Error(`snapshot stream error: ${line.slice(0, 200)}`);
      return Buffer.from(parsed.result.blob ?? '', 'base64');
    });
  const data = Buffer.concat(chunks);
  writeFileSync(file, data);
  return data.length;
}

/** The offline tool that restores snapshots for an etcd server reporting `serverVersion` (from /version). */
export function restoreTool(serverVersion: string): {
  readonly version: EtcdVersionName;
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv;
} {
  const mm = majorMinor(serverVersion);
  if (mm === undefined) throw new Error(`cannot tell the restore tool from version ${JSON.stringify(serverVersion)}`);
  if (mm[0] === 3 && mm[1] === 4) return { version: '3.4', bin: etcdBinaries('3.4').etcdctl, env: { ETCDCTL_API: '3' } };
  if (mm[0] === 3 && mm[1] === 5) return { version: '3.5', bin: etcdBinaries('3.5').etcdutl ?? '', env: {} };
  throw new Error(`no restore tool for etcd ${serverVersion} here`);
}

export interface RestoreOptions {
  readonly name: string;
  readonly peerURL: string;
  readonly dataDir: string;
  readonly token: string;
}

/** Restores `file` into a new single-member data dir with the tool `restoreTool` picks; resolves with its output. */
export function restoreSnapshot(serverVersion: string, file: string, options: RestoreOptions): Promise<{ tool: string; output: string }> {
  const tool = restoreTool(serverVersion);
  const args = [
    'snapshot',
    'restore',
    file,
    `--name=${options.name}`,
    `--initial-cluster=${options.name}=${options.peerURL}`,
    `--initial-cluster-token=${options.token}`,
    `--initial-advertise-peer-urls=${options.peerURL}`,
    `--data-dir=${options.dataDir}`,
  ];
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')));
  return new Promise((resolve, reject) => {
    execFile(tool.bin, args, { env: { ...inherited, ...tool.env }, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${tool.bin} ${args.join(' ')} failed: ${stderr.trim()}`, { cause: error }));
      else resolve({ tool: tool.bin, output: `${stdout}${stderr}` });
    });
  });
}

export interface MemberRestoreOptions {
  readonly name: string;
  /** name=peerURL,... of the whole restore wave (the drop-in's ETCD_INITIAL_CLUSTER). */
  readonly initialCluster: string;
  readonly token: string;
  readonly peerURL: string;
  /** The member's data dir: the restore goes into a fresh directory beside it, renamed into place. */
  readonly dataDir: string;
}

/**
 * What a boot script does with a snapshot for one member of a restore wave: unless the data dir already holds
 * `member/` (a reboot after a restore: never restore over data), restores `file` with the tool of `version`
 * (3.5: etcdutl; 3.4: `etcdctl snapshot restore`) into a fresh directory beside the data dir, then renames it
 * into place. Resolves with whether it restored.
 */
export async function restoreMemberDataDir(version: EtcdVersionName, file: string, options: MemberRestoreOptions): Promise<boolean> {
  if (existsSync(join(options.dataDir, 'member'))) return false;
  const bins = etcdBinaries(version);
  const tool = bins.etcdutl !== undefined ? { bin: bins.etcdutl, env: {} } : { bin: bins.etcdctl, env: { ETCDCTL_API: '3' } };
  const fresh = join(dirname(options.dataDir), `.${basename(options.dataDir)}.restore`);
  rmSync(fresh, { recursive: true, force: true });
  const args = [
    'snapshot',
    'restore',
    file,
    `--name=${options.name}`,
    `--initial-cluster=${options.initialCluster}`,
    `--initial-cluster-token=${options.token}`,
    `--initial-advertise-peer-urls=${options.peerURL}`,
    `--data-dir=${fresh}`,
  ];
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')));
  await new Promise<void>((resolve, reject) => {
    execFile(tool.bin, args, { env: { ...inherited, ...tool.env }, timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error !== null) reject(new Error(`${basename(tool.bin)} snapshot restore failed: ${stderr.trim()}`, { cause: error }));
      else resolve();
    });
  });
  rmSync(options.dataDir, { recursive: true, force: true });
  renameSync(fresh, options.dataDir);
  return true;
}
