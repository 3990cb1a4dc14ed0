// Shared by the CLI end-to-end tests: the CLI runner (test/harness/cli.ts), its env and flags outputs read back
// into what etcd takes (drop-ins: test/harness/systemd.ts), and waits on the resulting cluster through etcdctl.
import { etcdctlMemberList, pollUntil, type EtcdctlMember } from '../harness/index.js';
import { runCli, type ProcessRun } from '../harness/cli.js';

export { CLI_COMMAND, CLI_ENTRY, REPO_ROOT, TSX_LOADER, cleanEnv, runCli, type ProcessRun as CliRun } from '../harness/cli.js';

/** Fails with the CLI's stderr unless it exited with `expected`. */
export function expectExit(run: ProcessRun, expected: number, what: string): ProcessRun {
  if (run.code !== expected) {
    throw new Error(`${what}: expected exit ${expected}, got ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`);
  }
  return run;
}

/** `KEY="value"` lines (the -o env output) as etcd environment variables, undoing the shell escapes. */
export function parseEnvOutput(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of text.split('\n').filter((l) => l !== '')) {
    const match = /^([A-Z_]+)="((?:[^"\\]|\\.)*)"$/.exec(line);
    if (match === null) throw new Error(`not an env line: ${JSON.stringify(line)}`);
    settings[match[1] ?? ''] = (match[2] ?? '').replace(/\\(.)/g, '$1');
  }
  return settings;
}

/** The -o flags output as etcd's argv, exactly as unquoted `etcd $ELASTIC_PARAMS` splits it. */
export function flagsOf(text: string): string[] {
  return text.trim().split(/\s+/);
}

export async function members(endpoints: readonly string[]): Promise<EtcdctlMember[]> {
  return (await etcdctlMemberList(endpoints)).members;
}

/** Waits until the cluster reports exactly these member names, all started voters. */
export async function waitForVoters(endpoints: readonly string[], names: readonly string[], timeoutMs = 30_000): Promise<EtcdctlMember[]> {
  const wanted = [...names].sort().join(',');
  return pollUntil(
    async () => {
      try {
        const list = await members(endpoints);
        const voters = list.filter((m) => !m.isLearner && m.name !== '');
        return voters.length === list.length &&
          voters
            .map((m) => m.name)
            .sort()
            .join(',') === wanted
          ? list
          : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs, intervalMs: 250, what: `voting members ${wanted}` },
  );
}

/** The common flags of one node: its name, peer URL on `ip`, the discovery URL and an absolute data dir. */
export function nodeArgs(name: string, peerURL: string, discoveryURL: string, dataDir: string): string[] {
  return [`--name=${name}`, `--initial-advertise-peer-urls=${peerURL}`, `--discovery=${discoveryURL}`, `--data-dir=${dataDir}`];
}

/** `elastic-etcd promote` for a node, as the drop-in's ExecStartPost would run it. */
export async function promote(name: string, peerURL: string, discoveryURL: string): Promise<ProcessRun> {
  return expectExit(
    await runCli(['promote', `--name=${name}`, `--initial-advertise-peer-urls=${peerURL}`, `--discovery=${discoveryURL}`, '--timeout=60s']),
    0,
    `promote ${name}`,
  );
}
