// Which cgroups are corral's, and where corral's parent lives.
//
// The rule (README-worthy):
// 1. corral creates every cgroup under one parent per hierarchy, named by configuration (default
//    `corral`): `<v1 mount>/<parent>` in each v1 hierarchy it manages, and `<cgroup2 mount>/<parent>`.
// 2. When corral runs as a systemd unit with `Delegate=yes`, the cgroup2 parent is inside the
//    unit's own cgroup instead: `<unit>/<parent>`, and the agent moves itself to the leaf
//    `<unit>/agent` (cgroup2 forbids processes in a cgroup that hands controllers to children).
//    Delegation is recognised when all hold:
//      - the host has a cgroup2 tree;
//      - the `0::` line of /proc/self/cgroup names a cgroup whose last component is a systemd unit
//        (`*.service` or `*.scope`), or that unit's `agent` leaf (the agent already moved there);
//      - that unit cgroup carries the `trusted.delegate` xattr set to `1`, which systemd (v251+)
//        writes for `Delegate=yes`. Only root can set `trusted.*`, so it cannot be faked.
//    v1 hierarchies are never delegated: corral always uses `<v1 mount>/<parent>` there.
// 3. Every directory corral creates gets the xattr `trusted.corral.owner` = its role (`parent`,
//    `container`, `agent`). corral writes only to directories with that mark (and, under
//    delegation, to the unit cgroup systemd handed over). An existing directory without the mark
//    is refused with CGROUP_NOT_OWNED. Where the filesystem keeps no xattrs (old v1 mounts without
//    the `xattr` option) the configured parent name is the only evidence, and corral says so in
//    `corral info`.

import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { CorralError, isSyscallError } from '../../errors.js';
import { getXattr, isXattrUnsupported, setXattr } from '../../sys/xattr.js';
import { errnoOf, describeFsError } from './knob.js';
import type { CgroupLayout, CgroupParents } from './types.js';

export const DEFAULT_PARENT_NAME = 'corral';
export const OWNER_XATTR = 'trusted.corral.owner';
export const DELEGATE_XATTR = 'trusted.delegate';
export const AGENT_LEAF = 'agent';

/**
 * The v1 controllers corral manages; the rest (net_cls, perf_event…) keep the host's cgroup.
 * `devices` carries each container's device allow-list.
 */
export const MANAGED_V1_CONTROLLERS = ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids'] as const;

export type OwnerRole = 'parent' | 'container' | 'agent';

/** A cgroup directory name corral accepts: one path component, no control-file look-alikes. */
export function checkCgroupName(name: string, what: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name) || name === '.' || name === '..' || name.startsWith('cgroup.')) {
    throw new CorralError('CLI_USAGE', `${what} \`${name}\` is not a valid cgroup name`, {
      detail: 'expected 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter or digit, and not `cgroup.*`',
    });
  }
}

/** The `0::` path of a /proc/<pid>/cgroup text (the cgroup2 membership), or null. */
export function unifiedPathOf(procCgroup: string): string | null {
  for (const line of procCgroup.split('\n')) if (line.startsWith('0::')) return line.slice(3).trim() || '/';
  return null;
}

export interface DelegationFacts {
  /** The agent's cgroup2 path from /proc/self/cgroup. */
  readonly selfPath: string | null;
  /** `trusted.delegate` of the candidate unit cgroup, as read. */
  readonly delegateMark: (unitPath: string) => string | null;
}

const UNIT = /\.(service|scope)$/;

/** The cgroup2 path of the unit that delegated its subtree to corral, or null (rule 2 above). Pure. */
export function delegatedUnitPath(layout: CgroupLayout, facts: DelegationFacts): string | null {
  if (!layout.unified || facts.selfPath === null || facts.selfPath === '/') return null;
  const self = posix.normalize(facts.selfPath);
  const candidate = UNIT.test(posix.basename(self)) ? self
    : posix.basename(self) === AGENT_LEAF && UNIT.test(posix.basename(posix.dirname(self))) ? posix.dirname(self)
      : null;
  if (candidate === null) return null;
  return facts.delegateMark(candidate)?.trim() === '1' ? candidate : null;
}

/** A cgroup path (as in /proc/self/cgroup) → its directory under a mount whose root may not be `/`. */
export function cgroupDir(mountPoint: string, mountRoot: string, cgroupPath: string): string {
  const rel = mountRoot === '/' ? cgroupPath : posix.relative(mountRoot, cgroupPath);
  if (rel.startsWith('..')) {
    throw new CorralError('HOST_UNSUPPORTED', `cgroup \`${cgroupPath}\` is outside the cgroup2 mount \`${mountPoint}\` (root \`${mountRoot}\`)`);
  }
  return posix.join(mountPoint, rel);
}

