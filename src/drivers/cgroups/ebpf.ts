// eBPF instructions, the few a cgroup device program needs, and their wire encoding: 8 bytes each,
// little-endian (x86-64 and arm64): opcode, dst_reg in the low nibble and src_reg in the high
// nibble of byte 1, a signed 16-bit offset, a signed 32-bit immediate (linux/bpf.h, struct
// bpf_insn). Pure.

export interface Insn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

// Opcode parts (linux/bpf_common.h, linux/bpf.h): class | operation | source, or class | size | mode.
const CLASS = { LDX: 0x01, ALU: 0x04, JMP: 0x05, JMP32: 0x06, ALU64: 0x07 } as const;
const SIZE_W = 0x00;
const MODE_MEM = 0x60;
const SRC = { K: 0x00, X: 0x08 } as const;
const OP = { AND: 0x50, RSH: 0x70, MOV: 0xb0, JNE: 0x50, EXIT: 0x90 } as const;

/** Registers: r0 holds the return value, r1 the context pointer on entry. */
export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

const insn = (code: number, dst: Reg, src: Reg, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

/** `wDst = *(u32 *)(rSrc + off)`: a 32-bit load, zero-extended. */
export const ldxW = (dst: Reg, src: Reg, off: number): Insn => insn(CLASS.LDX | SIZE_W | MODE_MEM, dst, src, off, 0);
/** `wDst = wSrc` (32-bit move: the upper half is zeroed). */
export const mov32Reg = (dst: Reg, src: Reg): Insn => insn(CLASS.ALU | OP.MOV | SRC.X, dst, src, 0, 0);
/** `wDst &= imm`. */
export const and32Imm = (dst: Reg, imm: number): Insn => insn(CLASS.ALU | OP.AND | SRC.K, dst, 0, 0, imm);
/** `wDst >>= imm` (logical). */
export const rsh32Imm = (dst: Reg, imm: number): Insn => insn(CLASS.ALU | OP.RSH | SRC.K, dst, 0, 0, imm);
/** `rDst = imm` (64-bit, sign-extended). */
export const mov64Imm = (dst: Reg, imm: number): Insn => insn(CLASS.ALU64 | OP.MOV | SRC.K, dst, 0, 0, imm);
/**
 * `if wDst != imm goto +off` (JMP32, Linux 5.1): compares the low 32 bits with the immediate taken
 * as 32 bits, so numbers up to 2^32-1 need no sign-extension care.
 */
export const jne32Imm = (dst: Reg, imm: number, off: number): Insn => insn(CLASS.JMP32 | OP.JNE | SRC.K, dst, 0, off, imm);
export const exit = (): Insn => insn(CLASS.JMP | OP.EXIT, 0, 0, 0, 0);

export const INSN_SIZE = 8;

/** The `struct bpf_insn` array BPF_PROG_LOAD takes. */
export function encode(program: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(program.length * INSN_SIZE);
  const view = new DataView(out.buffer);
  program.forEach((i, n) => {
    const at = n * INSN_SIZE;
    if (i.off < -0x8000 || i.off > 0x7fff) throw new RangeError(`eBPF instruction ${n}: offset ${i.off} does not fit in 16 bits`);
    view.setUint8(at, i.code);
    view.setUint8(at + 1, ((i.src & 0xf) << 4) | (i.dst & 0xf));
    view.setInt16(at + 2, i.off, true);
    view.setUint32(at + 4, i.imm >>> 0, true);
  });
  return out;
}
