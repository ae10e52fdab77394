// mount(2), umount2(2) and the new mount API (fsopen/fsconfig/fsmount/move_mount), which takes
// options one by one and so has no page-size limit on overlay `lowerdir` lists.

import { check, libcFunction, rawSyscall, SYSCALL_NUMBERS, syscallError } from './libc.js';

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20, MANDLOCK: 0x40,
  DIRSYNC: 0x80, NOSYMFOLLOW: 0x100, NOATIME: 0x400, NODIRATIME: 0x800, BIND: 0x1000, MOVE: 0x2000,
  REC: 0x4000, SILENT: 0x8000, UNBINDABLE: 0x20000, PRIVATE: 0x40000, SLAVE: 0x80000, SHARED: 0x100000,
  RELATIME: 0x200000, STRICTATIME: 0x1000000, LAZYTIME: 0x2000000,
} as const;

export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4, NOFOLLOW: 8 } as const;

/** `MS_BIND|MS_REC`: flags by name, for error messages. */
export function mountFlagNames(flags: number): string {
  const names = Object.entries(MS).filter(([, bit]) => (flags & bit) !== 0).map(([name]) => `MS_${name}`);
  return names.length ? names.join('|') : '0';
}

export interface MountRequest {
  readonly source: string | null;
  readonly target: string;
  readonly fstype: string | null;
  readonly flags?: number;
  readonly data?: string | null;
}

export function mount(req: MountRequest): void {
  const fn = libcFunction('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
  const flags = req.flags ?? 0;
  check(fn(req.source, req.target, req.fstype, flags, req.data ?? null) as number, 'mount', {
    source: req.source, target: req.target, fstype: req.fstype, flags: mountFlagNames(flags), data: req.data,
  });
}

export function umount2(target: string, flags = 0): void {
  const fn = libcFunction('int umount2(const char *target, int flags)');
  check(fn(target, flags) as number, 'umount2', { target, flags: flags ? Object.entries(MNT).filter(([, b]) => flags & b).map(([n]) => `MNT_${n}`).join('|') : undefined });
}

const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const AT_FDCWD = -100;

/**
 * Mounts a filesystem through the new mount API: each option is its own fsconfig call, so long
 * option strings (overlay with many lower layers) never hit mount(2)'s one-page data limit.
 * Options with a null value are flags (`ro`).
 */
export function mountWithFsApi(fstype: string, target: string, options: ReadonlyArray<readonly [string, string | null]>, attrFlags = 0): void {
  const sys = rawSyscall();
  const close = libcFunction('int close(int fd)');
  const n = SYSCALL_NUMBERS;
  const fsfd = Number(sys(n.fsopen, 'str', fstype, 'uint', 1 /* FSOPEN_CLOEXEC */));
  if (fsfd < 0) throw syscallError('fsopen', { fstype });
  let mfd = -1;
  try {
    for (const [key, value] of options) {
      const r = value === null
        ? sys(n.fsconfig, 'int', fsfd, 'uint', FSCONFIG.SET_FLAG, 'str', key, 'void *', null, 'int', 0)
        : sys(n.fsconfig, 'int', fsfd, 'uint', FSCONFIG.SET_STRING, 'str', key, 'str', value, 'int', 0);
      if (Number(r) < 0) throw syscallError('fsconfig', { fstype, key, value: value ?? undefined });
    }
    if (Number(sys(n.fsconfig, 'int', fsfd, 'uint', FSCONFIG.CMD_CREATE, 'void *', null, 'void *', null, 'int', 0)) < 0) {
      throw syscallError('fsconfig', { fstype, cmd: 'FSCONFIG_CMD_CREATE' });
    }
    mfd = Number(sys(n.fsmount, 'int', fsfd, 'uint', 1 /* FSMOUNT_CLOEXEC */, 'uint', attrFlags));
    if (mfd < 0) throw syscallError('fsmount', { fstype });
    if (Number(sys(n.move_mount, 'int', mfd, 'str', '', 'int', AT_FDCWD, 'str', target, 'uint', MOVE_MOUNT_F_EMPTY_PATH)) < 0) {
      throw syscallError('move_mount', { fstype, target });
    }
  } finally {
    if (mfd >= 0) close(mfd);
    close(fsfd);
  }
}
