// Which cgroups are corral's, and where corral's parent lives.
//
// The rule (README-worthy):
// 1. corral creates every cgroup under one parent per hierarchy, named by configuration (by
//    default after the state root, src/cli/open-host.ts): `<v1 mount>/<parent>` in each v1 hierarchy it
//    manages, and `<cgroup2 mount>/<parent>`.
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
// 3. Every directory corral creates carries an ownership mark naming its role and the state root
//    that made it; corral writes only to directories with its mark (mark.ts has the table). The
//    default parent name is the root's own, so two roots never share one unless configured to.

import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { CorralError } from '../../errors.js';
import { getXattr } from '../../sys/xattr.js';
import { LEAVES } from './handle.js';
import { type Owner, UNSCOPED } from './mark.js';
import type { CgroupLayout, CgroupParents } from './types.js';

export { OWNER_XATTR, Owner, ownerRole, UNSCOPED, type OwnerRole } from './mark.js';

export { DEFAULT_PARENT_NAME } from './parent-name.js';
export const DELEGATE_XATTR = 'trusted.delegate';
export const AGENT_LEAF = 'agent';

/**
 * The v1 controllers corral manages; the rest (net_cls, perf_event…) keep the host's cgroup.
 * `devices` carries each container's device allow-list.
 */
export const MANAGED_V1_CONTROLLERS = ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids'] as const;

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

/**
 * Marks `dir` as a container cgroup when it is an adoptable leftover (mark.ts › Owner.isAdoptable),
 * and its leaves (handle.ts › LEAVES) left unmarked the same way.
 */
export function adoptLeftover(dir: string, owner: Owner = UNSCOPED): boolean {
  return owner.adoptLeftover(dir, Object.values(LEAVES));
}
