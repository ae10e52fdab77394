// What can be done with a handle alone, whatever manager made it: the directories it spans, its
// two leaves (the monitor's and the payload's) in the directories that hold them, the
// `cgroup.procs` files a process must be written into (the C shim does it while the child
// waits), the cgroup2 directory for clone3(CLONE_INTO_CGROUP), listing and removal. Destroy needs
// nothing but the handle, so a cgroup is removed by the rules of the backend that created it. A
// handle without `leaves` (stored by an older corral) keeps its processes in the directories
// themselves, and one without `leavesUnder` has the leaves in every directory: every function
// here reads them that way.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, isCorralError } from '../../errors.js';
import { childCgroups, childPath, readPids } from './knob.js';
import { type Owner, UNSCOPED } from './mark.js';
import { removeCgroupDir } from './remove.js';
import type { CgroupBackend, CgroupHandle, CgroupListFilter, CgroupParents, Leaves } from './types.js';

/** The leaves of every container cgroup corral creates from now on (systemd-nspawn's names for the same split). */
export const LEAVES: Leaves = { monitor: 'monitor', payload: 'payload' };

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

/** Whether one of the handle's directories holds the two leaves. */
export function holdsLeaves(handle: CgroupHandle, dir: string): boolean {
  return handle.leaves !== undefined && (handle.leavesUnder === undefined || handle.leavesUnder.includes(dir));
}

/** `handle` with the leaves in those of its directories that `holds` accepts (`leavesUnder` left out when that is all of them). */
export function withLeavesIn(handle: CgroupHandle, holds: (dir: string) => boolean): CgroupHandle {
  const { leaves: _leaves, leavesUnder: _under, ...base } = handle;
  const dirs = handleDirs(base);
  const under = dirs.filter(holds);
  if (under.length === 0) return base;
  return under.length === dirs.length ? { ...base, leaves: LEAVES } : { ...base, leaves: LEAVES, leavesUnder: under };
}

/** The directories that hold the leaves, in handleDirs order; none for a handle without leaves. */
export function splitDirs(handle: CgroupHandle): string[] {
  return handleDirs(handle).filter((d) => holdsLeaves(handle, d));
}

/** Where the container's processes are placed inside one of the handle's directories (shared with the monitor where it holds no leaves). */
export function payloadDir(handle: CgroupHandle, dir: string): string {
  return handle.leaves && holdsLeaves(handle, dir) ? childPath(dir, handle.leaves.payload) : dir;
}

/** Where the container's processes are placed: the payload leaves, and the directories without leaves. */
export function payloadDirs(handle: CgroupHandle): string[] {
  return handleDirs(handle).map((d) => payloadDir(handle, d));
}

/** The directories that hold the container's processes and nothing else: its payload leaves, or every directory of a handle without leaves. */
export function payloadOnlyDirs(handle: CgroupHandle): string[] {
  return handle.leaves ? splitDirs(handle).map((d) => payloadDir(handle, d)) : handleDirs(handle);
}

/** The monitor's leaves; none for a handle without leaves (its monitor runs outside the cgroup). */
export function monitorDirs(handle: CgroupHandle): string[] {
  const leaves = handle.leaves;
  return leaves ? splitDirs(handle).map((d) => childPath(d, leaves.monitor)) : [];
}

/** Both leaves of every directory that holds them. */
export function leafDirs(handle: CgroupHandle): string[] {
  const leaves = handle.leaves;
  return leaves ? splitDirs(handle).flatMap((d) => [childPath(d, leaves.monitor), childPath(d, leaves.payload)]) : [];
}

/**
 * v1 cpuset first: it is the one that refuses a process (ENOSPC) when misconfigured, and failing
 * there leaves the process in no other container cgroup yet.
 */
function procsOf(handle: CgroupHandle, inside: (dir: string) => string): string[] {
  const dirs = handleDirs(handle);
  const cpuset = handle.v1['cpuset'];
  const ordered = cpuset === undefined ? dirs : [cpuset, ...dirs.filter((d) => d !== cpuset)];
  return ordered.map((d) => join(inside(d), 'cgroup.procs'));
}

/** The `cgroup.procs` files a new container process (init, exec) must be written into, in order, before it runs anything. */
export function procsFiles(handle: CgroupHandle): string[] {
  return procsOf(handle, (d) => payloadDir(handle, d));
}

/**
 * The `cgroup.procs` files the monitor writes itself into when it starts; none for a handle
 * without leaves. Its leaves come first: a process found in a directory without leaves is then
 * the monitor only if it is already in a monitor leaf (allHandlePids relies on it).
 */
export function monitorProcsFiles(handle: CgroupHandle): string[] {
  const leaves = handle.leaves;
  if (!leaves) return [];
  const leafFiles = new Set(splitDirs(handle).map((d) => join(d, leaves.monitor, 'cgroup.procs')));
  const files = procsOf(handle, (d) => (holdsLeaves(handle, d) ? join(d, leaves.monitor) : d));
  return [...files.filter((f) => leafFiles.has(f)), ...files.filter((f) => !leafFiles.has(f))];
}

