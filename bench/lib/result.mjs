// The one protocol between a bench and bench/run.mjs, and the statistics the benches share.
//
// A bench prints its table for people as it always did, then hands its figures over once with
// emitResult(): into the file named by env BENCH_RESULT_FILE when bench/run.mjs set it, otherwise as
// one last stdout line `BENCH-RESULT <json>`. The JSON (format 1, described in bench/results/README.md):
//   { format, bench, unit, rows: [{ tool, metric, median, p90, n, unit?, ... }], params, notes? }
// A row is one figure of one tool ("corral", "crun", ...) for one metric; `unit` on a row overrides
// the bench's. Figures measured once have n = 1 and p90 = median.

import { writeFileSync } from 'node:fs';

export const RESULT_FORMAT = 1;
export const RESULT_PREFIX = 'BENCH-RESULT ';

/** Nearest-rank quantiles (the definition bench/start.mjs and bench/reconcile.mjs have always used). */
export function stats(xs) {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const q = (p) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]);
  return { median: q(0.5), p90: q(0.9), n: s.length, min: s[0] ?? NaN, max: s.at(-1) ?? NaN };
}

const round = (x) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

/**
 * One result row from samples (an array) or a single figure (a number). `extra` may carry `unit`
 * and anything else worth keeping (a target, a note).
 */
export function row(tool, metric, samples, extra = {}) {
  if (typeof samples === 'number') return { tool, metric, median: round(samples), p90: round(samples), n: 1, ...extra };
  const s = stats(samples);
  return { tool, metric, median: round(s.median), p90: round(s.p90), n: s.n, ...extra };
}

/** Hands the result to bench/run.mjs (or prints it as the last line when run alone). */
export function emitResult({ bench, unit, rows, params = {}, notes = [] }) {
  const result = { format: RESULT_FORMAT, bench, unit, rows, params, notes };
  const file = process.env.BENCH_RESULT_FILE;
  if (file) writeFileSync(file, `${JSON.stringify(result)}\n`);
  else process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  return result;
}
