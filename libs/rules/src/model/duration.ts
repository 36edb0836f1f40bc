import type { Duration } from './rule';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a rule duration (`30000`, `"30s"`, `"10m"`); NaN when malformed. */
export function durationMs(d: Duration): number {
  if (typeof d === 'number') return Number.isInteger(d) && d > 0 ? d : NaN;
  const m = /^([1-9][0-9]*)(ms|s|m|h|d)$/.exec(d);
  return m === null ? NaN : Number(m[1]) * UNIT_MS[m[2]];
}

/** A short human form of a duration in milliseconds, for alert messages (`"30m"`, `"1h30m"`, `"250ms"`). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}
