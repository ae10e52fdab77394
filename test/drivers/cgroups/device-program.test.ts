// Device allow-lists without a kernel: the eBPF program's exact bytes, its behaviour (run by a
// small interpreter of the opcodes it uses, against the rules read literally), and the order of
// v1 writes for a live update.

import { describe, expect, test } from '@jest/globals';
import { deviceProgram, deviceProgramBytes, programTags } from '../../../src/drivers/cgroups/device-program.js';
import { describePolicy, formatV1Rule, normalizeRules, parseV1List, samePolicy, v1Writes } from '../../../src/drivers/cgroups/device-rules.js';
import { encode } from '../../../src/drivers/cgroups/ebpf.js';
import type { DevicePolicy, DeviceRule } from '../../../src/drivers/cgroups/types.js';
import { hasCode } from '../../../src/errors.js';
import { DEFAULT_POLICY, DEFAULT_RULES } from './support.js';

const rule = (type: 'c' | 'b', major: number | null, minor: number | null, access: string): DeviceRule => ({ type, major, minor, access });
const list = (...rules: DeviceRule[]): DevicePolicy => ({ allowAll: false, rules });

/** Runs a device program on one access, as the kernel would: 1 allows, 0 denies. */
function run(bytes: Uint8Array, ctx: { type: number; access: number; major: number; minor: number }): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields = [(ctx.access << 16) | ctx.type, ctx.major, ctx.minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    const at = pc * 8;
    const code = view.getUint8(at);
    const dst = view.getUint8(at + 1) & 0xf;
    const src = view.getUint8(at + 1) >> 4;
    const off = view.getInt16(at + 2, true);
    const imm = view.getInt32(at + 4, true);
    pc++;
    switch (code) {
      case 0x61: // ldxw from the context (r1)
        expect(src).toBe(1);
        r[dst] = fields[off / 4]! >>> 0;
        break;
      case 0xbc: r[dst] = r[src]! >>> 0; break;
      case 0x54: r[dst] = (r[dst]! & imm) >>> 0; break;
      case 0x74: r[dst] = r[dst]! >>> imm; break;
      case 0x56: if ((r[dst]! >>> 0) !== (imm >>> 0)) pc += off; break;
      case 0xb7: r[dst] = imm; break;
      case 0x95: return r[0]!;
      default: throw new Error(`opcode 0x${code.toString(16)} at ${pc - 1}`);
    }
  }
  throw new Error('no exit');
}

const ACCESS = { m: 1, r: 2, w: 4 } as const;
const bits = (access: string): number => [...access].reduce((n, c) => n | ACCESS[c as keyof typeof ACCESS], 0);

/** The rules read literally: what the program must decide. */
function allowedBy(rules: readonly DeviceRule[], type: 'b' | 'c', major: number, minor: number, access: number): boolean {
  return rules.some((x) => x.type === type && (x.major === null || x.major === major) && (x.minor === null || x.minor === minor) && (access & ~bits(x.access)) === 0);
}

