// The CLI's run time: `--help`, and a `--dry-run` join against a real 3-member cluster formed through a local
// discovery service (observe + plan, no change). Run from source (tsx) and, when it builds, from the tsc
// output that `npm run build` produces (the installed `elastic-etcd` binary).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createCluster, peerURLOf, type EtcdCluster } from '../test/harness/index.js';
import { REPO_ROOT as ROOT, runProcess } from '../test/harness/cli.js';

/** Where the bench compiles the CLI: inside the repository (for node_modules), ignored by git. */
const BUILD_DIR = join(ROOT, '.tmp', 'bench-build');

/** Compiles src/ with tsconfig.build.json into a scratch dir; undefined (with the reason) if that fails. */
export async function buildCli(): Promise<{ command: readonly string[] } | { error: string }> {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = await runProcess([process.execPath, tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD_DIR], {
    timeoutMs: 180_000,
    env: process.env,
  });
  const entry = join(BUILD_DIR, 'src', 'cli', 'main.js');
  // tsc emits even with type errors elsewhere; the build counts if the entry point exists.
  if (!existsSync(entry)) return { error: `tsc produced no ${entry}: ${run.stdout}${run.stderr}`.slice(0, 2000) };
  return { command: [process.execPath, entry] };
}

export function removeCliBuild(): void {
  rmSync(BUILD_DIR, { recursive: true, force: true });
}

/** Three members bootstrapped through the real discovery service, and the flags of a fourth node's dry run. */
export interface DryRunTarget {
  readonly sandbox: EtcdCluster;
  readonly args: readonly string[];
}

export async function startDryRunTarget(): Promise<DryRunTarget> {
  const sandbox = createCluster();
  try {
    const discovery = await sandbox.startDiscoveryService();
    const url = await discovery.newDiscoveryURL(3);
    const members = await Promise.all(
      ['m1', 'm2', 'm3'].map((name) => sandbox.startMember({ settings: { ETCD_NAME: name, ETCD_DISCOVERY: url }, wait: 'none' })),
    );
    await Promise.all(members.map((m) => m.waitReady()));
    const ip = await sandbox.allocateIp();
    const dataDir = join(sandbox.dir, 'n4.data');
    mkdirSync(dataDir, { recursive: true });
    return {
      sandbox,
      args: [
        '--dry-run',
        '-o',
        'json',
        `--discovery=${url}`,
        '--name=n4',
        `--initial-advertise-peer-urls=${peerURLOf(ip)}`,
        `--data-dir=${dataDir}`,
        '--cluster-size=5',
      ],
    };
  } catch (err) {
    await sandbox.close();
    throw err;
  }
}

/** One timed CLI run that must succeed; a dry run must print a join plan. */
export async function timeCli(command: readonly string[], args: readonly string[], expectPlan: boolean): Promise<number> {
  const run = await runProcess([...command, ...args]);
  if (run.code !== 0) throw new Error(`elastic-etcd ${args.join(' ')} exited ${run.code}:\n${run.stderr}`);
  if (expectPlan) {
    const plan = JSON.parse(run.stdout) as { kind?: unknown };
    if (plan.kind !== 'join') throw new Error(`the dry run planned ${JSON.stringify(plan.kind)}, expected a join:\n${run.stdout}`);
  }
  return run.ms;
}
