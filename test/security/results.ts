// The exploits' verdict lines (exploits/exploit.h): `RESULT <name> BLOCKED|ESCAPED|OK|BROKEN|… <detail>`.

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

const isEscape = (r: Result): boolean => r.verdict === 'ESCAPED' || r.verdict === 'PUSHED';

/**
 * Fails loudly, naming each escape, when any attempt got through; naming each positive control
 * that stopped working (BROKEN: contained, but the container lost something it must have); and
 * when an attempt expected to run did not report at all (an exploit that silently did nothing
 * proves nothing).
 */
export function expectContained(results: readonly Result[], expected: readonly string[] = []): void {
  expect(results.filter(isEscape).map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
  expect(results.filter((r) => r.verdict === 'BROKEN').map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
  const names = new Set(results.map((r) => r.name));
  expect(expected.filter((n) => !names.has(n))).toEqual([]);
}

export function verdictOf(results: readonly Result[], name: string): Result | undefined {
  return results.find((r) => r.name === name);
}

/**
 * Figures for the closing summary: one line per suite on stderr. `documented`: controls a test
 * set aside as a documented limit (e.g. mknod under a user namespace), counted apart.
 */
export function tally(suite: string, results: readonly Result[], documented: readonly Result[] = []): void {
  const judged = results.filter((r) => !documented.includes(r));
  const count = (verdict: string): number => judged.filter((r) => r.verdict === verdict).length;
  const apart = documented.length > 0 ? `, ${documented.length} controls refused as documented` : '';
  process.stderr.write(`attack suite ${suite}: ${judged.length} probes, ${count('BLOCKED')} blocked, ${judged.filter(isEscape).length} escaped, ${count('BROKEN')} controls broken${apart}\n`);
}