/**
 * The cgroup2 directory to open for clone3(CLONE_INTO_CGROUP), which places the child at fork and
 * skips the slow first migration (docs/architecture.md, "Calling the kernel from Node"). Only when that directory is the whole cgroup
 * (backend v2): on a hybrid host the v1 hierarchies still need pid writes.
 */
export function cloneIntoCgroupDir(handle: CgroupHandle): string | null {
  return handle.backend === 'v2' && handle.unified !== null ? payloadDir(handle, handle.unified) : null;
}

/**
 * A file with an `oom_kill N` line counting the kills of the container's processes, for the
 * monitor to tell an OOM kill from another SIGKILL. v1 counts a kill only in the victim's own
 * memory cgroup (memory.oom_control is not hierarchical there): the container's directory, or
 * the payload leaf in a handle whose memory directory holds leaves. v2's
 * memory.events is hierarchical, and the leaves have no memory files of their own (no controller
 * is enabled below the container's cgroup): the container's.
 */
export function oomEventsFile(handle: CgroupHandle): string | null {
  const memory = handle.v1['memory'];
  if (memory !== undefined) return join(payloadDir(handle, memory), 'memory.oom_control');
  if (handle.backend === 'v2' && handle.unified !== null) return join(handle.unified, 'memory.events');
  return null;
}

export function checkHandle(handle: CgroupHandle, backend: CgroupBackend): void {
  if (handle?.formatVersion !== 1 || handle.backend !== backend) {
    throw new CorralError('INTERNAL', `cgroup handle of \`${String(handle?.name)}\` has backend \`${String(handle?.backend)}\` (format ${String(handle?.formatVersion)}); this manager is \`${backend}\``);
  }
}

/** Refuses a handle whose directories are not this owner's (missing ones are allowed: partial create). */
export function assertHandleOwned(handle: CgroupHandle, owner: Owner = UNSCOPED): void {
  for (const dir of handleDirs(handle)) if (existsSync(dir)) owner.assert(dir, 'container');
  for (const dir of leafDirs(handle)) if (existsSync(dir)) owner.assert(dir, 'leaf');
}

/** Removes every directory of the handle, leaves first, refusing any that is not this owner's. */
export async function destroyHandle(handle: CgroupHandle, owner: Owner = UNSCOPED): Promise<void> {
  assertHandleOwned(handle, owner);
  for (const dir of handleDirs(handle)) await removeCgroupDir(dir);
}

/**
 * Pids of the container's processes in the first payload leaf that exists (every hierarchy holds
 * the same ones); for a cgroup whose leaves are all gone, what allHandlePids finds.
 */
export async function handlePids(handle: CgroupHandle): Promise<number[]> {
  for (const dir of payloadOnlyDirs(handle)) if (existsSync(dir)) return readPids(dir);
  return handle.leaves ? allHandlePids(handle) : [];
}

/** Pids in a cgroup and every cgroup below it. */
export async function treePids(dir: string): Promise<number[]> {
  const out = await readPids(dir);
  for (const child of await childCgroups(dir)) out.push(...await treePids(join(dir, child)));
  return out;
}

/**
 * Pids found in any of the handle's directories (after a partial placement they can differ):
 * `payload`, the container's processes; `tree`, everything in the cgroup, the monitor included.
 */
export async function allHandlePids(handle: CgroupHandle, scope: 'payload' | 'tree' = 'payload'): Promise<number[]> {
  const all = new Set<number>();
  if (scope === 'tree') {
    for (const dir of handleDirs(handle)) for (const pid of await treePids(dir)) all.add(pid);
    return [...all].sort((a, b) => a - b);
  }
  const split = splitDirs(handle);
  // Directories without leaves hold the monitor too. The monitor leaves are read before them and
  // after: a monitor seen there was in its leaf at one of the two reads, whether it was joining
  // (it joins its leaves first, monitorProcsFiles) or leaving, as it does the moment its payload
  // dies. One read on either side would take a monitor passing by for a payload process.
  const monitor = new Set<number>();
  const readMonitors = async (): Promise<void> => {
    for (const dir of monitorDirs(handle)) for (const pid of await readPids(dir)) monitor.add(pid);
  };
  await readMonitors();
  const shared: number[] = [];
  for (const dir of handleDirs(handle)) if (!split.includes(dir)) shared.push(...await readPids(dir));
  if (shared.length > 0) await readMonitors();
  for (const dir of split) for (const pid of await readPids(payloadDir(handle, dir))) all.add(pid);
  for (const pid of shared) if (!monitor.has(pid)) all.add(pid);
  return [...all].sort((a, b) => a - b);
}

