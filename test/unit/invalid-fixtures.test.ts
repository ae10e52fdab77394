// Every file in test/fixtures/invalid/ states the error it must produce in its first line:
// `# expect: CODE line N`. The loader must report that code at that line, with a field or a
// position, and say what was expected or how to fix it.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { loadSet } from '../support/schema.js';

const DIR = join(import.meta.dirname, '../fixtures/invalid');

function expectation(bytes: Buffer): { code: string; line: number } {
  // UTF-16 fixtures interleave NULs with the ASCII header; dropping them recovers it.
  const head = bytes.subarray(0, 400).toString('latin1').split(String.fromCharCode(0)).join('');
  const m = /# expect: ([A-Z_0-9]+) line (\d+)/.exec(head);
  if (!m) throw new Error('fixture lacks an `# expect: CODE line N` header');
  return { code: m[1]!, line: Number(m[2]) };
}

const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('invalid fixtures', () => {
  test('the corpus holds at least 60 fixtures', () => expect(fixtures.length).toBeGreaterThanOrEqual(60));

  test.each(fixtures)('%s', async (name) => {
    const path = join(DIR, name);
    const bytes = readFileSync(path);
    const want = expectation(bytes);
    const set = await loadSet({ [path]: new Uint8Array(bytes) });
    const errors = set.diagnostics.filter((d) => d.severity === 'error');
    const summary = errors.map((d) => `${d.code}@${d.source?.line}:${d.source?.column} ${d.summary}`).join('\n');
    expect({ match: errors.some((d) => d.code === want.code && d.source?.line === want.line), summary })
      .toEqual({ match: true, summary });
    for (const d of errors) {
      expect(d.source?.file).toBe(path);
      expect(d.source!.line).toBeGreaterThan(0);
      expect(d.source!.column).toBeGreaterThan(0);
      // What was expected, or how to fix it, is always said.
      expect(Boolean(d.hint || d.detail || /expected|must|needs|not |only|cannot|twice|already|missing|unknown|over the limit|more than|deeper|below|above|climbs|is less|is more/.test(d.summary))).toBe(true);
    }
    // Nothing invalid is handed downstream.
    expect(set.containers.map((c) => c.spec.name)).not.toContain(set.invalidNames[0] ?? '\u0000');
    expect(set.brokenFiles).toContain(path);
  });
});
