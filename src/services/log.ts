// The logging port the services use. The CLI implements it with human lines on stderr and glog-like
// verbosity; the Lambda with structured JSON. Services never print.

export type LogFields = Record<string, unknown>;

export interface Logger {
  /** Detail, shown when the verbosity is at least `level` (glog's V(level)). */
  debug(level: number, message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
