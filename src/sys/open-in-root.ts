// Reading a small file (/etc/passwd, /etc/group…) out of a container's root filesystem from the
// host. corral runs as root on the host and the directory it reads from (an image layer, a
// container's upper dir, /proc/PID/root of a running container) is written by the container: an
// ordinary open would follow a planted `/etc/passwd -> /etc/shadow`, `../../..`, or
// `/proc/self/root/...` out to the host's own files, and would block on a planted FIFO or act on a
// planted device node. Every lookup here goes through openat2(2) with the root as the root of the
// lookup (RESOLVE_IN_ROOT: absolute symlinks and `..` stay inside it) and with /proc magic links
// refused (RESOLVE_NO_MAGICLINKS: they jump anywhere, whatever the root). RESOLVE_NO_XDEV is not
// set: a running container legitimately has mounts under its /proc/PID/root.
//
// The file is first opened with O_PATH, which opens nothing (no FIFO wait, no device open, no
// lease break), and checked with fstat; only a regular file is then opened for reading, through
// /proc/self/fd of that O_PATH descriptor, so the inode read is the very inode checked (a path
// looked up a second time could have been swapped for a device node meanwhile).

import { closeSync, constants as fsConstants, fstatSync, readSync, type BigIntStats, type Stats } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { CorralError } from '../errors.js';
import { errnoName, lastErrno, rawSyscall, syscallError } from './libc.js';

/** openat2(2): the same number on x86-64 and arm64 (the generic table); Linux 5.6+. */
const SYS_OPENAT2 = 437;
/** struct open_how: u64 flags, u64 mode, u64 resolve. */
const OPEN_HOW_SIZE = 24;
const AT_FDCWD = -100;

export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10 } as const;
const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;
const SCOPED = RESOLVE.IN_ROOT | RESOLVE.BENEATH;

// Node's fs.constants lacks O_PATH and O_CLOEXEC; both are the same on x86-64 and arm64. The others
// differ between the two (O_NOFOLLOW, O_DIRECTORY), so they come from Node.
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const { O_RDONLY, O_NOCTTY, O_NONBLOCK, O_NOFOLLOW, O_DIRECTORY } = fsConstants;

/**
 * A lookup racing with a rename or mount elsewhere makes a scoped openat2 fail with EAGAIN rather
 * than risk an escape; the kernel asks the caller to retry. A few times is plenty: a container
 * that keeps renaming to starve corral gets an error, not a loop.
 */
const MAX_RACE_RETRIES = 16;
const READ_CHUNK = 64 * 1024;

const TOO_LARGE_CODE = 'CONTAINER_FILE_TOO_LARGE';

export type InRootType = 'file' | 'directory' | 'symlink' | 'char' | 'other';

export interface InRootStat {
  readonly type: InRootType;
  /** The device number (st_rdev) of a device node; 0n for everything else. An overlay whiteout is a char device 0:0. */
  readonly rdev: bigint;
}

/** openat2 retrying EINTR (and EAGAIN for scoped lookups): the fd, or minus the errno. */
function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const how = Buffer.alloc(OPEN_HOW_SIZE);
  how.writeBigUInt64LE(BigInt(flags), 0);
  // mode (offset 8) stays 0: the kernel refuses a mode without O_CREAT/O_TMPFILE.
  how.writeBigUInt64LE(BigInt(resolve), 16);
  for (let races = 0; ;) {
    const fd = Number(rawSyscall()(SYS_OPENAT2, 'int', dirfd, 'str', path, 'uint8_t *', how, 'size_t', OPEN_HOW_SIZE));
    if (fd >= 0) return fd;
    const errno = lastErrno();
    if (errno === osConstants.errno.EINTR) continue;
    if (errno === osConstants.errno.EAGAIN && (resolve & SCOPED) !== 0 && ++races < MAX_RACE_RETRIES) continue;
    return -errno;
  }
}

function flagNames(flags: number): string {
  const names: Array<[number, string]> = [[O_PATH, 'O_PATH'], [O_DIRECTORY, 'O_DIRECTORY'], [O_NOFOLLOW, 'O_NOFOLLOW'],
    [O_NOCTTY, 'O_NOCTTY'], [O_NONBLOCK, 'O_NONBLOCK'], [O_CLOEXEC, 'O_CLOEXEC']];
  const set = names.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  return set.length ? set.join('|') : 'O_RDONLY';
}

// A JS string with a NUL would reach the kernel cut short at it: a different path than asked.
function checkPath(path: string, rootName: string): void {
  if (path.includes('\0')) {
    throw new CorralError('CONTAINER_PATH_UNSAFE', `a path inside the container root \`${rootName}\` holds a NUL byte; refused`, {
      detail: `path ${JSON.stringify(path)}`,
    });
  }
}

/**
 * Opens `path` inside the root with `flags`. Null when it, or a directory on the way, does not
 * exist. A symlink loop, a /proc magic link or a detected escape (ELOOP, EXDEV) is refused as
 * CONTAINER_PATH_UNSAFE; any other failure is a SyscallError.
 */
function openInRoot(rootFd: number, path: string, flags: number, rootName: string): number | null {
  checkPath(path, rootName);
  const r = openat2(rootFd, path, flags | O_CLOEXEC, IN_ROOT);
  if (r >= 0) return r;
  const errno = -r;
  if (errno === osConstants.errno.ENOENT || errno === osConstants.errno.ENOTDIR) return null;
  const cause = syscallError('openat2', { root: rootName, path, flags: flagNames(flags | O_CLOEXEC), resolve: 'RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS' }, errno);
  if (errno === osConstants.errno.ELOOP || errno === osConstants.errno.EXDEV) {
    throw new CorralError('CONTAINER_PATH_UNSAFE', `\`${path}\` in the container root \`${rootName}\` passes through a /proc magic link, loops, or leaves the root; refused`, {
      detail: `openat2 failed with ${errnoName(errno)}: symlinks inside a container root are followed only within it, and /proc magic links (/proc/*/root, /proc/*/fd/*, /proc/*/cwd, /proc/*/exe) not at all`,
      cause,
    });
  }
  throw cause;
}

