// How a compiled seccomp filter gets from the syscall number to the code that decides the call.
// The prologue has left the number in the accumulator; each syscall's code ends in a RET. Pure.
//
// Two layouts, with the same verdicts (a test compares them on every number):
//   linear       one `jeq nr` per syscall, in the order the profile names them. A call named late,
//                or not at all, walks the whole chain: with an allow-list of ~300 calls, ~600
//                instructions on every such call.
//   search tree  the number line cut into intervals that each get one verdict (runs of calls with
//                the same unconditional action merge), found by a balanced binary search on the
//                interval bounds: ~log2(intervals) comparisons, about 7 for corral's default.
// Kernels from 5.11 skip the filter for calls it allows whatever the arguments, so the walk costs
// on refused calls, on calls with argument conditions, and on every call of older kernels.

import { BPF, insn, type Insn } from './seccomp-bpf.js';

export interface SyscallCode {
  readonly nr: number;
  /** The code deciding this call; every path through it ends in a RET. */
  readonly body: readonly Insn[];
}

export interface Fallbacks {
  /** RET value for numbers up to `maxKnown` that no SyscallCode names. */
  readonly unnamed: number;
  readonly maxKnown: number;
  /** RET value for numbers above `maxKnown`, calls newer than the syscall table; null: `unnamed`. */
  readonly newer: number | null;
}

const MAX_JUMP = 0xff;

/** The first layout corral had, kept as the reference for the search tree. */
export function linearDispatch(calls: readonly SyscallCode[], f: Fallbacks): Insn[] {
  const out: Insn[] = [];
  if (f.newer !== null) out.push(insn(BPF.JGT_K, f.maxKnown, 0, 1), insn(BPF.RET_K, f.newer));
  for (const { nr, body } of calls) {
    // Every body ends in a RET, so "not this syscall" only ever jumps forward over one body.
    if (body.length <= MAX_JUMP) out.push(insn(BPF.JEQ_K, nr, 0, body.length), ...body);
    else out.push(insn(BPF.JEQ_K, nr, 1, 0), insn(BPF.JA, body.length), ...body);
  }
  out.push(insn(BPF.RET_K, f.unnamed));
  return out;
}

/** Numbers from `lo` up to the next interval's `lo` (or 2^32) share `code`. */
interface Interval {
  readonly lo: number;
  readonly code: readonly Insn[];
}

const ret = (k: number): Insn[] => [insn(BPF.RET_K, k)];
const sameRet = (a: readonly Insn[], b: readonly Insn[]): boolean =>
  a.length === 1 && b.length === 1 && a[0]!.code === BPF.RET_K && b[0]!.code === BPF.RET_K && a[0]!.k === b[0]!.k;

/** The whole 32-bit number line, cut where the verdict changes. */
function intervals(calls: readonly SyscallCode[], f: Fallbacks): Interval[] {
  const sorted = [...calls].sort((a, b) => a.nr - b.nr);
  const raw: Interval[] = [];
  let next = 0;
  for (const { nr, body } of sorted) {
    if (nr > next) raw.push({ lo: next, code: ret(f.unnamed) });
    raw.push({ lo: nr, code: body });
    next = nr + 1;
  }
  if (next <= f.maxKnown) raw.push({ lo: next, code: ret(f.unnamed) });
  raw.push({ lo: Math.max(next, f.maxKnown + 1), code: ret(f.newer ?? f.unnamed) });
  const merged: Interval[] = [];
  for (const i of raw) {
    if (merged.length > 0 && sameRet(merged.at(-1)!.code, i.code)) continue;
    merged.push(i);
  }
  return merged;
}

/** Intervals [from, to): `jge` the middle bound, the lower half first, the upper half after it. */
function emit(iv: readonly Interval[], from: number, to: number): Insn[] {
  if (to - from === 1) return [...iv[from]!.code];
  const mid = (from + to) >> 1;
  const lower = emit(iv, from, mid);
  const upper = emit(iv, mid, to);
  const bound = iv[mid]!.lo;
  // A conditional jump reaches 255 instructions; past that, a JA (32-bit offset) skips the lower half.
  const test = lower.length <= MAX_JUMP
    ? [insn(BPF.JGE_K, bound, lower.length, 0)]
    : [insn(BPF.JGE_K, bound, 0, 1), insn(BPF.JA, lower.length)];
  return [...test, ...lower, ...upper];
}

export function searchTreeDispatch(calls: readonly SyscallCode[], f: Fallbacks): Insn[] {
  const iv = intervals(calls, f);
  return emit(iv, 0, iv.length);
}
