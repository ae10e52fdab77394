// Classic BPF as seccomp runs it: the few opcodes corral's filters use, the return values, the
// offsets into `struct seccomp_data`, and the wire encoding the shim copies into a sock_fprog
// (8 bytes per instruction, little-endian, as on every architecture corral supports). Pure.

// Opcodes (linux/bpf_common.h): class | size | mode, or class | op | source.
export const BPF = {
  LD_W_ABS: 0x20,
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  JSET_K: 0x45,
  JA: 0x05,
  AND_K: 0x54,
  RET_K: 0x06,
} as const;

// SECCOMP_RET_* (linux/seccomp.h). The low 16 bits of ERRNO/TRAP/TRACE carry data.
export const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 syscalls are x86-64 numbers with this bit set; the default filter and profiles kill them. */
export const X32_SYSCALL_BIT = 0x40000000;

/** struct seccomp_data: nr, arch, instruction_pointer, then six u64 args (little-endian words). */
export const SECCOMP_DATA = {
  NR: 0,
  ARCH: 4,
  argLow: (i: number): number => 16 + 8 * i,
  argHigh: (i: number): number => 20 + 8 * i,
} as const;

/** The kernel refuses longer programs (BPF_MAXINSNS); the shim's buffer has the same size. */
export const BPF_MAX_INSNS = 4096;

export interface Insn {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

export function insn(code: number, k: number, jt = 0, jf = 0): Insn {
  return { code, jt, jf, k: k >>> 0 };
}

/** The sock_filter array the shim loads. Jump offsets must already fit in 8 bits. */
export function encodeProgram(program: readonly Insn[]): Uint8Array {
  const out = Buffer.alloc(program.length * 8);
  program.forEach((i, n) => {
    out.writeUInt16LE(i.code, n * 8);
    out.writeUInt8(i.jt, n * 8 + 2);
    out.writeUInt8(i.jf, n * 8 + 3);
    out.writeUInt32LE(i.k >>> 0, n * 8 + 4);
  });
  return out;
}

/**
 * The start of every filter corral loads: a foreign architecture or an x32 call kills the process
 * (their syscall numbers would mean other calls), then the syscall number is left in the accumulator.
 */
export function x86_64Prologue(): Insn[] {
  return [
    insn(BPF.LD_W_ABS, SECCOMP_DATA.ARCH),
    insn(BPF.JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    insn(BPF.RET_K, RET.KILL_PROCESS),
    insn(BPF.LD_W_ABS, SECCOMP_DATA.NR),
    insn(BPF.JGE_K, X32_SYSCALL_BIT, 0, 1),
    insn(BPF.RET_K, RET.KILL_PROCESS),
  ];
}
