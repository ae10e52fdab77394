// bpf(2), the few commands a cgroup device program needs: load, attach, detach, list the programs
// attached to a cgroup, and tell a program by its tag and name. glibc has no wrapper, so this goes
// through syscall(2). Every command takes a `union bpf_attr`; pointers inside it (instructions,
// log buffer, id arrays, info) point to memory from koffi's allocator, which the garbage collector
// never moves, and are freed before returning.

import { constants } from 'node:os';
import { closeFd } from './pidfd.js';
import { koffi, lastErrno, rawSyscall, SYSCALL_NUMBERS, syscallError } from './libc.js';

/** enum bpf_cmd (linux/bpf.h). */
const CMD = { PROG_LOAD: 5, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_GET_FD_BY_ID: 13, OBJ_GET_INFO_BY_FD: 15, PROG_QUERY: 16 } as const;
type Cmd = keyof typeof CMD;

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
/** Several programs on one cgroup, all of which must allow (Linux 4.15). */
export const BPF_F_ALLOW_MULTI = 1 << 1;

/**
 * Bytes of bpf_attr passed. Larger than any field used here; the kernel takes the prefix it knows
 * and requires the rest to be zero, so this works on kernels older and newer than the headers.
 */
const ATTR_SIZE = 128;
const OBJ_NAME_LEN = 16;
/** struct bpf_prog_info up to and including `name`. */
const PROG_INFO_SIZE = 80;
const LOG_SIZE = 64 * 1024;

/** Zeroed native memory and a Buffer over it. */
class Native {
  readonly ptr: unknown;
  readonly bytes: Buffer;
  readonly address: bigint;

  constructor(size: number) {
    this.ptr = koffi().alloc('uint8_t', size);
    this.bytes = Buffer.from(koffi().view(this.ptr, size));
    this.bytes.fill(0);
    this.address = koffi().address(this.ptr);
  }

  free(): void {
    koffi().free(this.ptr);
  }
}

function withNative<T>(sizes: readonly number[], fn: (mem: Native[]) => T): T {
  const mem: Native[] = [];
  try {
    for (const size of sizes) mem.push(new Native(size));
    return fn(mem);
  } finally {
    for (const m of mem) m.free();
  }
}

/** A NUL-terminated string in a fixed buffer (the whole buffer when it has no NUL). */
function cString(buf: Buffer, encoding: BufferEncoding): string {
  const end = buf.indexOf(0);
  return buf.toString(encoding, 0, end < 0 ? buf.length : end);
}

type Args = Readonly<Record<string, unknown>>;

function bpf(cmd: Cmd, attr: Native, args: Args): number {
  const r = Number(rawSyscall()(SYSCALL_NUMBERS.bpf, 'int', CMD[cmd], 'void *', attr.ptr, 'uint', ATTR_SIZE));
  if (r < 0) throw syscallError('bpf', { cmd: `BPF_${cmd}`, ...args });
  return r;
}

export interface ProgLoad {
  readonly type: number;
  /** Encoded struct bpf_insn array. */
  readonly insns: Uint8Array;
  readonly license: string;
  /** At most 15 characters of [A-Za-z0-9_.]. */
  readonly name: string;
}

function loadOnce(p: ProgLoad, withLog: boolean): { fd: number } | { errno: number; log: string } {
  const cnt = p.insns.length / 8;
  return withNative([ATTR_SIZE, p.insns.length, p.license.length + 1, withLog ? LOG_SIZE : 1], ([attr, insns, license, log]) => {
    insns!.bytes.set(p.insns);
    license!.bytes.write(p.license, 'latin1');
    const a = attr!.bytes;
    a.writeUInt32LE(p.type, 0);
    a.writeUInt32LE(cnt, 4);
    a.writeBigUInt64LE(insns!.address, 8);
    a.writeBigUInt64LE(license!.address, 16);
    if (withLog) {
      a.writeUInt32LE(1, 24);
      a.writeUInt32LE(LOG_SIZE, 28);
      a.writeBigUInt64LE(log!.address, 32);
    }
    a.write(p.name.slice(0, OBJ_NAME_LEN - 1), 48, 'latin1');
    const fd = Number(rawSyscall()(SYSCALL_NUMBERS.bpf, 'int', CMD.PROG_LOAD, 'void *', attr!.ptr, 'uint', ATTR_SIZE));
    if (fd >= 0) return { fd };
    const errno = lastErrno();
    return { errno, log: withLog ? cString(log!.bytes, 'utf8') : '' };
  });
}

