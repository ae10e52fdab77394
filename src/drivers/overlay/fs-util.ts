// Small filesystem helpers shared by the overlay driver, the image store and GC: atomic writes,
// mount-safe recursive removal, disk usage, and turning Node's fs errors into SyscallErrors so
// every failure carries the call, the path and the errno.

import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CorralError, SyscallError } from '../../errors.js';
import { describeErrno } from '../../sys/libc.js';
import { mountsAtOrBelow } from './mountinfo.js';

interface NodeFsError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  dest?: string;
}

function isNodeFsError(err: unknown): err is NodeFsError {
  // Duck-typed: errors from another realm (vm contexts, test runners) fail instanceof Error.
  return typeof err === 'object' && err !== null && typeof (err as NodeFsError).code === 'string' && typeof (err as NodeFsError).syscall === 'string';
}

/** A Node fs error as a SyscallError (call, path, errno name); anything else unchanged. */
export function asSyscallError(err: unknown, context?: string): unknown {
  if (!isNodeFsError(err)) return err;
  const errno = Math.abs(err.errno ?? constants.errno.EIO);
  const args: Record<string, unknown> = { path: err.path, dest: err.dest };
  return new SyscallError(err.syscall!, args, errno, err.code!, describeErrno(errno), context);
}

/** Runs a synchronous fs step; failures become SyscallErrors with `context` in front. */
export function fsStep<T>(context: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw asSyscallError(err, context);
  }
}

export function errnoCode(err: unknown): string | undefined {
  return isNodeFsError(err) ? err.code : (err as { errnoName?: string } | null)?.errnoName;
}

/** mkdir -p; the last component gets `mode` when created (store directories are 0700). */
export function ensureDir(path: string, mode = 0o700): void {
  fsStep(`create directory \`${path}\``, () => mkdirSync(path, { recursive: true, mode }));
}

/**
 * Replaces `path` with `data` atomically: a temp file in the same directory, fsync, rename, fsync
 * of the directory. A crash leaves the old content or the new one, never half a file.
 */
export function atomicWriteFile(path: string, data: string | Buffer, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  fsStep(`write \`${path}\``, () => {
    const fd = openSync(tmp, 'w', mode);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  });
}

/** Parsed JSON, or null when the file does not exist. */
export function readJson(path: string, maxBytes = 16 << 20): unknown {
  let text: string;
  try {
    if (lstatSync(path).size > maxBytes) throw new CorralError('STATE_CORRUPT', `\`${path}\` is larger than ${maxBytes} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw asSyscallError(err, `read \`${path}\``);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CorralError('STATE_CORRUPT', `\`${path}\` is not valid JSON`, { cause: err });
  }
}

export function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw asSyscallError(err, `inspect \`${path}\``);
  }
}

/**
 * rm -rf that refuses to descend through a mount: with an overlay or a bind mounted below `path`
 * it throws ROOTFS_BUSY and deletes nothing. Missing paths are fine (idempotent).
 */
export function removeTree(path: string): void {
  const busy = mountsAtOrBelow(path);
  if (busy.length > 0) {
    throw new CorralError('ROOTFS_BUSY', `refusing to delete \`${path}\`: ${busy.length === 1 ? 'a filesystem is' : `${busy.length} filesystems are`} mounted inside`, {
      detail: busy.map((m) => `${m.fstype} on ${m.mountPoint}`).join('; '),
      hint: 'unmount it first (a container still running, or a mount left by a crash)',
    });
  }
  fsStep(`delete \`${path}\``, () => rmSync(path, { recursive: true, force: true, maxRetries: 3 }));
}

export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw asSyscallError(err, `delete \`${path}\``);
  }
}

/** Names in a directory, or [] when it does not exist. */
export function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw asSyscallError(err, `list \`${path}\``);
  }
}

/**
 * Bytes a tree occupies on disk (allocated blocks, hard-linked inodes counted once), without
 * following symlinks or crossing into other filesystems.
 */
export function diskUsage(path: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (p: string, dev: number): void => {
    let st;
    try {
      st = lstatSync(p, { bigint: false });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw asSyscallError(err, `measure \`${p}\``);
    }
    if (st.dev !== dev) return;
    const key = `${st.ino}`;
    if (st.nlink > 1 && !st.isDirectory()) {
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += st.blocks * 512;
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name), dev);
  };
  try {
    walk(path, lstatSync(path).dev);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw asSyscallError(err, `measure \`${path}\``);
  }
  return total;
}
