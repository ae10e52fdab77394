// `rootfs: {host: {}}`: a root made of the host's own system directories, downloading nothing and
// exposing nothing private. The lower layer is a small skeleton under <root>/hostroot/<digest>/:
//   bin → usr/bin, sbin, lib, lib64… mirrored from the host's merged-/usr symlinks
//   usr/ proc/ sys/ dev/ run/ tmp/ var/{tmp,log,cache,lib} mnt/   empty mount points
//   etc/                                                          the curated copy (host-etc.ts)
// and the layout binds the host's /usr read-only (nosuid, nodev) on top. A host whose /bin or
// /lib are real directories gets those bound read-only too. /root, /home, /srv, /opt, the state
// root and everything else under / are simply absent.
//
// The skeleton is rebuilt when its inputs change: the digest covers an lstat of every copied
// file (type, size, mtime, inode, owner, mode, link target), so checking costs a few hundred
// lstats and no reads. Old versions stay until GC, because a container may be using one.

import { createHash, randomBytes, type Hash } from 'node:crypto';
import {
  chmodSync, chownSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync,
  symlinkSync, utimesSync, writeFileSync, type Stats,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { CorralError } from '../../errors.js';
import { layout } from '../../state/layout.js';
import { asSyscallError, ensureDir, errnoCode, exists, removeTree } from './fs-util.js';
import { deniedEtcPath, ETC_DIRS, ETC_FILES, filterGroup, filterPasswd } from './host-etc.js';
import type { BindSpec } from './rootfs-layout.js';

/** Bump when the skeleton's shape changes, so every host rebuilds it. */
const SKELETON_VERSION = 1;
const TOP_LEVEL_LIB_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];
const MAX_COPY_BYTES = 32 << 20;
const MAX_DIR_ENTRIES = 20_000;

export interface HostRootOptions {
  /** The host's root directory; `/` except in tests. */
  readonly host?: string;
}

export interface HostRoot {
  /** The skeleton: the container's only lower layer. */
  readonly dir: string;
  readonly digest: string;
  readonly binds: readonly BindSpec[];
}

type TopLevel = { readonly name: string; readonly kind: 'symlink'; readonly target: string } | { readonly name: string; readonly kind: 'bind' };

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return null;
    throw asSyscallError(err, `inspect \`${path}\``);
  }
}

/** bin, lib…: symlinks into usr/ are mirrored; real directories are bound read-only. */
function topLevel(host: string): TopLevel[] {
  const out: TopLevel[] = [];
  for (const name of TOP_LEVEL_LIB_DIRS) {
    const st = lstatOrNull(join(host, name));
    if (!st) continue;
    if (st.isSymbolicLink()) {
      const target = readlinkSync(join(host, name));
      const inUsr = resolve('/', target);
      if (inUsr === '/usr' || inUsr.startsWith('/usr/')) out.push({ name, kind: 'symlink', target });
    } else if (st.isDirectory()) {
      out.push({ name, kind: 'bind' });
    }
  }
  return out;
}

/** Every /etc path to copy (relative), walking allowlisted directories; denied paths never appear. */
function etcPaths(host: string): string[] {
  const etc = join(host, 'etc');
  const out: string[] = [];
  for (const rel of ETC_FILES) if (!deniedEtcPath(rel) && lstatOrNull(join(etc, rel))) out.push(rel);
  const walk = (rel: string): void => {
    if (deniedEtcPath(rel) || out.length > MAX_DIR_ENTRIES) return;
    const st = lstatOrNull(join(etc, rel));
    if (!st) return;
    out.push(rel);
    if (st.isDirectory()) for (const name of readdirSync(join(etc, rel)).sort()) walk(`${rel}/${name}`);
  };
  for (const dir of ETC_DIRS) walk(dir);
  return out;
}

function hashStat(hash: Hash, rel: string, path: string): void {
  const st = lstatOrNull(path);
  if (!st) return;
  const link = st.isSymbolicLink() ? readlinkSync(path) : '';
  hash.update(`${rel}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeMs}\0${st.ino}\0${link}\n`);
}

interface Plan {
  readonly digest: string;
  readonly top: readonly TopLevel[];
  readonly etc: readonly string[];
}

function plan(host: string): Plan {
  const hash = createHash('sha256').update(`corral-hostroot-v${SKELETON_VERSION}\n`);
  const top = topLevel(host);
  for (const t of top) hash.update(`top ${t.name} ${t.kind} ${t.kind === 'symlink' ? t.target : ''}\n`);
  const etc = etcPaths(host);
  for (const rel of etc) hashStat(hash, rel, join(host, 'etc', rel));
  return { digest: `sha256:${hash.digest('hex')}`, top, etc };
}

