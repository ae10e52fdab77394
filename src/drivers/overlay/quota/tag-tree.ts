// Gives a directory tree one project id: every directory gets the id and FS_XFLAG_PROJINHERIT (so
// whatever is created below inherits it), every regular file the id. Run on a container's upper
// and work directories while it is stopped, so content written before a limit was asked is
// charged too.
//
// Directories are tagged before their entries (a special file re-created inside one inherits
// the id). Special files (symlinks, whiteouts and other device nodes, FIFOs, sockets) cannot be
// opened for the ioctl: file_setattr(2) sets their id where the kernel and filesystem allow it
// (6.17+, XFS); elsewhere (ext4, older kernels) each is re-created under a temporary name in its
// tagged directory — owner, mode, times and xattrs copied — and renamed over the original. Left
// untagged, such an entry could not be renamed or exchanged inside the tree any more: XFS and
// ext4 refuse (EXDEV) to move an inode into a PROJINHERIT directory of another id, which is what
// overlayfs does when a file is created where a whiteout is.
//
// Idempotent: a walk cut short by a SIGKILL is simply run again; a temporary name it left is
// removed when its directory is walked.

import { chmodSync, closeSync, lchownSync, lstatSync, lutimesSync, readdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { FS_XFLAG_PROJINHERIT, getFsxattr, openForXattr, setFsxattr, setProjidByPath, type TaggableKind } from '../../../sys/fsxattr.js';
import { mknodAny } from '../../../sys/special-file.js';
import { lgetxattr, llistxattr, lsetxattr } from '../../../sys/xattr.js';
import { errnoCode, fsStep } from '../fs-util.js';

/** Prefix of the temporary name a special file is re-created under. */
export const RETAG_PREFIX = '.corral-retag-';

export interface TagStats {
  directories: number;
  files: number;
  /** Special files given the id in place (file_setattr). */
  special: number;
  /** Special files re-created to get the id. */
  recreated: number;
  /** Entries that already had the id. */
  unchanged: number;
}

function tagOpen(path: string, kind: TaggableKind, id: number, stats: TagStats): void {
  const fd = fsStep(`open \`${path}\``, () => openForXattr(path, kind));
  if (fd === null) return;
  try {
    const flags = kind === 'directory' ? FS_XFLAG_PROJINHERIT : 0;
    const now = getFsxattr(fd, path);
    if (now.projid === id && (now.xflags & flags) === flags) {
      stats.unchanged++;
      return;
    }
    setFsxattr(fd, path, id, flags);
    stats[kind === 'directory' ? 'directories' : 'files']++;
  } finally {
    closeSync(fd);
  }
}

/** Re-creates a special file in place; the new inode inherits its directory's project id. */
function recreate(path: string, dir: string, st: BigIntStats): void {
  const tmp = join(dir, `${RETAG_PREFIX}${st.ino}`);
  fsStep(`re-create \`${path}\` to give it a project id`, () => {
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(path, { encoding: 'buffer' }), tmp);
    else mknodAny(tmp, Number(st.mode), st.rdev);
    try {
      lchownSync(tmp, Number(st.uid), Number(st.gid));
      // mknod's permissions went through the umask; symlinks have no mode of their own.
      if (!st.isSymbolicLink()) chmodSync(tmp, Number(st.mode) & 0o7777);
      for (const name of llistxattr(path)) {
        const value = lgetxattr(path, name);
        if (value !== null) lsetxattr(tmp, name, value);
      }
      lutimesSync(tmp, Number(st.atimeNs) / 1e9, Number(st.mtimeNs) / 1e9);
      renameSync(tmp, path);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // Gone already; a later walk removes it otherwise.
      }
      throw err;
    }
  });
}

function lstat(path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Tags `root` and everything below it (same filesystem only) with project `id`. */
export function tagTree(root: string, id: number): TagStats {
  const stats: TagStats = { directories: 0, files: 0, special: 0, recreated: 0, unchanged: 0 };
  const rootStat = fsStep(`inspect \`${root}\``, () => lstatSync(root, { bigint: true }));
  tagOpen(root, 'directory', id, stats);
  // An explicit stack: a container can nest directories deeper than the JavaScript stack.
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const names = fsStep(`list \`${dir}\``, () => readdirSync(dir));
    for (const name of names) {
      const path = join(dir, name);
      const st = fsStep(`inspect \`${path}\``, () => lstat(path));
      if (st === null || st.dev !== rootStat.dev) continue;
      if (name.startsWith(RETAG_PREFIX) && !st.isDirectory()) {
        // Left by a walk that was killed between re-creating and renaming.
        fsStep(`delete \`${path}\``, () => unlinkSync(path));
        continue;
      }
      if (st.isDirectory()) {
        tagOpen(path, 'directory', id, stats);
        pending.push(path);
      } else if (st.isFile()) {
        tagOpen(path, 'file', id, stats);
      } else if (setProjidByPath(path, id)) {
        stats.special++;
      } else {
        recreate(path, dir, st);
        stats.recreated++;
      }
    }
  }
  return stats;
}

/** `dir` itself carries `id` and hands it down. */
export function isTagged(dir: string, id: number): boolean {
  const fd = fsStep(`open \`${dir}\``, () => openForXattr(dir, 'directory'));
  if (fd === null) return false;
  try {
    const now = getFsxattr(fd, dir);
    return now.projid === id && (now.xflags & FS_XFLAG_PROJINHERIT) !== 0;
  } finally {
    closeSync(fd);
  }
}
