// The world's timeline, printed as it happens: one line per entry. The demo and the chaos runner show it on
// stdout; the e2e tests print it on stderr when ELASTIC_ETCD_TIMELINE asks for it.
import type { WorldLogEntry, WorldOptions } from './world.js';

export interface TimelineOptions {
  /** Also show queue bookkeeping and the handler's own completions (otherwise only what matters). */
  readonly verbose?: boolean;
  /** Append each entry's details as JSON. */
  readonly details?: boolean;
  /** Where the lines go; default stdout. */
  readonly write?: (line: string) => void;
}

const SOURCE_LABEL: Record<WorldLogEntry['source'], string> = {
  world: 'world   ',
  group: 'group   ',
  queue: 'event   ',
  lambda: 'lambda  ',
  instance: 'instance',
};

/** JSON for log details, which carry member IDs as bigints (JSON.stringify alone throws on them). */
export function jsonWithBigints(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** One timeline line, e.g. `[  1.2s] lambda   decision launch i-0abc: join`. Queue noise only when verbose. */
export function printTimelineEntry(entry: WorldLogEntry, options: TimelineOptions = {}): void {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  if (options.verbose !== true && entry.source === 'queue' && !/dropped|duplicated|holding|released/.test(entry.message)) return;
  const at = `${(entry.at / 1000).toFixed(1)}s`.padStart(7);
  const details =
    options.details !== true || entry.details === undefined || Object.keys(entry.details).length === 0
      ? ''
      : ` ${jsonWithBigints(entry.details)}`;
  write(`[${at}] ${SOURCE_LABEL[entry.source]} ${entry.message}${details}\n`);
}

/**
 * For the e2e tests: the whole timeline with details on stderr when ELASTIC_ETCD_TIMELINE is 1 (decisions) or all
 * (every handler log line too), otherwise nothing.
 */
export function timelineFromEnv(): Pick<WorldOptions, 'onLog' | 'handlerLogs'> {
  const level = process.env.ELASTIC_ETCD_TIMELINE;
  if (level !== '1' && level !== 'all') return {};
  const onLog = (entry: WorldLogEntry) =>
    printTimelineEntry(entry, { verbose: true, details: true, write: (line) => process.stderr.write(line) });
  return level === 'all' ? { onLog, handlerLogs: 'all' } : { onLog };
}
