// The search-tree dispatch against the linear chain corral first emitted: the same verdict for
// every syscall number and argument vector, on the default profile and on seeded random ones.

import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { DEFAULT_PROFILE_PATH } from '../../../src/drivers/namespaces/seccomp.js';
import { BPF, BPF_MAX_INSNS, X32_SYSCALL_BIT } from '../../../src/drivers/namespaces/seccomp-bpf.js';
import { compileSeccompProfile, SHIM_CALLS_AFTER_FILTER, type CompileOptions } from '../../../src/drivers/namespaces/seccomp-compile.js';
import { parseSeccompProfile } from '../../../src/drivers/namespaces/seccomp-profile.js';
import { MAX_SYSCALL_X86_64, SYSCALLS_X86_64 } from '../../../src/drivers/namespaces/syscalls-x86_64.js';
import { AUDIT_ARCH_I386, decode, trace, type Decoded } from './bpf-run.js';
import { mulberry32 } from '../../support/random.js';

const ctx = { capabilities: ['CAP_CHOWN'], kernelRelease: '6.18.0-test' };
const NAMES = Object.keys(SYSCALLS_X86_64);

function both(text: string): { linear: Decoded[]; tree: Decoded[] } {
  const p = parseSeccompProfile(text, '/p/test.json');
  const build = (dispatch: CompileOptions['dispatch']): Decoded[] => decode(compileSeccompProfile(p, ctx, { dispatch }).program);
  return { linear: build('linear'), tree: build('search-tree') };
}


const ACTIONS = [
  { action: 'SCMP_ACT_ALLOW' }, { action: 'SCMP_ACT_ERRNO', errnoRet: 13 }, { action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
  { action: 'SCMP_ACT_ERRNO' }, { action: 'SCMP_ACT_KILL_PROCESS' }, { action: 'SCMP_ACT_TRAP' }, { action: 'SCMP_ACT_LOG' },
];
const OPS = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_MASKED_EQ'];
const VALUES = [0, 1, 2, 0x7e020000, 0xffffffff, 2 ** 40];

function randomProfile(seed: number): string {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const entries: object[] = [{ names: SHIM_CALLS_AFTER_FILTER, action: 'SCMP_ACT_ALLOW' }];
  for (let i = 0, n = 5 + Math.floor(r() * 60); i < n; i++) {
    const names = Array.from({ length: 1 + Math.floor(r() * 12) }, () => pick(NAMES));
    const args = r() < 0.3 ? Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({ index: Math.floor(r() * 3), value: pick(VALUES), valueTwo: pick(VALUES), op: pick(OPS) })) : [];
    entries.push({ names, ...pick(ACTIONS), args });
  }
  return JSON.stringify({ ...(r() < 0.5 ? { defaultAction: 'SCMP_ACT_ALLOW' } : { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1 }), syscalls: entries });
}

const ARGS: readonly (readonly bigint[])[] = [[], [1n, 1n, 1n], [2n, 0xffff_ffffn, 0n], [0x7e02_0000n, 2n ** 40n, 0xffff_ffffn], [0xffff_ffff_ffff_ffffn, 2n, 1n]];
const NUMBERS = [...Array.from({ length: MAX_SYSCALL_X86_64 + 20 }, (_, n) => n), 0x3fff_ffff, X32_SYSCALL_BIT | 1, 0xffff_ffff];

/** Every number and argument vector where the two programs disagree (capped, for readable failures). */
function differences(a: readonly Decoded[], b: readonly Decoded[]): string[] {
  const out: string[] = [];
  for (const n of NUMBERS) {
    for (const args of ARGS) {
      const [x, y] = [trace(a, n, args).ret, trace(b, n, args).ret];
      if (x !== y && out.length < 10) out.push(`nr ${n} args [${args.join(', ')}]: linear ${x.toString(16)}, tree ${y.toString(16)}`);
    }
  }
  if (trace(a, 0, [], AUDIT_ARCH_I386).ret !== trace(b, 0, [], AUDIT_ARCH_I386).ret) out.push('i386');
  return out;
}

describe('search-tree dispatch', () => {
  test('the default profile: same verdicts as the linear chain, in a fraction of the instructions', () => {
    const { linear, tree } = both(readFileSync(DEFAULT_PROFILE_PATH, 'utf8'));
    expect(differences(linear, tree)).toEqual([]);
    expect(tree.length * 3).toBeLessThan(linear.length);
    const worst = (p: readonly Decoded[]): number => Math.max(...NUMBERS.map((n) => trace(p, n).steps));
    expect(worst(tree) * 10).toBeLessThan(worst(linear));
  });

  test('100 seeded random profiles: same verdicts as the linear chain', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const { linear, tree } = both(randomProfile(seed));
      expect(`seed ${seed}: ${differences(linear, tree).join('; ')}`).toBe(`seed ${seed}: `);
    }
  });

  test('every call in its own conditional entry: long jumps over the lower half, same verdicts', () => {
    const text = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: NAMES.map((n, i) => ({ names: [n], action: 'SCMP_ACT_ERRNO', errnoRet: (i % 4000) + 1, args: [{ index: 1, value: 7, op: 'SCMP_CMP_EQ' }] })),
    });
    const { linear, tree } = both(text);
    expect(tree.length).toBeLessThanOrEqual(BPF_MAX_INSNS);
    expect(tree.some((i) => i.code === BPF.JA)).toBe(true);
    expect(differences(linear, tree)).toEqual([]);
  });

  test('runs of calls with one unconditional verdict become one interval', () => {
    const bounds = (names: string[]): number => {
      const { tree } = both(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names, action: 'SCMP_ACT_ERRNO' }] }));
      return tree.filter((i) => i.code === BPF.JGE_K).length - 1; // less the prologue's x32 test
    };
    // Allowed, refused, allowed: three intervals, two bounds.
    expect(bounds(['mount', 'umount2'])).toBe(2); // 165 and 166
    // Two refused calls apart: five intervals, four bounds.
    expect(bounds(['mount', 'bpf'])).toBe(4);
  });
});
