// The CLI as a function: argv, environment and I/O in, exit code out. main.ts wires it to the process.
import { helpText } from './help.js';
import { describeFailure } from './failure.js';
import { EXIT_OK, oneLine } from './errors.js';
import { runJoinCommand } from './join-command.js';
import { StderrLogger } from './logger.js';
import { parseCommandLine, type Environment } from './options.js';
import { runPromoteCommand } from './promote-command.js';
import { runRestoreCommandLine } from './restore-command.js';
import { runSnapshotCommandLine } from './snapshot-command.js';
import { runStatusCommandLine } from './status-command.js';
import { realDependencies, type CliDependencies, type CliIO } from './context.js';

export type { CliDependencies, CliIO } from './context.js';

/**
 * main runs one CLI invocation: parses `argv` and `env`, runs the command, and returns the process exit code
 * (0 success, 1 a refused or failed run or, for status, a degraded cluster, 2 a usage error). Writes only through `io`; every failure, input
 * errors included, becomes a one-line message with a hint on stderr, never a stack trace.
 */
export async function main(
  argv: readonly string[],
  env: Environment,
  io: CliIO,
  deps: CliDependencies = realDependencies,
): Promise<number> {
  try {
    // `snapshot`, `restore` and `status` have flags of their own (snapshot-command.ts, restore-command.ts,
    // status-command.ts); every other command goes through options.ts.
    if (argv[0] === 'snapshot') return await runSnapshotCommandLine(argv.slice(1), env, io, deps);
    if (argv[0] === 'restore') return await runRestoreCommandLine(argv.slice(1), env, io);
    if (argv[0] === 'status') return await runStatusCommandLine(argv.slice(1), env, io, deps);
    const command = await parseCommandLine(argv, env);
    if (command.kind === 'help') {
      // Asked for explicitly, so it is the output: stdout, exit 0.
      io.stdout(helpText(command.command));
      return EXIT_OK;
    }
    const log = new StderrLogger(io.stderr, command.options.verbosity);
    return command.kind === 'join'
      ? await runJoinCommand(command.options, deps, io, log)
      : await runPromoteCommand(command.options, deps, io, log);
  } catch (err) {
    const failure = describeFailure(err);
    io.stderr(oneLine(failure.message, failure.hint));
    return failure.exitCode;
  }
}
