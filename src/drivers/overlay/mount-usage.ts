// Who uses a directory right now, seen from the kernel rather than from corral's records: every
// mount namespace on the host (one /proc/<pid>/mountinfo per namespace) is scanned for overlays
// naming the directory as a layer, upper or work dir, and for bind mounts of it. Containers mount
// their root and volumes inside their own namespaces, invisible in the agent's mount table, so
// this is what keeps GC and `volume rm` from pulling a directory out from under a running
// container whatever the state store says.

import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import type { MountEntry } from './mountinfo.js';

interface RawMount extends MountEntry {
  readonly dev: string;
  readonly root: string;
}

const unescape = (f: string): string => f.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function parseRaw(text: string): RawMount[] {
  const out: RawMount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6 || f.length < dash + 4) continue;
    out.push({ dev: f[2]!, device: f[2]!, root: unescape(f[3]!), mountPoint: unescape(f[4]!), mountOptions: f[5]!, fstype: f[dash + 1]!, source: unescape(f[dash + 2]!), superOptions: f[dash + 3]! });
  }
  return out;
}

/** All mounts of all mount namespaces this process can see, one namespace read once. */
export function allNamespaceMounts(): RawMount[] {
  const seen = new Set<string>();
  const out: RawMount[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
      if (seen.has(ns)) continue;
      const text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
      seen.add(ns);
      out.push(...parseRaw(text));
    } catch {
      // the process exited, or is not ours to read
    }
  }
  return out;
}

/** Directories an overlay names in its options (lowerdir, lowerdir+, upperdir, workdir). */
export function overlayDirs(superOptions: string): string[] {
  const out: string[] = [];
  for (const opt of superOptions.split(/(?<!\\),/)) {
    const eq = opt.indexOf('=');
    if (eq === -1) continue;
    const key = opt.slice(0, eq);
    const value = opt.slice(eq + 1).replace(/\\([,:\\])/g, '$1');
    if (key === 'lowerdir') out.push(...opt.slice(eq + 1).split(/(?<!\\):/).map((p) => p.replace(/\\([,:\\])/g, '$1')));
    else if (key === 'lowerdir+' || key === 'upperdir' || key === 'workdir' || key === 'datadir+') out.push(value);
  }
  return out;
}

function within(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}

/**
 * For each directory, the mount points (in any namespace) that use it or something below it:
 * as an overlay layer/upper/work, or as the source of a bind mount.
 */
export function directoriesInUse(dirs: readonly string[], mounts: readonly RawMount[] = allNamespaceMounts()): Map<string, string[]> {
  const own = parseRaw(readFileSync('/proc/self/mountinfo', 'utf8'));
  const result = new Map<string, string[]>();
  for (const dir of dirs) {
    let real: string;
    let dev: string;
    try {
      real = realpathSync.native(dir);
      const st = statSync(real);
      dev = `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & ~0xff)}`;
    } catch {
      continue;
    }
    // The bind "root" field is relative to the filesystem, so find where that filesystem is mounted here.
    const host = own.filter((m) => m.dev === dev && within(real, m.mountPoint)).sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
    const rootInFs = host ? `${host.root === '/' ? '' : host.root}/${relative(host.mountPoint, real)}`.replace(/\/$/, '') || '/' : null;
    const users: string[] = [];
    for (const m of mounts) {
      if (m.fstype === 'overlay' && overlayDirs(m.superOptions).some((p) => within(p, real))) users.push(m.mountPoint);
      else if (rootInFs !== null && m.dev === dev && within(m.root, rootInFs) && !(m.root === '/' && rootInFs !== '/')) users.push(m.mountPoint);
    }
    if (users.length) result.set(dir, users);
  }
  return result;
}
