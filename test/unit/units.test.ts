import { describe, expect, test } from '@jest/globals';
import { formatDuration, parseDurationMs } from '../../src/manifest/duration.js';
import { formatBytes, formatCpuList, parseBytes, parseCpuList, parseCpuMillis } from '../../src/manifest/quantity.js';
import { parseSignal } from '../../src/manifest/signal.js';
import { closest, editDistance } from '../../src/manifest/suggest.js';

const ok = <T>(r: { ok: boolean; value?: T }) => (r.ok ? r.value : 'ERR');

describe('parseBytes', () => {
  test.each([
    ['256Mi', 256 * 2 ** 20], ['1G', 1e9], ['1Gi', 2 ** 30], ['1048576', 1048576], [1048576, 1048576],
    ['1.5Ki', 1536], ['0.5k', 500], ['10Mi', 10 * 2 ** 20], ['1K', 1000], ['0', 0], ['1.0001', 2],
  ])('%s → %d', (input, bytes) => expect(ok(parseBytes(input))).toBe(bytes));

  test.each(['512m', '1GB', '1GiB', '1 Gi', '-1', 'lots', '', ' 1Mi', '1e3', '0x10', '1.5.5Mi'])('refuses %s', (input) => {
    expect(parseBytes(input).ok).toBe(false);
  });

  test('milli suffix gets a Docker-user hint', () => {
    const r = parseBytes('512m');
    expect(!r.ok && r.hint).toMatch(/512Mi/);
  });

  test('refuses values past 2^53', () => expect(parseBytes('9Ei').ok).toBe(false));
  test('formatBytes picks the largest exact unit', () => {
    expect(formatBytes(256 * 2 ** 20)).toBe('256Mi');
    expect(formatBytes(1000)).toBe('1000');
    expect(formatBytes(2 ** 30 + 1024)).toBe('1048577Ki');
  });
});

describe('parseCpuMillis', () => {
  test.each([['500m', 500], ['0.5', 500], [0.5, 500], [2, 2000], ['2', 2000], ['1m', 1], [0.0001, 1], ['1.25', 1250]])(
    '%s → %d millicores', (input, millis) => expect(ok(parseCpuMillis(input))).toBe(millis));
  test.each(['0', 0, -1, '1 core', '500M', '2000', 'half', 1025])('refuses %s', (input) => expect(parseCpuMillis(input).ok).toBe(false));
});

describe('cpu lists', () => {
  test('parses and canonicalizes', () => {
    expect(ok(parseCpuList('0-2,5,1'))).toEqual([0, 1, 2, 5]);
    expect(formatCpuList([0, 1, 2, 5, 7, 8])).toBe('0-2,5,7-8');
  });
  test.each(['2-1', 'a', '0,,1', '0-', '9000'])('refuses %s', (input) => expect(parseCpuList(input).ok).toBe(false));
});

describe('durations', () => {
  test.each([['10s', 10000], ['1m30s', 90000], ['250ms', 250], ['1.5h', 5400000], ['1us', 1], ['0s', 0], ['2h45m', 9900000]])(
    '%s → %d ms', (input, ms) => expect(ok(parseDurationMs(input))).toBe(ms));
  test.each(['10', '10 s', 's', '1d', '-1s', '1s2', '', '10S'])('refuses %s', (input) => expect(parseDurationMs(input).ok).toBe(false));
  test('a bare number gets a hint to add a unit', () => {
    const r = parseDurationMs('10');
    expect(!r.ok && r.hint).toBe('add a unit: `10s`');
  });
  test('refuses more than 30 days', () => expect(parseDurationMs('721h').ok).toBe(false));
  test('formats back', () => {
    expect(formatDuration(90000)).toBe('1m30s');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('signals', () => {
  test.each([['SIGTERM', 15], ['TERM', 15], ['term', 15], ['9', 9], [9, 9], ['SIGRTMIN+3', 37], ['SIGRTMAX', 64], [40, 40]])(
    '%s → %d', (input, n) => expect((ok(parseSignal(input)) as { number: number }).number).toBe(n));
  test('a number maps to its name', () => expect((ok(parseSignal(15)) as { name: string }).name).toBe('SIGTERM'));
  test.each(['SIGFOO', 0, 65, 32, '-1', 'SIGRTMIN+40'])('refuses %s', (input) => expect(parseSignal(input).ok).toBe(false));
});

describe('suggestions', () => {
  test('transpositions cost one edit', () => expect(editDistance('memroy', 'memory')).toBe(1));
  test('finds the closest field', () => expect(closest('memroy', ['memory', 'memorySwap', 'cpus'])).toBe('memory'));
  test('case-insensitive match wins', () => expect(closest('readonly', ['readOnly', 'recursive'])).toBe('readOnly'));
  test('nothing when nothing is close', () => expect(closest('banana', ['memory', 'cpus'])).toBeUndefined());
});
