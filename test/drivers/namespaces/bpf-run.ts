// A small classic-BPF interpreter for seccomp programs: what a syscall with given arguments gets,
// without a kernel. Shared by the compiler tests and the default profile's tests.

import { expect } from '@jest/globals';
import { AUDIT_ARCH_X86_64, BPF } from '../../../src/drivers/namespaces/seccomp-bpf.js';

export interface Decoded { code: number; jt: number; jf: number; k: number }

export const AUDIT_ARCH_I386 = 0x40000003;

export function decode(bytes: Uint8Array): Decoded[] {
  expect(bytes.length % 8).toBe(0);
  const b = Buffer.from(bytes);
  return Array.from({ length: b.length / 8 }, (_, n) => ({ code: b.readUInt16LE(n * 8), jt: b[n * 8 + 2]!, jf: b[n * 8 + 3]!, k: b.readUInt32LE(n * 8 + 4) }));
}

/** Runs the program on one seccomp_data; returns the 32-bit SECCOMP_RET_* value. */
export function run(prog: readonly Decoded[], nr: number, args: readonly bigint[] = [], arch = AUDIT_ARCH_X86_64): number {
  return trace(prog, nr, args, arch).ret;
}

/** The verdict and how many instructions produced it (the RET included). */
export function trace(prog: readonly Decoded[], nr: number, args: readonly bigint[] = [], arch = AUDIT_ARCH_X86_64): { ret: number; steps: number } {
  const word = (off: number): number => {
    if (off === 0) return nr >>> 0;
    if (off === 4) return arch >>> 0;
    const i = (off - 16) >> 3;
    if (off < 16 || i > 5 || off % 4 !== 0) throw new Error(`load at offset ${off}`);
    const v = BigInt.asUintN(64, args[i] ?? 0n);
    return Number(off % 8 === 0 ? v & 0xffffffffn : v >> 32n);
  };
  let a = 0;
  let steps = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    steps++;
    const { code, jt, jf, k } = prog[pc]!;
    const jump = (cond: boolean): void => { pc += cond ? jt : jf; };
    switch (code) {
      case BPF.LD_W_ABS: a = word(k); break;
      case BPF.AND_K: a = (a & k) >>> 0; break;
      case BPF.JEQ_K: jump(a === k); break;
      case BPF.JGT_K: jump(a > k); break;
      case BPF.JGE_K: jump(a >= k); break;
      case BPF.JSET_K: jump((a & k) !== 0); break;
      case BPF.JA: pc += k; break;
      case BPF.RET_K: return { ret: k, steps };
      default: throw new Error(`unknown opcode 0x${code.toString(16)} at ${pc}`);
    }
    if (pc + 1 >= prog.length) throw new Error(`jump out of the program at ${pc}`);
  }
  throw new Error('fell off the end of the program');
}
