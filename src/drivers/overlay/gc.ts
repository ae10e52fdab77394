// Garbage collection of what the overlay driver and the image store leave behind, given what is
// alive (the reconciler's state store is the authority on that, so it is an input):
//   1. tmp/ staging of imports and skeleton builds whose process is gone (or that are old);
//   2. containers/<name>/ upper, work and rootfs of containers not in `liveContainers` (and the
//      project id of their writable layer, quota/storage-limit.ts);
//   3. layers no image record and no remaining container's rootfs record names (under the store
//      lock; skipped when an import holds it);
//   4. host-root skeletons other than the current one that no remaining container uses.
// Whatever any mount namespace on the host still uses (a container the state forgot) is kept and
// reported. Run by `corral gc` and at agent start.

import { closeSync, lstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { isCorralError } from '../../errors.js';
import { tryFlock } from '../../sys/flock.js';
import { pidAlive } from '../../sys/proc.js';
import { layout } from '../../state/layout.js';
import { removeContainerRootfs } from './container-rootfs.js';
import { diskUsage, listDir, removeTree } from './fs-util.js';
import { hostRootDigest, hostRootDir, type HostRootOptions } from './host-root.js';
import { pruneLayersLocked, referencedLayers } from './images/store.js';
import { whenStoreLockFree } from './images/store-lock.js';
import { directoriesInUse } from './mount-usage.js';
import { probeQuotaSupport, type QuotaProbe } from './quota/probe.js';
import { releaseStorageLimit } from './quota/storage-limit.js';
import { readRootfsRecord } from './rootfs-record.js';

/** Whether a pull holds the lock of its staging directory. */
function pullRunning(dir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(dir, '.lock'), 'r');
  } catch {
    return false;
  }
  try {
    return !tryFlock(fd, dir);
  } finally {
    closeSync(fd);
  }
}

export interface GcInput extends HostRootOptions {
  /** Every container the state store knows, running or not. Others lose their rootfs directories. */
  readonly liveContainers: Iterable<string>;
  readonly dryRun?: boolean;
  /** tmp/ entries older than this are removed even when their owner cannot be told (default 1 h). */
  readonly tmpMaxAgeMs?: number;
  readonly now?: () => number;
}

export interface GcReport {
  readonly containers: readonly string[];
  readonly layers: readonly string[];
  readonly hostRoots: readonly string[];
  readonly tmp: readonly string[];
  readonly bytesFreed: number;
  /** What was kept although unreferenced, and why. */
  readonly kept: readonly string[];
}


export async function collectGarbage(root: string, input: GcInput): Promise<GcReport> {
  const l = layout(root);
  const dryRun = input.dryRun ?? false;
  const now = (input.now ?? Date.now)();
  const live = new Set(input.liveContainers);
  const kept: string[] = [];
  let bytesFreed = 0;

  const tmp: string[] = [];
  for (const entry of listDir(l.tmpDir)) {
    const path = join(l.tmpDir, entry);
    const owner = /^(?:import|hostroot)-(\d+)-/.exec(entry);
    const age = now - lstatSync(path).mtimeMs;
    // A pull's staging (images/registry/pull.ts) is what a rerun resumes from: kept a day, and
    // never while a pull holds its lock.
    const stale = entry.startsWith('pull-') ? age > 24 * 3600_000 && !pullRunning(path)
      : owner ? !pidAlive(Number(owner[1])) || age > 24 * 3600_000 : age > (input.tmpMaxAgeMs ?? 3600_000);
    if (!stale) continue;
    bytesFreed += diskUsage(path);
    if (!dryRun) removeTree(path);
    tmp.push(entry);
  }

  const containers: string[] = [];
  let probed: QuotaProbe | undefined;
  const quotaProbe = (): QuotaProbe => (probed ??= probeQuotaSupport(root));
  const candidates = listDir(l.containersDir).filter((n) => !live.has(n));
  const containerDirs = candidates.flatMap((n) => [l.container(n).upper, l.container(n).work]);
  const busy = directoriesInUse(containerDirs);
  for (const name of candidates) {
    const p = l.container(name);
    if (busy.has(p.upper) || busy.has(p.work)) {
      kept.push(`container \`${name}\`: its overlay is still mounted (${[...(busy.get(p.upper) ?? []), ...(busy.get(p.work) ?? [])].join(', ')})`);
      continue;
    }
    if (!listDir(p.dir).some((f) => f === 'upper' || f === 'work' || f === 'rootfs' || f === 'rootfs.json')) continue;
    bytesFreed += diskUsage(p.upper) + diskUsage(p.work);
    try {
      if (!dryRun) {
        removeContainerRootfs(root, name);
        // Its directories are gone: the project id (and limit) of its writable layer go too.
        await releaseStorageLimit(root, name, quotaProbe);
      }
      containers.push(name);
    } catch (err) {
      if (!isCorralError(err)) throw err;
      kept.push(`container \`${name}\`: ${err.summary}`);
    }
  }

  const layerResult = await whenStoreLockFree(root, () => {
    const unreferenced = listDir(l.layersDir).map((e) => join(l.layersDir, e));
    const keep = referencedLayers(root);
    const inUse = directoriesInUse(unreferenced.filter((d) => !keep.has(d)));
    if (inUse.size) {
      for (const [dir, points] of inUse) kept.push(`layer \`${dir}\`: mounted at ${points.join(', ')}`);
      return { removed: [], bytes: 0 };
    }
    return pruneLayersLocked(root, dryRun);
  });
  if (layerResult === undefined) kept.push('layers: the image store is locked by an import or image rm; run gc again later');
  bytesFreed += layerResult?.bytes ?? 0;

  const hostRoots: string[] = [];
  const versions = listDir(l.hostRootDir);
  if (versions.length) {
    const keepDirs = new Set<string>([hostRootDir(root, hostRootDigest(input))]);
    for (const name of listDir(l.containersDir)) for (const lower of readRootfsRecord(root, name)?.lower ?? []) keepDirs.add(lower);
    const unused = versions.map((v) => join(l.hostRootDir, v)).filter((d) => !keepDirs.has(d));
    const inUse = directoriesInUse(unused);
    for (const dir of unused) {
      if (inUse.has(dir)) {
        kept.push(`host root \`${dir}\`: mounted at ${inUse.get(dir)!.join(', ')}`);
        continue;
      }
      bytesFreed += diskUsage(dir);
      if (!dryRun) removeTree(dir);
      hostRoots.push(dir.slice(l.hostRootDir.length + 1));
    }
  }

  return { containers, layers: layerResult?.removed ?? [], hostRoots, tmp, bytesFreed, kept };
}
