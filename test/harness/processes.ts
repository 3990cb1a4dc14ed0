// Child processes and temp dirs owned by the harness, with a safety net: whatever a test leaves behind
// (a failed assertion before close(), an uncaught error, a SIGTERM from the runner) is SIGKILLed and deleted
// when this test process ends. SIGSTOPped processes die from SIGKILL too; SIGCONT is sent first anyway.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';

const liveChildren = new Set<ChildProcess>();
const ownedDirs = new Set<string>();

export function registerDir(dir: string): void {
  ownedDirs.add(dir);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  ownedDirs.delete(dir);
}

function killAllSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  if (process.env.KEEP_ETCD_TEST_DIRS === undefined) {
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  }
  ownedDirs.clear();
}

process.on('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllSync();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

/** A process whose stdout and stderr go to a log file, so errors can quote its last lines. */
export class LoggedProcess {
  readonly pid: number;
  private readonly child: ChildProcess;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    command: string,
    args: readonly string[],
    options: { readonly env: NodeJS.ProcessEnv; readonly cwd: string; readonly logPath: string },
  ) {
    const logFd = openSync(options.logPath, 'a');
    try {
      this.child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd); // the child holds its own copy
    }
    if (this.child.pid === undefined) throw new Error(`could not start ${command}`);
    this.pid = this.child.pid;
    liveChildren.add(this.child);
    // Unreferenced, so a test that forgets close() still ends (and the exit hook kills the process).
    this.child.unref();
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        liveChildren.delete(this.child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    this.child.once('error', () => liveChildren.delete(this.child));
    this.logPath = options.logPath;
  }

  readonly logPath: string;

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exitDescription(): string {
    if (this.exitInfo === undefined) return 'running';
    return this.exitInfo.signal !== null ? `killed by ${this.exitInfo.signal}` : `exited with code ${String(this.exitInfo.code)}`;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL and wait until the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.ref(); // keep the event loop alive until the exit event arrives
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Waits for the process to exit on its own, within `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.ref();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`process ${this.pid} still running after ${timeoutMs} ms${this.logTail()}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (this.running) this.child.unref();
    }
  }

  /** The last lines of the log, formatted for an error message. */
  logTail(lines = 25): string {
    let text = '';
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
    const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
    return `\n--- last lines of ${this.logPath} ---\n${tail}`;
  }
}
