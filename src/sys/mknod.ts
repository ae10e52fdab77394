// mknod(2): the two special files an image store needs. An overlay whiteout is a character device
// 0/0 (Documentation/filesystems/overlayfs.rst, "whiteouts and opaque directories"); a FIFO is
// harmless and some images ship them. Real device nodes are never created here: images are refused
// or stripped of them before this layer is reached.

import { check, libcFunction } from './libc.js';

const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;

function mknod(path: string, mode: number, dev: bigint, kind: string): void {
  const fn = libcFunction('int mknod(const char *path, uint32_t mode, uint64_t dev)');
  check(fn(path, mode, dev) as number, 'mknod', { path, kind, mode: `0${mode.toString(8)}` });
}

/** Creates an overlay whiteout (char device 0/0, mode 0) at `path`, which must not exist. */
export function mknodWhiteout(path: string): void {
  mknod(path, S_IFCHR, 0n, 'whiteout (char 0/0)');
}

/** Creates a named pipe with the given permission bits at `path`, which must not exist. */
export function mkfifo(path: string, perm: number): void {
  mknod(path, S_IFIFO | (perm & 0o7777), 0n, 'fifo');
}
