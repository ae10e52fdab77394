// Writes one layer's tar entries into a fresh directory, as an overlay lower layer:
// - OCI whiteouts (`.wh.NAME`) become overlay whiteouts (char 0/0) and opaque markers
//   (`.wh..wh..opq`) become `trusted.overlay.opaque=y` on their directory;
// - nothing is ever written outside `dest`: absolute names and `..` are refused, no path
//   component may be a symlink (so a symlink entry cannot redirect a later write), hard links
//   must name a file already in this layer;
// - symlinks are stored verbatim (they are resolved inside the container's root), except relative
//   ones that climb above the layer root, which only a hostile archive writes;
// - device nodes are refused (or dropped with `devices: 'skip'`): /dev is the runtime's job;
// - xattrs are restored only for file capabilities and `user.*`; `trusted.*` (overlay's own
//   metadata), other `security.*` and `user.overlay.*` from an archive are dropped.
//
// The directory is private staging (tmp/import-*), so no one races these checks.

import {
  closeSync, constants as fsConstants, fchmodSync, fchownSync, futimesSync, linkSync, lchownSync, lstatSync, lutimesSync,
  mkdirSync, openSync, rmSync, symlinkSync, unlinkSync, utimesSync, chmodSync, chownSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { CorralError, type ErrorCode } from '../../../errors.js';
import { mkfifo, mknodWhiteout } from '../../../sys/mknod.js';
import { lsetxattr } from '../../../sys/xattr.js';
import { asSyscallError, errnoCode } from '../fs-util.js';
import type { TarEntry } from './tar-reader.js';

export interface UnpackOptions {
  /** Device nodes other than a 0/0 whiteout: refuse the layer (default) or leave them out. */
  readonly devices?: 'refuse' | 'skip';
}

export interface UnpackReport {
  readonly entries: number;
  /** Bytes of file data written. */
  readonly bytes: number;
  readonly whiteouts: number;
  readonly opaqueDirs: number;
  /** Device nodes left out under `devices: 'skip'`. */
  readonly skippedDevices: readonly string[];
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

function entryError(code: ErrorCode, entry: TarEntry, problem: string, hint?: string): CorralError {
  return new CorralError(code, `entry \`${entry.path}\` (${entry.type}): ${problem}`, hint === undefined ? {} : { hint });
}

/** Archive path → components; refuses absolute paths and `..`. The layer root is []. */
function components(entry: TarEntry, raw: string, what: string): string[] {
  if (raw.startsWith('/')) throw entryError('IMAGE_UNSAFE_ENTRY', entry, `${what} \`${raw}\` is absolute`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw entryError('IMAGE_UNSAFE_ENTRY', entry, `${what} \`${raw}\` contains \`..\``);
  return parts;
}

/** True when a relative symlink target, read from the link's directory, climbs above the root. */
function climbsAboveRoot(linkDir: readonly string[], target: string): boolean {
  let depth = linkDir.length;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

function keepXattr(name: string): boolean {
  if (name === 'security.capability') return true;
  return name.startsWith('user.') && !name.startsWith('user.overlay.');
}

interface DirMeta {
  readonly abs: string;
  readonly depth: number;
  readonly entry: TarEntry;
}

export async function unpackLayer(entries: AsyncIterable<TarEntry>, dest: string, options: UnpackOptions = {}): Promise<UnpackReport> {
  const devices = options.devices ?? 'refuse';
  const owner = process.getuid?.() === 0;
  // Directories already checked to be real directories inside dest, by relative path.
  const knownDirs = new Set<string>(['']);
  // Directory metadata is applied last, deepest first: adding children changes a directory's mtime.
  const dirMeta = new Map<string, DirMeta>();
  let count = 0;
  let bytes = 0;
  let whiteouts = 0;
  let opaqueDirs = 0;
  const skippedDevices: string[] = [];

  const abs = (parts: readonly string[]): string => (parts.length ? join(dest, ...parts) : dest);

  /** Makes sure every parent of `parts` is a real directory under dest, creating missing ones. */
  const ensureParents = (entry: TarEntry, parts: readonly string[], upTo = parts.length - 1): void => {
    let rel = '';
    for (let i = 0; i < upTo; i++) {
      rel = rel ? `${rel}/${parts[i]}` : parts[i]!;
      if (knownDirs.has(rel)) continue;
      const p = abs(parts.slice(0, i + 1));
      let st;
      try {
        st = lstatSync(p);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw asSyscallError(err, `unpack \`${entry.path}\``);
        mkdirSync(p, { mode: 0o755 });
        knownDirs.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) throw entryError('IMAGE_UNSAFE_ENTRY', entry, `its path goes through the symlink \`${rel}\``, 'a layer must not write through its own symlinks');
      if (!st.isDirectory()) throw entryError('IMAGE_INVALID', entry, `its parent \`${rel}\` is not a directory`);
      knownDirs.add(rel);
    }
  };

  /** Clears whatever this layer already has at `parts` (keeping a directory when `keepDir`). */
  const clear = (parts: readonly string[], keepDir: boolean): boolean => {
    const p = abs(parts);
    let st;
    try {
      st = lstatSync(p);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    if (st.isDirectory()) {
      if (keepDir) return true;
      rmSync(p, { recursive: true, force: true });
      const rel = parts.join('/');
      for (const k of [...knownDirs]) if (k === rel || k.startsWith(`${rel}/`)) knownDirs.delete(k);
      for (const k of [...dirMeta.keys()]) if (k === rel || k.startsWith(`${rel}/`)) dirMeta.delete(k);
    } else {
      unlinkSync(p);
    }
    return false;
  };

  const applyOwner = (p: string, entry: TarEntry, fd?: number): void => {
    if (!owner) return;
    if (fd !== undefined) fchownSync(fd, entry.uid, entry.gid);
    else lchownSync(p, entry.uid, entry.gid);
  };

  const applyXattrs = (p: string, entry: TarEntry, isSymlink: boolean): void => {
    for (const [name, value] of entry.xattrs) {
      if (!keepXattr(name) || (isSymlink && name.startsWith('user.')) || (!owner && name === 'security.capability')) continue;
      lsetxattr(p, name, value);
    }
  };

  const writeFile = async (entry: TarEntry, p: string): Promise<void> => {
    const fd = openSync(p, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of entry.body()) {
        for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
        bytes += chunk.length;
      }
      // chown clears setuid bits and file capabilities, so mode and xattrs come after it.
      applyOwner(p, entry, fd);
      fchmodSync(fd, entry.mode);
      futimesSync(fd, entry.mtime, entry.mtime);
    } finally {
      closeSync(fd);
    }
    applyXattrs(p, entry, false);
  };

  const handle = async (entry: TarEntry): Promise<void> => {
    const parts = components(entry, entry.path, 'path');
    const name = parts[parts.length - 1] ?? '';

    if (name === OPAQUE_MARKER) {
      const dirParts = parts.slice(0, -1);
      ensureParents(entry, dirParts, dirParts.length);
      lsetxattr(abs(dirParts), OVERLAY_OPAQUE_XATTR, 'y');
      opaqueDirs++;
      return;
    }
    if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // AUFS bookkeeping (.wh..wh.plnk...), meaningless here
    if (name.startsWith(WHITEOUT_PREFIX)) {
      const hidden = name.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') throw entryError('IMAGE_UNSAFE_ENTRY', entry, `whiteout of \`${hidden}\` names no file`);
      const target = [...parts.slice(0, -1), hidden];
      ensureParents(entry, target);
      clear(target, false);
      mknodWhiteout(abs(target));
      whiteouts++;
      return;
    }

    if (parts.length === 0) {
      if (entry.type !== 'dir') throw entryError('IMAGE_INVALID', entry, 'the layer root can only be a directory');
      dirMeta.set('', { abs: dest, depth: 0, entry });
      return;
    }
    ensureParents(entry, parts);
    const p = abs(parts);
    const rel = parts.join('/');

    switch (entry.type) {
      case 'dir': {
        if (!clear(parts, true)) mkdirSync(p, { mode: 0o700 });
        knownDirs.add(rel);
        dirMeta.set(rel, { abs: p, depth: parts.length, entry });
        if (entry.xattrs.size) applyXattrs(p, entry, false);
        return;
      }
      case 'file':
        clear(parts, false);
        await writeFile(entry, p);
        return;
      case 'symlink': {
        if (entry.linkpath === '') throw entryError('IMAGE_INVALID', entry, 'symlink with an empty target');
        if (!entry.linkpath.startsWith('/') && climbsAboveRoot(parts.slice(0, -1), entry.linkpath)) {
          throw entryError('IMAGE_UNSAFE_ENTRY', entry, `symlink target \`${entry.linkpath}\` climbs above the image root`);
        }
        clear(parts, false);
        symlinkSync(entry.linkpath, p);
        applyOwner(p, entry);
        lutimesSync(p, entry.mtime, entry.mtime);
        applyXattrs(p, entry, true);
        return;
      }
      case 'hardlink': {
        const targetParts = components(entry, entry.linkpath, 'hard link target');
        if (targetParts.length === 0) throw entryError('IMAGE_UNSAFE_ENTRY', entry, 'hard link to the layer root');
        ensureParents(entry, targetParts);
        const target = abs(targetParts);
        let st;
        try {
          st = lstatSync(target);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') throw entryError('IMAGE_INVALID', entry, `hard link target \`${entry.linkpath}\` is not in this layer`, 'corral does not link across layers');
          throw err;
        }
        if (!st.isFile() && !st.isSymbolicLink()) throw entryError('IMAGE_UNSAFE_ENTRY', entry, `hard link target \`${entry.linkpath}\` is not a regular file`);
        if (target === p) return;
        clear(parts, false);
        linkSync(target, p);
        return;
      }
      case 'fifo':
        clear(parts, false);
        mkfifo(p, entry.mode);
        applyOwner(p, entry);
        return;
      case 'char':
      case 'block': {
        // Some exporters write overlay whiteouts directly; a 0/0 char device opens nothing.
        if (entry.type === 'char' && entry.devmajor === 0 && entry.devminor === 0) {
          clear(parts, false);
          mknodWhiteout(p);
          whiteouts++;
          return;
        }
        if (devices === 'skip') {
          skippedDevices.push(rel);
          return;
        }
        throw entryError('IMAGE_UNSAFE_ENTRY', entry, `device node ${entry.devmajor}:${entry.devminor} in an image`, 'import with --skip-devices to leave device nodes out (the runtime provides /dev)');
      }
    }
  };

  for await (const entry of entries) {
    count++;
    try {
      await handle(entry);
    } catch (err) {
      throw asSyscallError(err, `unpack \`${entry.path}\``);
    }
  }

  const dirs = [...dirMeta.values()].sort((a, b) => b.depth - a.depth);
  for (const { abs: p, entry } of dirs) {
    try {
      if (owner) chownSync(p, entry.uid, entry.gid);
      chmodSync(p, entry.mode);
      utimesSync(p, entry.mtime, entry.mtime);
    } catch (err) {
      throw asSyscallError(err, `set metadata of \`${entry.path}\``);
    }
  }
  return { entries: count, bytes, whiteouts, opaqueDirs, skippedDevices };
}
