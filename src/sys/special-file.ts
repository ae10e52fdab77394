// mknod(2) for any special file: re-creating a device node, FIFO, socket or overlay whiteout in
// place (a project id can only be given to such an inode on some kernels by creating it again
// inside a directory that hands its id down). src/sys/mknod.ts keeps the image store's two kinds.

import { check, libcFunction } from './libc.js';

/** `mode` carries the file type bits (S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK) and the permissions. */
export function mknodAny(path: string, mode: number, rdev: bigint): void {
  const fn = libcFunction('int mknod(const char *path, uint32_t mode, uint64_t dev)');
  check(fn(path, mode, rdev) as number, 'mknod', { path, mode: `0${mode.toString(8)}`, rdev: rdev === 0n ? undefined : `0x${rdev.toString(16)}` });
}