function typeName(st: Stats | BigIntStats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

/** Reads at most maxBytes + 1 bytes: one more than allowed tells an oversize file whatever fstat said. */
function readCapped(fd: number, maxBytes: number): Buffer | null {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(READ_CHUNK, maxBytes + 1 - total);
    if (want === 0) return null;
    const chunk = Buffer.allocUnsafe(want);
    const n = readSync(fd, chunk, 0, want, null);
    if (n === 0) return Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, n));
    total += n;
  }
}

/**
 * An O_PATH directory fd naming `root`, for the *Fd functions. `root` is a host path corral chose
 * (it may be /proc/PID/root: following that magic link is the point), so it is looked up as usual.
 * Throws a SyscallError when it is missing or not a directory (ENOENT: the container is gone).
 * Close it with fs.closeSync.
 */
export function openRootFd(root: string): number {
  const flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  const fd = openat2(AT_FDCWD, root, flags, 0);
  if (fd < 0) throw syscallError('openat2', { path: root, flags: flagNames(flags) }, -fd);
  return fd;
}

/**
 * Reads `path` (absolute or relative, as the container sees it) inside the directory `root` as if
 * `root` were "/": symlinks and `..` resolve inside it, /proc magic links are refused.
 * Returns null when the file (or a directory on the way) does not exist (ENOENT, ENOTDIR).
 * Refuses with CONTAINER_PATH_UNSAFE anything that is not a regular file (without opening it for
 * reading), a magic link or symlink loop on the way, and a file larger than maxBytes.
 * A missing `root` itself is a SyscallError (ENOENT), not null.
 */
export function readFileInRoot(root: string, path: string, maxBytes: number): Buffer | null {
  const rootFd = openRootFd(root);
  try {
    return readFileInRootFd(rootFd, path, maxBytes, root);
  } finally {
    closeSync(rootFd);
  }
}

/** The same from an already-open directory fd (O_PATH or O_DIRECTORY) naming the root; rootName is for messages. */
export function readFileInRootFd(rootFd: number, path: string, maxBytes: number, rootName: string): Buffer | null {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new CorralError('INTERNAL', `readFileInRoot: maxBytes must be a non-negative integer, not ${maxBytes}`);
  }
  const pathFd = openInRoot(rootFd, path, O_PATH, rootName);
  if (pathFd === null) return null;
  let fd = -1;
  try {
    const st = fstatSync(pathFd);
    if (!st.isFile()) {
      throw new CorralError('CONTAINER_PATH_UNSAFE', `\`${path}\` in the container root \`${rootName}\` is ${typeName(st)}, not a regular file; refused`, {
        detail: 'corral reads only regular files from a container root: a FIFO would block it, a device node could act on a host device',
      });
    }
    if (st.size > maxBytes) throw tooLarge(path, rootName, maxBytes);
    // Reopen the inode just checked. O_NONBLOCK: a container process holding a write lease on the
    // file would otherwise make this open wait for the lease break (45 s by default) on the
    // agent's main thread; with it the open fails with EWOULDBLOCK instead. O_NOCTTY cannot
    // matter for a regular file and costs nothing.
    const flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    fd = openat2(AT_FDCWD, `/proc/self/fd/${pathFd}`, flags, 0);
    if (fd < 0) {
      const errno = -fd;
      fd = -1;
      throw syscallError('openat2', { root: rootName, path, reopen: `/proc/self/fd/${pathFd}`, flags: flagNames(flags) }, errno);
    }
    const data = readCapped(fd, maxBytes);
    // /proc and sysfs files report a size of 0 or 4096 whatever they hold: the read decides.
    if (data === null) throw tooLarge(path, rootName, maxBytes);
    return data;
  } finally {
    if (fd >= 0) closeSync(fd);
    closeSync(pathFd);
  }
}

function tooLarge(path: string, rootName: string, maxBytes: number): CorralError {
  return new CorralError(TOO_LARGE_CODE, `\`${path}\` in the container root \`${rootName}\` is larger than ${maxBytes} bytes; refused`, {
    detail: 'corral reads only small files from a container root, with a size limit, so a container cannot make it hold a huge file in memory',
  });
}

/**
 * The file type at `path` inside `root` without following a final symlink (a final /proc magic
 * link is reported as a symlink, not followed), or null when absent. Symlinks on the way resolve
 * inside the root. Notices overlay whiteouts (`char`, rdev 0n) and symlinks.
 */
export function lstatInRoot(root: string, path: string): InRootStat | null {
  const rootFd = openRootFd(root);
  try {
    return lstatInRootFd(rootFd, path, root);
  } finally {
    closeSync(rootFd);
  }
}

/** The same from an already-open directory fd naming the root; rootName is for messages. */
export function lstatInRootFd(rootFd: number, path: string, rootName: string): InRootStat | null {
  const fd = openInRoot(rootFd, path, O_PATH | O_NOFOLLOW, rootName);
  if (fd === null) return null;
  try {
    const st = fstatSync(fd, { bigint: true });
    const type: InRootType = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink'
      : st.isCharacterDevice() ? 'char' : 'other';
    return { type, rdev: st.isCharacterDevice() || st.isBlockDevice() ? st.rdev : 0n };
  } finally {
    closeSync(fd);
  }
}
