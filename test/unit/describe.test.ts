// The words of a plan for changed values: an env change names the variable, and a value too long to
// show whole is cut visibly (`…` and its length), never mid-string as if it were all of it.

import { describe, expect, test } from '@jest/globals';
import { describeDiff, describeValue } from '../../src/reconciler/plan/describe.js';
import type { FieldDiff } from '../../src/reconciler/plan/types.js';

const env = (vars: Record<string, string>) => Object.entries(vars).map(([name, value]) => ({ name, value }));
const envDiff = (before: Record<string, string> | null, after: Record<string, string> | null): FieldDiff => ({
  path: 'process.env', before: before === null ? null : env(before), after: after === null ? null : env(after), effect: 'restart',
});
const URL = 'postgres://app:secret@db.internal:5432/production?sslmode=require';

describe('env diffs', () => {
  test('a changed variable is named, with both values whole; the unchanged ones are left out', () => {
    expect(describeDiff(envDiff({ DATABASE_URL: URL, MODE: 'one' }, { DATABASE_URL: URL, MODE: 'two' }))).toBe('process.env.MODE: one → two');
  });

  test('added and removed variables say unset; an empty value is shown as ""', () => {
    expect(describeDiff(envDiff({ OLD: 'x', EMPTY: 'a' }, { EMPTY: '', NEW: URL }))).toBe(
      `process.env.EMPTY: a → ""; process.env.NEW: unset → ${URL}; process.env.OLD: x → unset`,
    );
    expect(describeDiff(envDiff(null, { A: '1' }))).toBe('process.env.A: unset → 1');
  });

  test('two long values that differ far in are shown around the difference, with their length', () => {
    const base = `https://example.com/${'segment/'.repeat(12)}`;
    const text = describeDiff(envDiff({ CALLBACK: `${base}v1` }, { CALLBACK: `${base}v2` }));
    const [before, after] = text.replace('process.env.CALLBACK: ', '').split(' → ');
    expect(before).toMatch(/^….*v1 \(118 chars\)$/);
    expect(after).toMatch(/^….*v2 \(118 chars\)$/);
    expect(before).not.toBe(after);
  });

  test('a value read from a secret is named by the secret, never shown', () => {
    const d: FieldDiff = {
      path: 'process.env', effect: 'restart',
      before: [{ name: 'DB_PASSWORD', value: 'hunter2' }],
      after: [{ name: 'DB_PASSWORD', value: '', secret: 'db' }],
    };
    expect(describeDiff(d)).toBe('process.env.DB_PASSWORD: hunter2 → from secret `db`');
  });

  test('a long new value is cut with `…` and its full length', () => {
    const long = 'x'.repeat(200);
    expect(describeDiff(envDiff({}, { BIG: long }))).toBe(`process.env.BIG: unset → ${'x'.repeat(60)}… (200 chars)`);
  });

  test('many changed variables: the first are named, the rest counted', () => {
    const after = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`V${String(i).padStart(2, '0')}`, String(i)]));
    const text = describeDiff(envDiff({}, after));
    expect(text).toContain('process.env.V07: unset → 7; and 3 more variables');
    expect(text).not.toContain('V08');
  });
});

describe('other values', () => {
  test('values up to 80 characters are shown whole', () => {
    const command = JSON.stringify(['/usr/bin/python3', '-m', 'http.server', '8080', '--bind', '0.0.0.0']);
    expect(command.length).toBeLessThanOrEqual(80);
    expect(describeValue('process.command', JSON.parse(command))).toBe(command);
  });

  test('a longer one is cut visibly, never inside a character', () => {
    const value = '🐄'.repeat(100);
    const shown = describeValue('hostname', value);
    expect(shown).toBe(`${'🐄'.repeat(60)}… (100 chars)`);
    expect(shown).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  test('units are kept for sizes and durations', () => {
    expect(describeDiff({ path: 'resources.memoryBytes', before: 268435456, after: null, effect: 'live' })).toBe('resources.memoryBytes: 256Mi → unset');
  });
});
