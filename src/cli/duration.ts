// Go-style durations as etcdctl takes them ("500ms", "2s", "1m30s", "5m"), in milliseconds.

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
/** Longer than any sensible wait, and safely inside setTimeout's 32-bit range. */
const MAX_DURATION_MS = 24 * 3_600_000;

/** Parses a positive duration; undefined when the text is not one (the caller words the error). */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
  }
  const ms = Math.round(total);
  return Number.isFinite(ms) && ms > 0 && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** The shortest Go-style spelling of a duration, for help and logs. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
