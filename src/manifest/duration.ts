// Go-style durations (`10s`, `1m30s`, `250ms`, `1.5h`), as Docker, Kubernetes and systemd users
// write them. Pure; no Node imports.

import type { ParseResult } from './quantity.js';

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
const PART_RE = /([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/y;
const EXPECTED = 'a duration such as `10s`, `1m30s` or `250ms` (units ns, us, ms, s, m, h)';

/** Largest duration accepted: 30 days. Longer timeouts are typos, and they overflow timers. */
export const MAX_DURATION_MS = 30 * 24 * 3600e3;

/** Parses a duration into whole milliseconds (rounded up, so `1us` is not zero). */
export function parseDurationMs(input: string): ParseResult<number> {
  if (/^[0-9]+(\.[0-9]+)?$/.test(input)) {
    return { ok: false, expected: EXPECTED, hint: `add a unit: \`${input}s\`` };
  }
  PART_RE.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = PART_RE.exec(input); m; m = PART_RE.exec(input)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = PART_RE.lastIndex;
  }
  if (consumed === 0 || consumed !== input.length) return { ok: false, expected: EXPECTED };
  const ms = Math.ceil(total);
  if (ms > MAX_DURATION_MS) return { ok: false, expected: `${EXPECTED}, at most 720h` };
  return { ok: true, value: ms };
}

/** Formats milliseconds the way the manifest would say it: 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3600e3], ['m', 60e3], ['s', 1e3]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return rest ? `${out}${rest}ms` : out;
}