/**
 * Loads a program and returns its fd. On failure the load is repeated with the verifier's log
 * (level 1), and the error carries the log's end: the first attempt goes without, because a log
 * too small for a long program fails an otherwise valid load (ENOSPC).
 */
export function bpfProgLoad(p: ProgLoad): number {
  const first = loadOnce(p, false);
  if ('fd' in first) return first.fd;
  const second = loadOnce(p, true);
  if ('fd' in second) return second.fd;
  const log = second.log.trim().split('\n').slice(-20).join('\n').slice(-2000);
  throw syscallError('bpf', { cmd: 'BPF_PROG_LOAD', type: p.type, name: p.name, insns: p.insns.length / 8, 'verifier log': log }, first.errno);
}

export function bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number): void {
  withNative([ATTR_SIZE], ([attr]) => {
    attr!.bytes.writeUInt32LE(targetFd, 0);
    attr!.bytes.writeUInt32LE(progFd, 4);
    attr!.bytes.writeUInt32LE(attachType, 8);
    attr!.bytes.writeUInt32LE(flags, 12);
    bpf('PROG_ATTACH', attr!, { target_fd: targetFd, attach_bpf_fd: progFd, attach_type: attachType, attach_flags: flags });
  });
}

export function bpfProgDetach(targetFd: number, progFd: number, attachType: number): void {
  withNative([ATTR_SIZE], ([attr]) => {
    attr!.bytes.writeUInt32LE(targetFd, 0);
    attr!.bytes.writeUInt32LE(progFd, 4);
    attr!.bytes.writeUInt32LE(attachType, 8);
    bpf('PROG_DETACH', attr!, { target_fd: targetFd, attach_bpf_fd: progFd, attach_type: attachType });
  });
}

/** Ids of the programs attached directly to the target (not inherited), in run order. */
export function bpfProgQuery(targetFd: number, attachType: number): number[] {
  for (let capacity = 8; ; capacity *= 4) {
    const got = withNative([ATTR_SIZE, capacity * 4], ([attr, ids]) => {
      const a = attr!.bytes;
      a.writeUInt32LE(targetFd, 0);
      a.writeUInt32LE(attachType, 4);
      a.writeBigUInt64LE(ids!.address, 16);
      a.writeUInt32LE(capacity, 24);
      const r = Number(rawSyscall()(SYSCALL_NUMBERS.bpf, 'int', CMD.PROG_QUERY, 'void *', attr!.ptr, 'uint', ATTR_SIZE));
      const errno = r < 0 ? lastErrno() : 0;
      const count = a.readUInt32LE(24);
      // ENOSPC: more programs than room; prog_cnt then holds the real count.
      if (errno === constants.errno.ENOSPC && count > capacity) return null;
      if (r < 0) throw syscallError('bpf', { cmd: 'BPF_PROG_QUERY', target_fd: targetFd, attach_type: attachType }, errno);
      return Array.from({ length: count }, (_, i) => ids!.bytes.readUInt32LE(i * 4));
    });
    if (got !== null) return got;
  }
}

/** A new fd for a loaded program (close it). */
export function bpfProgGetFdById(id: number): number {
  return withNative([ATTR_SIZE], ([attr]) => {
    attr!.bytes.writeUInt32LE(id, 0);
    return bpf('PROG_GET_FD_BY_ID', attr!, { prog_id: id });
  });
}

export interface ProgInfo {
  readonly id: number;
  readonly type: number;
  /** bpf_prog_info.tag as 16 hex digits. */
  readonly tag: string;
  readonly name: string;
}

export function bpfProgInfo(progFd: number): ProgInfo {
  return withNative([ATTR_SIZE, PROG_INFO_SIZE], ([attr, info]) => {
    attr!.bytes.writeUInt32LE(progFd, 0);
    attr!.bytes.writeUInt32LE(PROG_INFO_SIZE, 4);
    attr!.bytes.writeBigUInt64LE(info!.address, 8);
    bpf('OBJ_GET_INFO_BY_FD', attr!, { bpf_fd: progFd });
    const b = info!.bytes;
    return { type: b.readUInt32LE(0), id: b.readUInt32LE(4), tag: b.subarray(8, 16).toString('hex'), name: cString(b.subarray(64, 64 + OBJ_NAME_LEN), 'latin1') };
  });
}

/** Info of a program by id (the query's answer), through a short-lived fd. */
export function bpfProgInfoById(id: number): ProgInfo {
  const fd = bpfProgGetFdById(id);
  try {
    return bpfProgInfo(fd);
  } finally {
    closeFd(fd);
  }
}
