// Running the real CLI (or any program) as a child process, for the CLI's end-to-end tests and the bench: bounded,
// never throwing on a non-zero exit, without the ambient ETCD* and ELASTIC_ETCD* variables that would change what
// is tested, and timed.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_ENTRY = join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** An absolute loader URL, so the CLI (and the promote command it writes) runs from any working dir. */
export const TSX_LOADER = import.meta.resolve('tsx');
/** The program run from source, as a shell or systemd would call it. */
export const CLI_COMMAND: readonly string[] = [process.execPath, '--import', TSX_LOADER, CLI_ENTRY];

export interface ProcessRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** From the spawn to the exit. */
  readonly ms: number;
}

/** The environment without ambient ETCD and ELASTIC_ETCD variables, which would change what is tested. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD') && !key.startsWith('ELASTIC_ETCD')),
  );
  return { ...inherited, ...extra };
}

/**
 * Runs `argv` to completion in the repository's root, killed after `timeoutMs` (default 60 s); the exit code is -1
 * when it did not exit on its own. `env` replaces the environment (default: {@link cleanEnv}).
 */
export function runProcess(argv: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ProcessRun> {
  const [program, ...args] = argv;
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      program ?? process.execPath,
      args,
      {
        cwd: REPO_ROOT,
        env: options.env ?? cleanEnv(),
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

/** Runs `elastic-etcd <args>` (from source unless `command` says otherwise) with `env` added to {@link cleanEnv}. */
export function runCli(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>>; timeoutMs?: number; command?: readonly string[] } = {},
): Promise<ProcessRun> {
  return runProcess([...(options.command ?? CLI_COMMAND), ...args], {
    env: cleanEnv(options.env),
    timeoutMs: options.timeoutMs ?? 120_000,
  });
}
