// Human-readable log lines on stderr with glog-like verbosity: info, warnings and errors always show (the
// original logged its main decisions at Info), debug lines of level N only with -v=N or more.
import type { LogFields, Logger } from '../services/log.js';

export type Write = (text: string) => void;

export class StderrLogger implements Logger {
  constructor(
    private readonly write: Write,
    private readonly verbosity: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  debug(level: number, message: string, fields?: LogFields): void {
    if (level <= this.verbosity) this.line('D', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.line('I', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.line('W', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.line('E', message, fields);
  }

  private line(severity: 'D' | 'I' | 'W' | 'E', message: string, fields: LogFields | undefined): void {
    // One event per line, so a stray newline in a message cannot forge a second entry.
    const text = `${message}${formatFields(fields)}`.replace(/[\r\n]+/g, ' ');
    this.write(`${severity} ${this.now().toISOString()} ${text}\n`);
  }
}

export function formatFields(fields: LogFields | undefined): string {
  if (fields === undefined) return '';
  const parts = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
}
