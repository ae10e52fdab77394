// The default seccomp filter: a deny-list compiled to classic BPF here, loaded as-is by the shim.
// Denied calls fail with EPERM; clone3 fails with ENOSYS so libc falls back to clone, whose
// namespace flags are then checked; a foreign architecture or the x32 ABI kills the process.
// The list follows what Docker's default profile leaves out for an unprivileged container
// (kernel modules, kexec, reboot, clocks, swap, keyrings, bpf, perf, mount API, namespaces,
// io_uring, userfaultfd, handle-based opens...). Only x86-64 numbers are known here. Pure.

import { CorralError } from '../../errors.js';
import { BPF, RET, SECCOMP_DATA, encodeProgram, insn, x86_64Prologue, type Insn } from './seccomp-bpf.js';

/** x86-64 syscall numbers of the denied calls. */
export const DENIED_SYSCALLS_X86_64: Readonly<Record<string, number>> = {
  uselib: 134, ustat: 136, sysfs: 139, vhangup: 153, pivot_root: 155, _sysctl: 156,
  acct: 163, settimeofday: 164, mount: 165, umount2: 166, swapon: 167, swapoff: 168, reboot: 169, iopl: 172, ioperm: 173,
  create_module: 174, init_module: 175, delete_module: 176, get_kernel_syms: 177, query_module: 178, quotactl: 179,
  nfsservctl: 180, lookup_dcookie: 212, clock_settime: 227, kexec_load: 246, add_key: 248, request_key: 249, keyctl: 250,
  migrate_pages: 256, unshare: 272, move_pages: 279, perf_event_open: 298, fanotify_init: 300, name_to_handle_at: 303,
  open_by_handle_at: 304, clock_adjtime: 305, setns: 308, process_vm_readv: 310, process_vm_writev: 311, kcmp: 312,
  finit_module: 313, kexec_file_load: 320, bpf: 321, userfaultfd: 323, io_uring_setup: 425, io_uring_enter: 426,
  io_uring_register: 427, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433,
  mount_setattr: 442, quotactl_fd: 443,
};

const SYS_CLONE = 56;
const SYS_CLONE3 = 435;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME. */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;

const EPERM = 1;
const ENOSYS = 38;

/** `arch` as Node names it (`process.arch`). */
export function defaultSeccompProgram(arch: string): Uint8Array {
  if (arch !== 'x64') {
    throw new CorralError('HOST_UNSUPPORTED', `the default seccomp filter knows x86-64 syscall numbers only, not \`${arch}\``, {
      hint: 'set `security.seccomp: unconfined` on this host',
    });
  }
  const denied = Object.values(DENIED_SYSCALLS_X86_64);
  const p: Insn[] = x86_64Prologue();
  for (const nr of denied) {
    p.push(insn(BPF.JEQ_K, nr, 0, 1), insn(BPF.RET_K, RET.ERRNO | EPERM));
  }
  p.push(insn(BPF.JEQ_K, SYS_CLONE3, 0, 1), insn(BPF.RET_K, RET.ERRNO | ENOSYS));
  // clone: deny namespace flags in its first argument (the low 32 bits hold them all).
  p.push(
    insn(BPF.JEQ_K, SYS_CLONE, 0, 3),
    insn(BPF.LD_W_ABS, SECCOMP_DATA.argLow(0)),
    insn(BPF.JSET_K, CLONE_NAMESPACE_FLAGS, 0, 1),
    insn(BPF.RET_K, RET.ERRNO | EPERM),
  );
  p.push(insn(BPF.RET_K, RET.ALLOW));
  return encodeProgram(p);
}
