/** Small helpers for benchmarks: CLI flags, a plain table, robust summaries. */

/** `--name value` flags with defaults; numbers are parsed when the default is a number. */
export function flags<T extends Record<string, string | number>>(defaults: T, argv: readonly string[] = process.argv.slice(2)): T {
  const out: Record<string, string | number> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const key = arg.slice(2).replace(/-/g, '_');
    if (!(key in defaults)) throw new Error(`unknown flag ${arg}; known: ${Object.keys(defaults).map((k) => `--${k.replace(/_/g, '-')}`).join(' ')}`);
    const value = argv[++i];
    if (value === undefined) throw new Error(`flag ${arg} needs a value`);
    out[key] = typeof defaults[key] === 'number' ? Number(value) : value;
    if (typeof out[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`flag ${arg} needs a number, got ${value}`);
  }
  return out as T;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function table(rows: readonly Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : (v ?? ''));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i]!)).join('  ');
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