/** The skeleton's digest for the host as it is now (cheap: lstats only). */
export function hostRootDigest(options: HostRootOptions = {}): string {
  return plan(options.host ?? '/').digest;
}

export function hostRootDir(root: string, digest: string): string {
  return join(layout(root).hostRootDir, digest.replace(/^sha256:/, '').slice(0, 32));
}

function copyEntry(src: string, dst: string, rel: string): void {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
    return;
  }
  if (st.isDirectory()) {
    mkdirSync(dst, { mode: 0o755 });
  } else if (st.isFile()) {
    if (st.size > MAX_COPY_BYTES) return;
    if (rel === 'passwd' || rel === 'group') return; // written filtered by the caller
    copyFileSync(src, dst);
  } else {
    return; // sockets, fifos and devices have no business in /etc
  }
  chownSync(dst, st.uid, st.gid);
  // setuid/setgid bits are never carried into the copy
  chmodSync(dst, st.mode & 0o1777);
  utimesSync(dst, st.atime, st.mtime);
}

function build(dir: string, host: string, p: Plan): void {
  for (const t of p.top) {
    if (t.kind === 'symlink') symlinkSync(t.target, join(dir, t.name));
    else mkdirSync(join(dir, t.name), { mode: 0o755 });
  }
  for (const d of ['usr', 'proc', 'sys', 'dev', 'run', 'mnt', 'etc', 'var', 'var/log', 'var/cache', 'var/lib']) mkdirSync(join(dir, d), { mode: 0o755 });
  for (const d of ['tmp', 'var/tmp']) {
    mkdirSync(join(dir, d));
    chmodSync(join(dir, d), 0o1777);
  }
  symlinkSync('../run', join(dir, 'var/run'));
  symlinkSync('../run/lock', join(dir, 'var/lock'));
  const etc = join(host, 'etc');
  for (const rel of p.etc) {
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    if (parent) mkdirSync(join(dir, 'etc', parent), { recursive: true, mode: 0o755 });
    copyEntry(join(etc, rel), join(dir, 'etc', rel), rel);
  }
  const passwdSrc = join(etc, 'passwd');
  const { text: passwd, users } = filterPasswd(exists(passwdSrc) ? readFileSync(passwdSrc, 'utf8') : '');
  writeFileSync(join(dir, 'etc/passwd'), passwd, { mode: 0o644 });
  const groupSrc = join(etc, 'group');
  writeFileSync(join(dir, 'etc/group'), filterGroup(exists(groupSrc) ? readFileSync(groupSrc, 'utf8') : '', users), { mode: 0o644 });
}

/** Refuses a state root the host binds would expose inside every host-root container. */
function checkStateRootHidden(root: string, binds: readonly BindSpec[]): void {
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    real = resolve(root);
  }
  for (const b of binds) {
    if (real === b.source || real.startsWith(`${b.source}/`)) {
      throw new CorralError('OVERLAY_UNSUPPORTED', `the state root \`${root}\` lies inside \`${b.source}\`, which \`rootfs: {host: {}}\` binds into containers`, {
        hint: 'move the state root (--root) out of the host system directories',
      });
    }
  }
}

/** Ensures the current skeleton exists (building it when the host changed) and returns it. */
export function ensureHostRoot(root: string, options: HostRootOptions = {}): HostRoot {
  const host = options.host ?? '/';
  const p = plan(host);
  const binds: BindSpec[] = [
    { source: join(host, 'usr'), target: '/usr', readOnly: true, options: ['nosuid', 'nodev'] },
    ...p.top.filter((t) => t.kind === 'bind').map((t): BindSpec => ({ source: join(host, t.name), target: `/${t.name}`, readOnly: true, options: ['nosuid', 'nodev'] })),
  ];
  checkStateRootHidden(root, binds);
  const dir = hostRootDir(root, p.digest);
  if (!exists(dir)) {
    const l = layout(root);
    ensureDir(l.tmpDir);
    ensureDir(l.hostRootDir);
    const stage = join(l.tmpDir, `hostroot-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(stage, { mode: 0o755 });
      build(stage, host, p);
      try {
        renameSync(stage, dir);
      } catch (err) {
        // another corral built the same version first
        if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
      }
    } catch (err) {
      throw asSyscallError(err, 'build the host root skeleton');
    } finally {
      removeTree(stage);
    }
  }
  return { dir, digest: p.digest, binds };
}
