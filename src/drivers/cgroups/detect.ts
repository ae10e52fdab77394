// The one place that decides how this host mounts cgroups (runc's IsCgroup2UnifiedMode, but per
// controller). It reads /proc/self/mountinfo rather than statfs(/sys/fs/cgroup): mountinfo names every
// hierarchy with its controllers and its root, so it tells v2, v1 and hybrid apart and says where
// each controller lives, also inside a container whose cgroup mounts start below the host's root.
// The result is cached: mounts do not change under a running agent.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLayout, UnifiedMount, V1Mount } from './types.js';

export interface MountInfoEntry {
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly superOptions: readonly string[];
}

/** Controllers a v1 hierarchy can carry (linux/cgroup_subsys.h); anything else is a named hierarchy. */
export const V1_CONTROLLERS: ReadonlySet<string> = new Set([
  'cpuset', 'cpu', 'cpuacct', 'io', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event',
  'net_prio', 'hugetlb', 'pids', 'rdma', 'misc',
]);

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** The cgroup and cgroup2 lines of a mountinfo text; other filesystems are dropped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    const fsType = fields[dash + 1]!;
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    out.push({
      root: unescape(fields[3]!),
      mountPoint: unescape(fields[4]!),
      fsType,
      superOptions: fields[dash + 3]!.split(','),
    });
  }
  return out;
}

/** A hierarchy mounted several times (bind mounts): prefer the mount of its real root. */
function better(a: { root: string } | undefined, b: { root: string }): boolean {
  return a === undefined || (a.root !== '/' && b.root === '/');
}

/**
 * The layout from mount entries. `readControllers` returns a cgroup2 mount's root
 * `cgroup.controllers` (injected so this stays testable without a kernel).
 */
export function layoutFromMounts(mounts: readonly MountInfoEntry[], readControllers: (mountPoint: string) => readonly string[]): CgroupLayout {
  const v1: Record<string, V1Mount> = {};
  let unifiedEntry: MountInfoEntry | undefined;
  for (const m of mounts) {
    if (m.fsType === 'cgroup2') {
      if (better(unifiedEntry, m)) unifiedEntry = m;
      continue;
    }
    const controllers = m.superOptions.filter((o) => V1_CONTROLLERS.has(o));
    const mount: V1Mount = { mountPoint: m.mountPoint, root: m.root, controllers };
    for (const c of controllers) if (better(v1[c], mount)) v1[c] = mount;
  }
  const unified: UnifiedMount | null = unifiedEntry === undefined ? null : {
    mountPoint: unifiedEntry.mountPoint,
    root: unifiedEntry.root,
    controllers: [...readControllers(unifiedEntry.mountPoint)].sort(),
    nsdelegate: unifiedEntry.superOptions.includes('nsdelegate'),
  };
  const controllers: Record<string, 'v1' | 'v2'> = {};
  for (const c of Object.keys(v1)) controllers[c] = 'v1';
  for (const c of unified?.controllers ?? []) controllers[c] ??= 'v2';
  const hasV1 = Object.keys(v1).length > 0;
  const kind = hasV1 ? (unified ? 'hybrid' : 'v1') : unified ? 'v2' : 'none';
  return { kind, v1, unified, controllers: Object.fromEntries(Object.entries(controllers).sort()) };
}

export function readUnifiedControllers(mountPoint: string): string[] {
  try {
    return readFileSync(join(mountPoint, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

let cached: CgroupLayout | undefined;

/** This host's layout, read once per process. */
export function detectLayout(): CgroupLayout {
  cached ??= layoutFromMounts(parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')), readUnifiedControllers);
  return cached;
}

/** A copy of a layout without its v1 hierarchies: how a v1-free host looks (tests of the v2 path). */
export function withoutV1(layout: CgroupLayout): CgroupLayout {
  return layoutFromMounts(
    layout.unified ? [{ root: layout.unified.root, mountPoint: layout.unified.mountPoint, fsType: 'cgroup2', superOptions: layout.unified.nsdelegate ? ['rw', 'nsdelegate'] : ['rw'] }] : [],
    () => layout.unified?.controllers ?? [],
  );
}

/** A copy without the cgroup2 tree: how a pure v1 host looks (tests of the v1 freezer and kill path). */
export function withoutUnified(layout: CgroupLayout): CgroupLayout {
  const byMount = new Map<string, V1Mount>();
  for (const m of Object.values(layout.v1)) byMount.set(m.mountPoint, m);
  return layoutFromMounts(
    [...byMount.values()].map((m) => ({ root: m.root, mountPoint: m.mountPoint, fsType: 'cgroup', superOptions: ['rw', ...m.controllers] })),
    () => [],
  );
}
