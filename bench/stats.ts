// Small, dependency-free statistics and formatting for the benchmark figures.

/** One measured figure: every sample, and the median the table shows. */
export interface Figure {
  readonly id: string;
  readonly label: string;
  readonly unit: 'ms' | 'bytes';
  readonly samples: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Why a figure is missing or how to read it. */
  readonly note?: string;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function figure(id: string, label: string, unit: Figure['unit'], samples: readonly number[], note?: string): Figure {
  const rounded = samples.map((s) => Math.round(s * 10) / 10);
  return {
    id,
    label,
    unit,
    samples: rounded,
    median: Math.round(median(rounded) * 10) / 10,
    min: rounded.length === 0 ? Number.NaN : Math.min(...rounded),
    max: rounded.length === 0 ? Number.NaN : Math.max(...rounded),
    ...(note === undefined ? {} : { note }),
  };
}

function formatValue(value: number, unit: Figure['unit']): string {
  if (Number.isNaN(value)) return '-';
  if (unit === 'bytes') return value >= 1024 * 1024 ? `${(value / 1024 / 1024).toFixed(2)} MiB` : `${(value / 1024).toFixed(1)} KiB`;
  if (value >= 10_000) return `${(value / 1000).toFixed(2)} s`;
  return value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`;
}

/** A plain-text table: label, median, min-max, number of runs. */
export function renderTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.label,
    formatValue(f.median, f.unit),
    f.samples.length > 1 ? `${formatValue(f.min, f.unit)} - ${formatValue(f.max, f.unit)}` : '',
    String(f.samples.length),
  ]);
  const header = ['figure', 'median', 'range', 'runs'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
