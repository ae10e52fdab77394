// The cgroup2 device program for an allow-list (BPF_PROG_TYPE_CGROUP_DEVICE, Linux 4.15). The
// kernel runs it on every open and mknod of a device node by a task of the cgroup, with
//   struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
// where access_type = (access << 16) | type; it returns 1 to allow and 0 to deny (EPERM). The
// program tests each rule in turn: type, then major and minor unless wildcards, then that the
// requested access bits are a subset of the rule's. Pure: the bytes and their tag depend only on
// the (normalized) rules, so drift is detected by comparing tags.

import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { normalizeRules } from './device-rules.js';
import { and32Imm, encode, exit, jne32Imm, ldxW, mov32Reg, mov64Imm, rsh32Imm, type Insn } from './ebpf.js';
import type { DeviceRule } from './types.js';

/** Offsets in struct bpf_cgroup_dev_ctx. */
const CTX = { ACCESS_TYPE: 0, MAJOR: 4, MINOR: 8 } as const;
/** BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR. */
const DEV_TYPE = { b: 1, c: 2 } as const;
/** BPF_DEVCG_ACC_MKNOD, _READ, _WRITE. */
const ACC = { m: 1, r: 2, w: 4 } as const;
const ACC_ALL = ACC.m | ACC.r | ACC.w;

// Registers: w2 access_type, w3 type, w4 access, w5 major, w6 minor, w7 scratch.
const PROLOGUE: readonly Insn[] = [
  ldxW(2, 1, CTX.ACCESS_TYPE),
  mov32Reg(3, 2),
  and32Imm(3, 0xffff),
  mov32Reg(4, 2),
  rsh32Imm(4, 16),
  ldxW(5, 1, CTX.MAJOR),
  ldxW(6, 1, CTX.MINOR),
];

const accessBits = (access: string): number => [...access].reduce((bits, c) => bits | ACC[c as keyof typeof ACC], 0);

/** One rule: falls through to the next rule unless it allows, in which case it returns 1. */
function ruleBlock(rule: DeviceRule): Insn[] {
  // Each test jumps to the end of the block; the offset is filled once the block's length is known.
  const tests: Array<(off: number) => Insn[]> = [(off) => [jne32Imm(3, DEV_TYPE[rule.type], off)]];
  if (rule.major !== null) tests.push((off) => [jne32Imm(5, rule.major!, off)]);
  if (rule.minor !== null) tests.push((off) => [jne32Imm(6, rule.minor!, off)]);
  const bits = accessBits(rule.access);
  // Requested bits outside the rule's: (access & ~allowed) != 0.
  if (bits !== ACC_ALL) tests.push((off) => [mov32Reg(7, 4), and32Imm(7, ~bits & ACC_ALL), jne32Imm(7, 0, off)]);
  const length = tests.reduce((n, t) => n + t(0).length, 0) + 2;
  const block: Insn[] = [];
  for (const t of tests) {
    const provisional = t(0);
    // The jump is the test's last instruction; it skips the rest of the block.
    block.push(...t(length - (block.length + provisional.length)));
  }
  block.push(mov64Imm(0, 1), exit());
  return block;
}

/** The program for an allow-list (empty: every device denied). Rules are normalized first. */
export function deviceProgram(rules: readonly DeviceRule[]): Insn[] {
  return [...PROLOGUE, ...normalizeRules(rules).flatMap(ruleBlock), mov64Imm(0, 0), exit()];
}

export function deviceProgramBytes(rules: readonly DeviceRule[]): Uint8Array {
  return encode(deviceProgram(rules));
}

/**
 * The tags the kernel may report for this program (bpf_prog_info.tag): the first 8 bytes of a hash
 * of its instructions as loaded (map fds zeroed; this program has none). The hash was SHA-1 until
 * the kernel moved program hashes to SHA-256 (measured: SHA-256 on 6.18, SHA-1 on 6.1), so both
 * are accepted; the device tests check one of them against the running kernel.
 */
export function programTags(bytes: Uint8Array): readonly [sha1Tag: string, sha256Tag: string] {
  return [bytesToHex(sha1(bytes).subarray(0, 8)), bytesToHex(sha256(bytes).subarray(0, 8))];
}

/** The name corral loads its device programs under (BPF_OBJ_NAME_LEN: 15 characters at most). */
export const DEVICE_PROGRAM_NAME = 'corral_devices';
