// Extended attributes on a path, never following a final symlink (the l* calls): the image store
// marks opaque directories with `trusted.overlay.opaque` and restores file capabilities from layer
// archives. Reading returns null for "no such attribute" so callers need not match errnos.

import { constants } from 'node:os';
import { check, lastErrno, libcFunction, syscallError } from './libc.js';

export function lsetxattr(path: string, name: string, value: Buffer | string): void {
  const fn = libcFunction('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
  const buf = typeof value === 'string' ? Buffer.from(value) : value;
  check(fn(path, name, buf, buf.length, 0) as number, 'lsetxattr', { path, name, size: buf.length });
}

/** The attribute's value, or null when the file has no attribute of that name. */
export function lgetxattr(path: string, name: string): Buffer | null {
  const fn = libcFunction('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)');
  // Two calls: the size first, then the value. A concurrent change between them shows as ERANGE.
  const size = Number(fn(path, name, null, 0));
  if (size < 0) {
    const errno = lastErrno();
    if (errno === constants.errno.ENODATA) return null;
    throw syscallError('lgetxattr', { path, name }, errno);
  }
  const buf = Buffer.alloc(size);
  const got = Number(fn(path, name, buf, size));
  if (got < 0) throw syscallError('lgetxattr', { path, name });
  return buf.subarray(0, got);
}

export function llistxattr(path: string): string[] {
  const fn = libcFunction('long llistxattr(const char *path, _Out_ uint8_t *list, size_t size)');
  const size = Number(fn(path, null, 0));
  if (size < 0) throw syscallError('llistxattr', { path });
  if (size === 0) return [];
  const buf = Buffer.alloc(size);
  const got = Number(fn(path, buf, size));
  if (got < 0) throw syscallError('llistxattr', { path });
  return buf.subarray(0, got).toString('latin1').split('\0').filter((n) => n !== '');
}

// String-valued conveniences (cgroup ownership marks). Added by the lead so the cgroups and
// overlay drivers share this one file.

/** The attribute as UTF-8 text, or null when absent. */
export function getXattr(path: string, name: string): string | null {
  return lgetxattr(path, name)?.toString('utf8') ?? null;
}

export function setXattr(path: string, name: string, value: string): void {
  lsetxattr(path, name, value);
}

/** The filesystem keeps no extended attributes (or none in this namespace). */
export function isXattrUnsupported(errnoName: string): boolean {
  return errnoName === 'EOPNOTSUPP' || errnoName === 'ENOTSUP';
}