describe('device program', () => {
  test('a known rule set encodes to the expected bytes', () => {
    const hex = Buffer.from(deviceProgramBytes([rule('c', 136, null, 'rw'), rule('c', 1, 3, 'rwm')])).toString('hex').match(/.{16}/g);
    expect(hex).toEqual([
      '6112000000000000', // w2 = ctx->access_type
      'bc23000000000000', // w3 = w2
      '54030000ffff0000', // w3 &= 0xffff          (type)
      'bc24000000000000', // w4 = w2
      '7404000010000000', // w4 >>= 16             (access)
      '6115040000000000', // w5 = ctx->major
      '6116080000000000', // w6 = ctx->minor
      '5603040002000000', // c 1:3 rwm: if w3 != 2 (char) goto +4
      '5605030001000000', //            if w5 != 1 goto +3
      '5606020003000000', //            if w6 != 3 goto +2
      'b700000001000000', //            r0 = 1
      '9500000000000000', //            exit
      '5603060002000000', // c 136:* rw: if w3 != 2 goto +6
      '5605050088000000', //             if w5 != 136 goto +5
      'bc47000000000000', //             w7 = w4
      '5407000001000000', //             w7 &= 1 (mknod, not allowed)
      '5607020000000000', //             if w7 != 0 goto +2
      'b700000001000000', //             r0 = 1
      '9500000000000000', //             exit
      'b700000000000000', // r0 = 0
      '9500000000000000', // exit
    ]);
  });

  test('it decides every access as the rules say', () => {
    const rules = [...DEFAULT_RULES, rule('b', 8, null, 'r'), rule('c', null, null, 'm'), rule('c', 10, 200, 'w')];
    const bytes = deviceProgramBytes(rules);
    let allowed = 0;
    for (const type of ['b', 'c'] as const) {
      for (const major of [0, 1, 4, 5, 8, 10, 136, 4095]) {
        for (const minor of [0, 1, 2, 3, 5, 9, 200, 237, 1048575]) {
          for (let access = 1; access <= 7; access++) {
            const want = allowedBy(rules, type, major, minor, access);
            expect([type, major, minor, access, run(bytes, { type: type === 'b' ? 1 : 2, access, major, minor })]).toEqual([type, major, minor, access, want ? 1 : 0]);
            if (want) allowed++;
          }
        }
      }
    }
    expect(allowed).toBeGreaterThan(50);
    // The empty list denies everything, even /dev/null.
    expect(run(deviceProgramBytes([]), { type: 2, access: 2, major: 1, minor: 3 })).toBe(0);
  });

  test('rules are normalized first: order and duplicates do not change the bytes or the tag', () => {
    const a = deviceProgramBytes([rule('c', 1, 3, 'r'), rule('c', 5, 0, 'rwm'), rule('c', 1, 3, 'w')]);
    const b = deviceProgramBytes([rule('c', 5, 0, 'rwm'), rule('c', 1, 3, 'rw')]);
    expect(a).toEqual(b);
    expect(programTags(a)).toEqual(programTags(b));
    expect(programTags(a)[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(programTags(deviceProgramBytes([rule('c', 1, 3, 'rw')]))).not.toEqual(programTags(a));
  });

  test('an invalid rule is refused before any encoding', () => {
    for (const bad of [rule('c', -1, 3, 'r'), rule('c', 1, 3, ''), rule('c', 1, 3, 'rx'), rule('c', 4096, 0, 'r'), rule('c', 1.5, 0, 'r'), { ...rule('c', 1, 1, 'r'), type: 'a' as 'c' }]) {
      let caught: unknown;
      try {
        deviceProgram([bad]);
      } catch (err) {
        caught = err;
      }
      expect(hasCode(caught, 'INTERNAL')).toBe(true);
    }
  });

  test('offsets that do not fit in 16 bits are refused', () => {
    expect(() => encode([{ code: 0x05, dst: 0, src: 0, off: 40000, imm: 0 }])).toThrow(/does not fit/);
  });
});

describe('v1 device lines', () => {
  test('format, parse and compare as the kernel prints them', () => {
    expect(formatV1Rule(rule('c', 136, null, 'rwm'))).toBe('c 136:* rwm');
    expect(parseV1List('a *:* rwm\n')).toEqual({ allowAll: true });
    expect(parseV1List('c 1:3 rwm\nb *:* m\n')).toEqual(list(rule('c', 1, 3, 'rwm'), rule('b', null, null, 'm')));
    expect(parseV1List('')).toEqual(list());
    expect(() => parseV1List('c 1:3 x')).toThrow(/devices.list/);
    expect(samePolicy(parseV1List('c 1:3 rw\nc 1:5 r'), list(rule('c', 1, 5, 'r'), rule('c', 1, 3, 'w'), rule('c', 1, 3, 'r')))).toBe(true);
    expect(samePolicy(parseV1List('a *:* rwm'), list())).toBe(false);
    expect(normalizeRules([rule('c', 1, 3, 'mr'), rule('c', 1, 3, 'w')])).toEqual([rule('c', 1, 3, 'rwm')]);
    expect(describePolicy(DEFAULT_POLICY)).toBe('8 rules');
    expect(describePolicy({ allowAll: true })).toBe('a *:* rwm');
  });

  test('comparisons remembered from earlier ones answer as a fresh comparison would', () => {
    // The same lists over and over (as a resync compares them), then lists that differ only in
    // what a careless key would merge: a wildcard against 0, the access letters, the type.
    const asked = list(rule('c', 1, 3, 'rwm'), rule('c', 136, null, 'rw'));
    for (let i = 0; i < 3; i++) {
      expect(samePolicy(parseV1List('c 136:* rw\nc 1:3 rwm'), asked)).toBe(true);
      expect(describePolicy(asked)).toBe('2 rules');
    }
    expect(samePolicy(parseV1List('c 136:0 rw\nc 1:3 rwm'), asked)).toBe(false);
    expect(samePolicy(parseV1List('c 136:* r\nc 1:3 rwm'), asked)).toBe(false);
    expect(samePolicy(parseV1List('b 136:* rw\nc 1:3 rwm'), asked)).toBe(false);
    expect(samePolicy(list(rule('c', 1, 3, 'rwm'), rule('c', 136, 0, 'rw')), asked)).toBe(false);
    // An invalid list is refused every time, not only the first.
    const invalid = list(rule('c', 1, 3, 'x'));
    for (let i = 0; i < 2; i++) expect(() => samePolicy(invalid, asked)).toThrow(/not valid/);
    expect(describePolicy(list(rule('c', 1, 3, 'r'), rule('c', 1, 3, 'w')))).toBe('1 rule');
  });

  test('writes: deny-all then allows from allow-all; allows before denies between lists; allow a to open up', () => {
    expect(v1Writes({ allowAll: true }, list(rule('c', 1, 3, 'rwm'), rule('c', 136, null, 'rw')))).toEqual([
      { file: 'devices.deny', value: 'a' },
      { file: 'devices.allow', value: 'c 1:3 rwm' },
      { file: 'devices.allow', value: 'c 136:* rw' },
    ]);
    const before = list(rule('c', 1, 3, 'rwm'), rule('c', 10, 237, 'rwm'), rule('c', 5, 0, 'rw'));
    const after = list(rule('c', 1, 3, 'rwm'), rule('c', 10, 232, 'rw'), rule('c', 5, 0, 'r'));
    expect(v1Writes(before, after)).toEqual([
      { file: 'devices.allow', value: 'c 10:232 rw' },
      { file: 'devices.deny', value: 'c 5:0 w' },
      { file: 'devices.deny', value: 'c 10:237 rwm' },
    ]);
    expect(v1Writes(before, before)).toEqual([]);
    expect(v1Writes(before, { allowAll: true })).toEqual([{ file: 'devices.allow', value: 'a' }]);
    expect(v1Writes({ allowAll: true }, { allowAll: true })).toEqual([]);
  });
});
