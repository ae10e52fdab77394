// The exploits' verdict lines (exploits/exploit.h): `RESULT <name> BLOCKED|ESCAPED|OK|… <detail>`.

import { expect } from '@jest/globals';

export interface Result {
  readonly name: string;
  readonly verdict: string;
  readonly detail: string;
}

export function parseResults(output: string): Result[] {
  const out: Result[] = [];
  for (const line of output.split('\n')) {
    const m = /^RESULT (\S+) (\S+) ?(.*)$/.exec(line.trim());
    if (m) out.push({ name: m[1]!, verdict: m[2]!, detail: m[3]! });
  }
  return out;
}

/**
 * Fails loudly, naming each escape, when any attempt got through; and when an attempt expected to
 * run did not report at all (an exploit that silently did nothing proves nothing).
 */
export function expectContained(results: readonly Result[], expected: readonly string[] = []): void {
  const escaped = results.filter((r) => r.verdict === 'ESCAPED' || r.verdict === 'PUSHED');
  expect(escaped.map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
  const names = new Set(results.map((r) => r.name));
  expect(expected.filter((n) => !names.has(n))).toEqual([]);
}

export function verdictOf(results: readonly Result[], name: string): Result | undefined {
  return results.find((r) => r.name === name);
}

/** Figures for the closing summary: one line per suite on stderr. */
export function tally(suite: string, results: readonly Result[]): void {
  const blocked = results.filter((r) => r.verdict === 'BLOCKED').length;
  process.stderr.write(`attack suite ${suite}: ${results.length} probes, ${blocked} blocked, ${results.filter((r) => r.verdict === 'ESCAPED' || r.verdict === 'PUSHED').length} escaped\n`);
}
