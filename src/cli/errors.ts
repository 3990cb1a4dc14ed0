// Exit codes and the one-line messages the CLI ends with. Every failure maps to exactly one line on stderr
// that says what went wrong and what to do about it.

export const EXIT_OK = 0;
/** The join was refused, or a step failed: nothing on stdout. */
export const EXIT_FAILED = 1;
/** The command line or the environment is wrong: nothing on stdout. */
export const EXIT_USAGE = 2;

export const USAGE_HINT = 'run elastic-etcd --help for usage';

/** A problem with the flags, the ELASTIC_ETCD_* variables or the files they name. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** What the user should do; defaults to pointing at --help. */
    readonly hint: string = USAGE_HINT,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure after the arguments were accepted, already worded for the user. */
export class CommandFailedError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommandFailedError';
  }
}

/** "elastic-etcd: <what>; <what to do>" on one line, whatever the message contained. */
export function oneLine(message: string, hint: string): string {
  const flat = (text: string): string => text.replace(/\s+/g, ' ').trim();
  const advice = flat(hint);
  return `elastic-etcd: ${flat(message)}${advice === '' ? '' : `; ${advice}`}\n`;
}
