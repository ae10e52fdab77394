// The spawn-spec protocol: the C header is generated from the TS table, every field round-trips
// through the shim's decoder, and malformed messages are refused (never a crash).

import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { encodeSpawnSpec, toWire, type WireRecord, type WireValue } from '../../../src/drivers/namespaces/protocol.js';
import { renderFieldsHeader, SHIM_EXIT } from '../../../src/drivers/namespaces/protocol-fields.js';
import { shimPath } from '../../../src/drivers/namespaces/shim.js';
import { EXEC_SAMPLE, fuzzedSpecs, malformedSpecs, SAMPLE } from './samples.js';
import { checkSpec } from './shim-run.js';

const HEADER = new URL('../../../src/drivers/namespaces/shim/fields.h', import.meta.url);

/** The wire view as check-spec prints it: u64 as decimal strings, seccomp as its length. */
function asDumped(rec: WireRecord, kind: number): Record<string, unknown> {
  const conv = (k: string, v: WireValue): unknown => {
    if (typeof v === 'bigint') return String(v);
    if (v instanceof Uint8Array) return v.length;
    if (Array.isArray(v) && v.length && typeof v[0] === 'object') return (v as WireRecord[]).map((r) => asDumped(r, -1));
    if (k === 'OP_FLAGS' || k === 'OP_DEV') return String(v);
    return v;
  };
  const out: Record<string, unknown> = kind >= 0 ? { KIND: kind } : {};
  for (const [k, v] of Object.entries(rec)) out[k] = conv(k, v);
  return out;
}

describe('spawn-spec protocol', () => {
  test('shim/fields.h is generated from protocol-fields.ts', () => {
    const want = renderFieldsHeader();
    if (process.env['CORRAL_WRITE_FIELDS_H'] === '1') writeFileSync(HEADER, want);
    expect(readFileSync(HEADER, 'utf8')).toBe(want);
  });

  test('every field of a run spec round-trips through the shim', async () => {
    const r = await checkSpec(shimPath(), encodeSpawnSpec(SAMPLE));
    expect(r.status).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(asDumped(toWire(SAMPLE), 1));
  });

  test('every field of an exec spec round-trips through the shim', async () => {
    const r = await checkSpec(shimPath(), encodeSpawnSpec(EXEC_SAMPLE));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(asDumped(toWire(EXEC_SAMPLE), 2));
  });

  test('malformed messages are refused with a reason, never a crash', async () => {
    for (const c of malformedSpecs()) {
      const r = await checkSpec(shimPath(), c.bytes);
      expect({ name: c.name, code: r.code, signal: r.signal }).toEqual({ name: c.name, code: SHIM_EXIT.protocol, signal: null });
      const status = JSON.parse(r.status) as { type: string; stage: string; detail: string };
      expect(status.type).toBe('error');
      expect(status.stage).toBe('spec');
      expect(status.detail).toMatch(c.reason);
    }
  });

  test('random corruption never crashes the decoder', async () => {
    for (const bytes of fuzzedSpecs(150)) {
      const r = await checkSpec(shimPath(), bytes);
      expect(r.signal).toBeNull();
      expect([0, SHIM_EXIT.protocol]).toContain(r.code);
    }
  });
});