/**
 * Handles of the container cgroups under corral's parents: any name found in any hierarchy (a
 * crash can leave a cgroup in some hierarchies only) whose directories all carry a container
 * mark, `own` ones (this root's, or any for an unscoped owner) or `legacy` ones (no root id).
 * A cgroup of another root, or one with a foreign directory, is never listed. `filter`: one name's
 * cgroup alone, with the same checks (the start and teardown of one container among 1,000 read
 * its own marks, not everyone's), or every name but some (types.ts › CgroupListFilter).
 */
export async function listHandles(parents: CgroupParents, backend: CgroupBackend, owner: Owner, which: 'own' | 'legacy', filter?: CgroupListFilter): Promise<CgroupHandle[]> {
  const only = typeof filter === 'string' ? filter : undefined;
  const except = typeof filter === 'object' ? filter.except : null;
  if (only !== undefined && (only === '' || only === '.' || only === '..' || only.includes('/'))) return [];
  const parentDirs = [...new Set([...Object.values(parents.v1), ...(parents.unified ? [parents.unified] : [])])];
  const names = new Set<string>();
  for (const p of parentDirs) {
    // No parent yet (nothing ever ran, or `ps` before the first start): no xattr to read.
    if (!existsSync(p)) continue;
    const claim = owner.claim(p, 'parent');
    if (claim !== 'own' && claim !== 'unsupported') continue;
    if (only === undefined) {
      for (const n of await childCgroups(p)) if (!except?.has(n)) names.add(n);
    } else if (existsSync(join(p, only))) {
      names.add(only);
    }
  }
  const out: CgroupHandle[] = [];
  for (const name of [...names].sort()) {
    const v1: Record<string, string> = {};
    for (const [c, p] of Object.entries(parents.v1)) if (existsSync(join(p, name))) v1[c] = join(p, name);
    const unified = parents.unified !== null && existsSync(join(parents.unified, name)) ? join(parents.unified, name) : null;
    const base: CgroupHandle = { formatVersion: 1, backend, name, v1: backend === 'v2' ? {} : v1, unified };
    const dirs = handleDirs(base);
    const claims = dirs.map((d) => owner.claim(d, 'container'));
    if (dirs.length === 0 || claims.some((c) => c !== 'own' && c !== 'legacy' && c !== 'unsupported')) continue;
    const legacy = claims.includes('legacy') && !claims.includes('own');
    if (legacy !== (which === 'legacy')) continue;
    // Leaves where they are found: a crash can leave them in some directories only.
    out.push(withLeavesIn(base, (d) => existsSync(join(d, LEAVES.monitor)) || existsSync(join(d, LEAVES.payload))));
  }
  return out;
}

/** Stamps the owner's id on a handle's directories that carry a mark without one (mark.ts). */
export function stampHandle(handle: CgroupHandle, owner: Owner): void {
  for (const dir of handleDirs(handle)) if (existsSync(dir)) owner.stamp(dir, 'container');
  for (const dir of leafDirs(handle)) if (existsSync(dir)) owner.stamp(dir, 'leaf');
}

/**
 * Removes corral's parents once no container cgroup is left. Children corral did not create stay,
 * and keep the parent (CGROUP_BUSY names them); so do another root's, silently. Under delegation
 * the unit's `agent` leaf stays: the agent lives in it.
 */
export async function removeParents(parents: CgroupParents, owner: Owner): Promise<void> {
  const dirs = [...new Set([...Object.values(parents.v1), ...(parents.unified ? [parents.unified] : [])])];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    owner.assert(dir, 'parent');
    // A parent shared with another root (or holding a cgroup from before root ids) stays theirs.
    const children = await childCgroups(dir);
    if (owner.rootId !== null && children.some((c) => owner.claim(join(dir, c), 'container') !== 'own')) continue;
    await removeCgroupDir(dir, { children: false, timeoutMs: 1000 });
  }
}

/**
 * Kills and destroys every container cgroup this owner owns, then corral's parents (kept while
 * another root's cgroups are in them). Best effort across handles: one stubborn cgroup does not
 * keep the others alive; the failures are reported together.
 */
export async function removeAllUnder(parents: CgroupParents, backend: CgroupBackend, owner: Owner, destroy: (h: CgroupHandle) => Promise<void>): Promise<void> {
  const failures: unknown[] = [];
  for (const handle of await listHandles(parents, backend, owner, 'own')) {
    try {
      await destroy(handle);
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length === 0) {
    await removeParents(parents, owner);
    return;
  }
  throw new CorralError('CGROUP_BUSY', `${failures.length} cgroup${failures.length === 1 ? '' : 's'} under corral's parent \`${parents.name}\` could not be removed`, {
    cause: failures[0],
    diagnostics: failures.map((e) => (isCorralError(e) ? e.toDiagnostic() : { severity: 'error' as const, code: 'INTERNAL' as const, summary: String(e) })),
  });
}
