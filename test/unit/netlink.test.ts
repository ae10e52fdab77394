// The netlink attribute encoding (src/sys/netlink.ts): lengths, padding to 4 bytes, nesting, and
// parsing back, including the nested flag the kernel sets on some types. The requests themselves
// run against the kernel in test/drivers/network/.

import { describe, expect, test } from '@jest/globals';
import { attr, cString, parseAttrs, str, u32, u8 } from '../../src/sys/netlink.js';

describe('netlink attributes', () => {
  test('length counts the 4-byte header and the payload; the attribute is padded to 4 bytes', () => {
    const a = attr(3, str('eth0'));
    expect(a.readUInt16LE(0)).toBe(9);
    expect(a.readUInt16LE(2)).toBe(3);
    expect(a.length).toBe(12);
    expect(attr(10, u32(7)).length).toBe(8);
    expect(attr(4, u8(1)).length).toBe(8);
  });

  test('nested attributes parse back, by type, with the nested flag ignored', () => {
    const inner = Buffer.concat([attr(1, str('veth')), attr(2, u32(42))]);
    const outer = Buffer.concat([attr(3, str('cv0123456789')), attr(18 | 0x8000, inner), attr(10, u32(5))]);
    const top = parseAttrs(outer);
    expect(cString(top.get(3))).toBe('cv0123456789');
    expect(top.get(10)!.readUInt32LE(0)).toBe(5);
    const nested = parseAttrs(top.get(18)!);
    expect(cString(nested.get(1))).toBe('veth');
    expect(nested.get(2)!.readUInt32LE(0)).toBe(42);
  });

  test('a truncated attribute ends the parse instead of reading past the buffer', () => {
    const good = attr(1, u32(1));
    const bad = Buffer.from([0xff, 0x00, 0x02, 0x00]);
    expect([...parseAttrs(Buffer.concat([good, bad])).keys()]).toEqual([1]);
    expect(cString(undefined)).toBeNull();
  });
});
