// pidfds: a handle on one process that cannot be confused with a later process reusing its pid.

import { constants } from 'node:os';
import { check, lastErrno, libcFunction, rawSyscall, SYSCALL_NUMBERS, syscallError } from './libc.js';

/** Opens a pidfd (close-on-exec is implied by the kernel). Throws ESRCH when the process is gone. */
export function pidfdOpen(pid: number): number {
  const fd = Number(rawSyscall()(SYSCALL_NUMBERS.pidfd_open, 'int', pid, 'uint', 0));
  if (fd < 0) throw syscallError('pidfd_open', { pid });
  return fd;
}

export function pidfdSendSignal(pidfd: number, signal: number): void {
  const r = Number(rawSyscall()(SYSCALL_NUMBERS.pidfd_send_signal, 'int', pidfd, 'int', signal, 'void *', null, 'uint', 0));
  if (r < 0) throw syscallError('pidfd_send_signal', { pidfd, signal });
}

/** True while the process behind the pidfd has not exited (pidfd_send_signal with signal 0). */
export function pidfdAlive(pidfd: number): boolean {
  const r = Number(rawSyscall()(SYSCALL_NUMBERS.pidfd_send_signal, 'int', pidfd, 'int', 0, 'void *', null, 'uint', 0));
  if (r === 0) return true;
  if (lastErrno() === constants.errno.ESRCH) return false;
  throw syscallError('pidfd_send_signal', { pidfd, signal: 0 });
}

const P_PIDFD = 3;
const WEXITED = 4;
const WNOHANG = 1;
// siginfo_t is 128 bytes; si_pid at 16, si_status at 24, si_code at 8 (CLD_EXITED=1, KILLED=2, DUMPED=3).
const SIGINFO_SIZE = 128;

export type ChildExit = { readonly pid: number; readonly code: number | null; readonly signal: number | null };

/**
 * Reaps a child through its pidfd without blocking: the exit, or null while it still runs. Only for
 * children of this process; children of ended worker threads are reaped this way
 * (docs/architecture.md, "Calling the kernel from Node").
 */
export function waitPidfd(pidfd: number): ChildExit | null {
  const fn = libcFunction('int waitid(int idtype, int id, _Out_ uint8_t *info, int options)');
  const info = Buffer.alloc(SIGINFO_SIZE);
  check(fn(P_PIDFD, pidfd, info, WEXITED | WNOHANG) as number, 'waitid', { idtype: 'P_PIDFD', pidfd });
  const pid = info.readInt32LE(16);
  if (pid === 0) return null;
  const code = info.readInt32LE(8);
  const status = info.readInt32LE(24);
  return code === 1 ? { pid, code: status, signal: null } : { pid, code: null, signal: status };
}

export function closeFd(fd: number): void {
  libcFunction('int close(int fd)')(fd);
}
