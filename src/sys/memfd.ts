// Sealed memfds: an in-memory file that, once sealed, nobody can write, grow or shrink again —
// not even through /proc/PID/exe of a process executing it.

import { readFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { check, lastErrno, libcFunction, syscallError } from './libc.js';

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
/** 6.3+: executable memfds must say so when `vm.memfd_noexec` is set; older kernels refuse the flag. */
const MFD_EXEC = 0x10;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
export const SEALS = { SEAL: 0x1, SHRINK: 0x2, GROW: 0x4, WRITE: 0x8 } as const;
const ALL_SEALS = SEALS.SEAL | SEALS.SHRINK | SEALS.GROW | SEALS.WRITE;

function memfdCreate(name: string, flags: number): number {
  return libcFunction('int memfd_create(const char *name, unsigned int flags)')(name, flags) as number;
}

function fcntlInt(fd: number, cmd: number, arg: number): number {
  return libcFunction('int fcntl(int fd, int cmd, ...)')(fd, cmd, 'int', arg) as number;
}

/** A close-on-exec memfd holding a copy of `path`, sealed against every change. Returns the fd. */
export function sealedCopy(path: string, name: string, executable: boolean): number {
  const base = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  let fd = memfdCreate(name, base | (executable ? MFD_EXEC : 0));
  if (fd < 0 && executable && lastErrno() === constants.errno.EINVAL) fd = memfdCreate(name, base);
  check(fd, 'memfd_create', { name, flags: base });
  const bytes = readFileSync(path);
  for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
  if (fcntlInt(fd, F_ADD_SEALS, ALL_SEALS) < 0) throw syscallError('fcntl', { fd, cmd: 'F_ADD_SEALS', seals: ALL_SEALS });
  return fd;
}

/** The seals of fd, or null when it is not a memfd. */
export function seals(fd: number): number | null {
  const r = fcntlInt(fd, F_GET_SEALS, 0);
  if (r >= 0) return r;
  if (lastErrno() === constants.errno.EINVAL) return null;
  throw syscallError('fcntl', { fd, cmd: 'F_GET_SEALS' });
}
