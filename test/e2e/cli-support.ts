// Shared by the CLI end-to-end tests: run the real CLI as a child process, read its three output formats
// back into what etcd takes, and wait on the resulting cluster through etcdctl.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { etcdctlMemberList, pollUntil, type EtcdctlMember } from '../harness/index.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_ENTRY = join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** An absolute loader URL, so the CLI (and the promote command it writes) runs from any working dir. */
export const TSX_LOADER = import.meta.resolve('tsx');
/** The program as a shell or systemd would call it. */
export const CLI_COMMAND: readonly string[] = [process.execPath, '--import', TSX_LOADER, CLI_ENTRY];

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment without ambient ETCD and ELASTIC_ETCD variables, which would change what is tested. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD') && !key.startsWith('ELASTIC_ETCD')));
  return { ...inherited, ...extra };
}

/** Runs `elastic-etcd <args>` to completion (bounded); never throws on a non-zero exit. */
export function runCli(args: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number; command?: readonly string[] } = {}): Promise<CliRun> {
  const [program, ...leading] = options.command ?? CLI_COMMAND;
  return new Promise((resolve) => {
    execFile(
      program ?? process.execPath,
      [...leading, ...args],
      { env: cleanEnv(options.env), cwd: REPO_ROOT, timeout: options.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Fails with the CLI's stderr unless it exited with `expected`. */
export function expectExit(run: CliRun, expected: number, what: string): CliRun {
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

/** A systemd drop-in (-o dropin) as etcd environment variables plus its ExecStartPost commands. */
export function parseDropin(text: string): { settings: Record<string, string>; execStartPost: string[]; requires: string[] } {
  const settings: Record<string, string> = {};
  const execStartPost: string[] = [];
  const requires: string[] = [];
  for (const line of text.split('\n')) {
    const env = /^Environment="([A-Z_]+)=((?:[^"\\]|\\.)*)"$/.exec(line);
    if (env !== null) settings[env[1] ?? ''] = (env[2] ?? '').replace(/\\(.)/g, '$1').replaceAll('%%', '%');
    if (line.startsWith('ExecStartPost=')) execStartPost.push(line.slice('ExecStartPost='.length).replaceAll('%%', '%'));
    if (line.startsWith('Requires=')) requires.push(line.slice('Requires='.length));
  }
  return { settings, execStartPost, requires };
}

/** Splits a systemd command line (double quotes with backslash escapes, $$ for $) into its words. */
export function splitSystemdCommand(command: string): string[] {
  const words: string[] = [];
  for (const match of command.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const word = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? '');
    words.push(word.replaceAll('$$', '$'));
  }
  return words;
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
        return voters.length === list.length && voters.map((m) => m.name).sort().join(',') === wanted ? list : undefined;
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
export async function promote(name: string, peerURL: string, discoveryURL: string): Promise<CliRun> {
  return expectExit(await runCli(['promote', `--name=${name}`, `--initial-advertise-peer-urls=${peerURL}`, `--discovery=${discoveryURL}`, '--timeout=60s']), 0, `promote ${name}`);
}