/** Where corral's parents are, per hierarchy (rules 1 and 2). Pure given the facts. */
export function resolveParents(layout: CgroupLayout, name: string, delegatedPath: string | null): CgroupParents {
  checkCgroupName(name, 'cgroup parent');
  const v1: Record<string, string> = {};
  for (const c of MANAGED_V1_CONTROLLERS) {
    const m = layout.v1[c];
    if (m) v1[c] = posix.join(m.mountPoint, name);
  }
  let unified: string | null = null;
  let delegated: CgroupParents['delegated'] = null;
  if (layout.unified) {
    if (delegatedPath !== null) {
      const unitDir = cgroupDir(layout.unified.mountPoint, layout.unified.root, delegatedPath);
      delegated = { unitDir, leafDir: posix.join(unitDir, AGENT_LEAF) };
      unified = posix.join(unitDir, name);
    } else {
      unified = posix.join(layout.unified.mountPoint, name);
    }
  }
  return { name, v1, unified, delegated };
}

/** The facts of this process, read from the host. */
export function readDelegationFacts(layout: CgroupLayout): DelegationFacts {
  let selfPath: string | null = null;
  try {
    selfPath = unifiedPathOf(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    selfPath = null;
  }
  return {
    selfPath,
    delegateMark: (unitPath) => {
      if (!layout.unified) return null;
      try {
        return getXattr(cgroupDir(layout.unified.mountPoint, layout.unified.root, unitPath), DELEGATE_XATTR);
      } catch {
        return null;
      }
    },
  };
}

/** The role recorded on a directory; `unsupported` when its filesystem keeps no xattrs. */
export function ownerRole(dir: string): OwnerRole | 'unsupported' | 'missing' | null {
  try {
    const v = getXattr(dir, OWNER_XATTR);
    return v === 'parent' || v === 'container' || v === 'agent' ? v : null;
  } catch (err) {
    if (isSyscallError(err) && isXattrUnsupported(err.errnoName)) return 'unsupported';
    if (isSyscallError(err, 'ENOENT')) return 'missing';
    throw err;
  }
}

function markOwned(dir: string, role: OwnerRole): void {
  try {
    setXattr(dir, OWNER_XATTR, role);
  } catch (err) {
    if (isSyscallError(err) && isXattrUnsupported(err.errnoName)) return;
    throw new CorralError('CGROUP_WRITE_FAILED', `mark \`${dir}\` as corral's: ${(err as Error).message}`, { cause: err });
  }
}

export function notOwned(dir: string, role: OwnerRole, found: string | null): CorralError {
  return new CorralError('CGROUP_NOT_OWNED', `cgroup \`${dir}\` exists but corral did not create it`, {
    detail: found === null
      ? `it has no \`${OWNER_XATTR}\` mark; expected \`${role}\``
      : `its \`${OWNER_XATTR}\` mark is \`${found}\`, expected \`${role}\``,
    hint: 'choose another cgroup parent name, or remove the directory (rmdir) if it is a leftover of corral',
  });
}

/**
 * Creates a cgroup directory and marks it, or accepts an existing one that carries the same mark.
 * Returns true when this call created it.
 */
export async function ensureOwnedDir(dir: string, role: OwnerRole): Promise<boolean> {
  try {
    mkdirSync(dir);
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') {
      throw new CorralError('CGROUP_WRITE_FAILED', `create cgroup \`${dir}\`: ${describeFsError(err)}`, { cause: err });
    }
    assertOwned(dir, role);
    return false;
  }
  markOwned(dir, role);
  return true;
}

/**
 * An unmarked, empty cgroup directly under corral's own parent, as corral leaves one when it is
 * killed between the mkdir and the mark (two syscalls cannot be one). Whether it is corral's is
 * the caller's to know: the reconciler adopts one only for a container whose state record
 * journaled the intent to create it.
 */
export function isAdoptable(dir: string): boolean {
  if (ownerRole(dir) !== null || !isOwned(dirname(dir), 'parent')) return false;
  try {
    if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '') return false;
    return !readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
  } catch {
    return false;
  }
}

/** Throws CGROUP_NOT_OWNED unless the directory carries corral's mark for that role (or cannot carry any). */
export function assertOwned(dir: string, role: OwnerRole): void {
  const found = ownerRole(dir);
  if (found === role || found === 'unsupported') return;
  if (found === 'missing') throw new CorralError('CGROUP_WRITE_FAILED', `cgroup \`${dir}\` does not exist`, { detail: `expected corral's \`${role}\` cgroup there` });
  throw notOwned(dir, role, found);
}

export function isOwned(dir: string, role: OwnerRole): boolean {
  const found = ownerRole(dir);
  return found === role || found === 'unsupported';
}

/** Marks `dir` as a container cgroup when isAdoptable; true when it did. */
export function adoptLeftover(dir: string): boolean {
  if (!isAdoptable(dir)) return false;
  markOwned(dir, 'container');
  return true;
}
