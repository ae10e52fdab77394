// What can be done with a handle alone, whatever manager made it: the directories it spans, the
// `cgroup.procs` files a process must be written into (the C shim does it while the child waits),
// the cgroup2 directory for clone3(CLONE_INTO_CGROUP), listing and removal. Destroy needs nothing
// but the handle, so a cgroup is removed by the rules of the backend that created it.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, isCorralError } from '../../errors.js';
import { childCgroups, readPids } from './knob.js';
import { assertOwned, isOwned, ownerRole } from './owner.js';
import { removeCgroupDir } from './remove.js';
import type { CgroupBackend, CgroupHandle, CgroupParents } from './types.js';

/** Every distinct directory of a handle: v1 ones by controller name (co-mounted ones once), then cgroup2. */
export function handleDirs(handle: CgroupHandle): string[] {
  const dirs: string[] = [];
  for (const c of Object.keys(handle.v1).sort()) {
    const d = handle.v1[c]!;
    if (!dirs.includes(d)) dirs.push(d);
  }
  if (handle.unified !== null && !dirs.includes(handle.unified)) dirs.push(handle.unified);
  return dirs;
}

/**
 * The `cgroup.procs` files a new process must be written into, in order, before it runs anything.
 * v1 cpuset comes first: it is the one that refuses a process (ENOSPC) when misconfigured, and
 * failing there leaves the process in no other container cgroup yet.
 */
export function procsFiles(handle: CgroupHandle): string[] {
  const dirs = handleDirs(handle);
  const cpuset = handle.v1['cpuset'];
  const ordered = cpuset === undefined ? dirs : [cpuset, ...dirs.filter((d) => d !== cpuset)];
  return ordered.map((d) => join(d, 'cgroup.procs'));
}

/**
 * The cgroup2 directory to open for clone3(CLONE_INTO_CGROUP), which places the child at fork and
 * skips the slow first migration (DESIGN.md §2). Only when that directory is the whole cgroup
 * (backend v2): on a hybrid host the v1 hierarchies still need pid writes.
 */
export function cloneIntoCgroupDir(handle: CgroupHandle): string | null {
  return handle.backend === 'v2' ? handle.unified : null;
}

export function checkHandle(handle: CgroupHandle, backend: CgroupBackend): void {
  if (handle?.formatVersion !== 1 || handle.backend !== backend) {
    throw new CorralError('INTERNAL', `cgroup handle of \`${String(handle?.name)}\` has backend \`${String(handle?.backend)}\` (format ${String(handle?.formatVersion)}); this manager is \`${backend}\``);
  }
}

/** Refuses a handle whose directories corral did not create (missing ones are allowed: partial create). */
export function assertHandleOwned(handle: CgroupHandle): void {
  for (const dir of handleDirs(handle)) if (existsSync(dir)) assertOwned(dir, 'container');
}

/** Removes every directory of the handle, refusing any that corral did not create. */
export async function destroyHandle(handle: CgroupHandle): Promise<void> {
  assertHandleOwned(handle);
  for (const dir of handleDirs(handle)) await removeCgroupDir(dir);
}

/** Pids in the first directory that exists (all of a handle's directories hold the same processes). */
export async function handlePids(handle: CgroupHandle): Promise<number[]> {
  for (const dir of handleDirs(handle)) if (existsSync(dir)) return readPids(dir);
  return [];
}

/** Pids found in any of the handle's directories (after a partial placement they can differ). */
export async function allHandlePids(handle: CgroupHandle): Promise<number[]> {
  const all = new Set<number>();
  for (const dir of handleDirs(handle)) for (const pid of await readPids(dir)) all.add(pid);
  return [...all].sort((a, b) => a - b);
}

/**
 * Handles of the container cgroups under corral's parents: any name found in any hierarchy
 * (a crash can leave a cgroup in some hierarchies only) that carries corral's container mark.
 */
export async function listHandles(parents: CgroupParents, backend: CgroupBackend): Promise<CgroupHandle[]> {
  const parentDirs = [...new Set([...Object.values(parents.v1), ...(parents.unified ? [parents.unified] : [])])];
  const names = new Set<string>();
  for (const p of parentDirs) if (isOwned(p, 'parent')) for (const n of await childCgroups(p)) names.add(n);
  const out: CgroupHandle[] = [];
  for (const name of [...names].sort()) {
    const v1: Record<string, string> = {};
    for (const [c, p] of Object.entries(parents.v1)) if (existsSync(join(p, name))) v1[c] = join(p, name);
    const unified = parents.unified !== null && existsSync(join(parents.unified, name)) ? join(parents.unified, name) : null;
    const handle: CgroupHandle = { formatVersion: 1, backend, name, v1: backend === 'v2' ? {} : v1, unified };
    const dirs = handleDirs(handle);
    if (dirs.length > 0 && dirs.every((d) => { const role = ownerRole(d); return role === 'container' || role === 'unsupported'; })) out.push(handle);
  }
  return out;
}

/**
 * Removes corral's parents once no container cgroup is left. Children corral did not create stay,
 * and keep the parent (CGROUP_BUSY names them). Under delegation the unit's `agent` leaf stays: the
 * agent lives in it.
 */
export async function removeParents(parents: CgroupParents): Promise<void> {
  const dirs = [...new Set([...Object.values(parents.v1), ...(parents.unified ? [parents.unified] : [])])];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    assertOwned(dir, 'parent');
    await removeCgroupDir(dir, { children: false, timeoutMs: 1000 });
  }
}

/**
 * Kills and destroys every owned container cgroup, then corral's parents. Best effort across
 * handles: one stubborn cgroup does not keep the others alive; the failures are reported together.
 */
export async function removeAllUnder(parents: CgroupParents, backend: CgroupBackend, kill: (h: CgroupHandle) => Promise<void>): Promise<void> {
  const failures: unknown[] = [];
  for (const handle of await listHandles(parents, backend)) {
    try {
      await kill(handle);
      await destroyHandle(handle);
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length === 0) {
    await removeParents(parents);
    return;
  }
  throw new CorralError('CGROUP_BUSY', `${failures.length} cgroup${failures.length === 1 ? '' : 's'} under corral's parent \`${parents.name}\` could not be removed`, {
    cause: failures[0],
    diagnostics: failures.map((e) => (isCorralError(e) ? e.toDiagnostic() : { severity: 'error' as const, code: 'INTERNAL' as const, summary: String(e) })),
  });
}
