// FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR: an inode's extended flags and project id (struct fsxattr),
// the kernel interface behind project quotas on XFS and ext4. A directory with
// FS_XFLAG_PROJINHERIT hands its project id to everything created in it.
//
// The ioctls need an open file. Only directories and regular files are opened here: opening a
// device node could act on the device, a FIFO could block, and a symlink cannot be opened without
// following it.

import { closeSync, constants as fsConstants, fstatSync, openSync } from 'node:fs';
import { check, errnoName, lastErrno, libcFunction, rawSyscall, syscallError } from './libc.js';

/** struct fsxattr (linux/fs.h): xflags, extsize, nextents, projid, cowextsize, 8 bytes of padding. */
const FSXATTR_SIZE = 28;
/** _IOR('X', 31, struct fsxattr) and _IOW('X', 32, struct fsxattr). */
const FS_IOC_FSGETXATTR = 0x801c581f;
const FS_IOC_FSSETXATTR = 0x401c5820;

export const FS_XFLAG_PROJINHERIT = 0x200;

export interface FsXattr {
  readonly xflags: number;
  readonly projid: number;
}

// glibc declares ioctl variadic; on x86-64 and arm64 Linux a pointer in the third slot is passed
// the same way either way, and a fixed prototype lets koffi hand the Buffer over in place.
const ioctl = () => libcFunction('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)');

function getRaw(fd: number, path: string): Buffer {
  const buf = Buffer.alloc(FSXATTR_SIZE);
  check(ioctl()(fd, FS_IOC_FSGETXATTR, buf) as number, 'ioctl', { path, request: 'FS_IOC_FSGETXATTR' });
  return buf;
}

export function getFsxattr(fd: number, path: string): FsXattr {
  const buf = getRaw(fd, path);
  return { xflags: buf.readUInt32LE(0), projid: buf.readUInt32LE(12) };
}

/**
 * Sets the project id and the flags in `setFlags`, keeping every other field as the kernel has it
 * (FSSETXATTR writes the whole struct, and XFS refuses changes to extent sizes it did not expect).
 */
export function setFsxattr(fd: number, path: string, projid: number, setFlags = 0): void {
  const buf = getRaw(fd, path);
  buf.writeUInt32LE((buf.readUInt32LE(0) | setFlags) >>> 0, 0);
  buf.writeUInt32LE(projid >>> 0, 12);
  check(ioctl()(fd, FS_IOC_FSSETXATTR, buf) as number, 'ioctl', {
    path, request: 'FS_IOC_FSSETXATTR', projid, xflags: `0x${buf.readUInt32LE(0).toString(16)}`,
  });
}

export type TaggableKind = 'directory' | 'file';

/**
 * Opens a directory or regular file for the ioctls, read-only, without following a final symlink
 * and without blocking; checks after opening that it is still of `kind` (the path may have been
 * swapped meanwhile). Returns null when it is of another type or gone.
 */
export function openForXattr(path: string, kind: TaggableKind): number | null {
  const flags = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY
    | (kind === 'directory' ? fsConstants.O_DIRECTORY : 0);
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP: a symlink now; ENOTDIR: no longer a directory; ENOENT: deleted meanwhile.
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') return null;
    throw err;
  }
  const st = fstatSync(fd);
  if (kind === 'directory' ? st.isDirectory() : st.isFile()) return fd;
  closeSync(fd);
  return null;
}

/** The fsxattr of a directory or regular file, or null when `path` is neither. */
export function readFsxattr(path: string, kind: TaggableKind = 'directory'): FsXattr | null {
  const fd = openForXattr(path, kind);
  if (fd === null) return null;
  try {
    return getFsxattr(fd, path);
  } finally {
    closeSync(fd);
  }
}

// file_getattr(2)/file_setattr(2) (Linux 6.17): the same attributes by path, for inodes the
// ioctls cannot reach (symlinks, device nodes, FIFOs, sockets), never following a final symlink.
// Same number on x86-64 and arm64 (the generic table).
const SYS_FILE_GETATTR = 468;
const SYS_FILE_SETATTR = 469;
/** struct file_attr: fa_xflags (u64), fa_extsize, fa_nextents, fa_projid, fa_cowextsize. */
const FILE_ATTR_SIZE = 24;
const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
// Kernels before 6.17 (ENOSYS), and filesystems without attributes on special files (EOPNOTSUPP:
// ext4; ENOTTY or EINVAL from older stacks).
const NOT_SUPPORTED = new Set(['ENOSYS', 'EOPNOTSUPP', 'ENOTTY', 'EINVAL']);

/**
 * Sets the project id of any inode by path without following it. False when this kernel or
 * filesystem cannot do that for this inode (the caller then recreates it inside a directory that
 * hands the id down).
 */
export function setProjidByPath(path: string, projid: number): boolean {
  const sys = rawSyscall();
  const buf = Buffer.alloc(FILE_ATTR_SIZE);
  if (Number(sys(SYS_FILE_GETATTR, 'int', AT_FDCWD, 'str', path, 'uint8_t *', buf, 'size_t', FILE_ATTR_SIZE, 'uint', AT_SYMLINK_NOFOLLOW)) < 0) {
    const errno = lastErrno();
    if (NOT_SUPPORTED.has(errnoName(errno))) return false;
    throw syscallError('file_getattr', { path }, errno);
  }
  if (buf.readUInt32LE(16) === projid >>> 0) return true;
  buf.writeUInt32LE(projid >>> 0, 16);
  if (Number(sys(SYS_FILE_SETATTR, 'int', AT_FDCWD, 'str', path, 'uint8_t *', buf, 'size_t', FILE_ATTR_SIZE, 'uint', AT_SYMLINK_NOFOLLOW)) < 0) {
    const errno = lastErrno();
    if (NOT_SUPPORTED.has(errnoName(errno))) return false;
    throw syscallError('file_setattr', { path, projid }, errno);
  }
  return true;
}
