// The cgroups driver behind the reconciler's CgroupPort (src/reconciler/ports.ts), so wiring is a
// one-liner (src/compose.ts). The port works by container name; it answers only for this state root's cgroups:
//
// - `list` (orphan detection) names the cgroups marked with this root's id, and those marked
//   before root ids existed that a state record of this root names. One marked before root ids
//   that no record names may be another root's: it is left alone, and a warning names it once.
// - `kill` and `destroy` act on the same set, plus the cgroup the record itself stores when it
//   lies elsewhere (under the parent this root used before it had one of its own), stamping
//   this root's id on a cgroup from before root ids as they adopt it.
// - A cgroup marked by another root is never listed, adopted, killed or removed.

import { existsSync, readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { DevicesSpec, ResourcesSpec } from '../../manifest/spec.js';
import type { CgroupPlacement, CgroupPort, CgroupSurvey, FieldDiff } from '../../reconciler/ports.js';
import type { Json } from '../../state/record.js';
import { describePolicy } from './device-rules.js';
import { checkDevicePolicy, devicePolicy } from './device-policy.js';
import { comparedFields, resourcesDrift } from './drift.js';
import { allHandlePids, cloneIntoCgroupDir, handleDirs, leafDirs, LEAVES, monitorProcsFiles, oomEventsFile, procsFiles } from './handle.js';
import { decodeCgroupHandle, encodeCgroupHandle } from './handle-codec.js';
import { Owner } from './mark.js';
import type { CgroupHandle, CgroupManager } from './types.js';

/** What the port needs to know of this root's state records. */
export interface CgroupRecords {
  /** Whether a state record of that name exists (readable or not). */
  has(name: string): boolean;
  /** The cgroup handle the record of that name stores, or null. */
  handle(name: string): Promise<Json | null>;
}

export interface CgroupPortDeps {
  readonly records: CgroupRecords;
  readonly warn: (message: string, fields: Record<string, unknown>) => void;
}

const sameDirs = (a: CgroupHandle, b: CgroupHandle): boolean => handleDirs(a).join('\n') === handleDirs(b).join('\n');

/** Where a process joining the container goes, from the handle its record stores (no cgroup manager needed). */
export function placementOfHandle(json: Json): CgroupPlacement {
  return placementOf(decodeCgroupHandle(json));
}

function placementOf(h: CgroupHandle): CgroupPlacement {
  return { procs: procsFiles(h), monitorProcs: monitorProcsFiles(h), cloneInto: cloneIntoCgroupDir(h), oomEvents: oomEventsFile(h) };
}

export function cgroupPort(manager: CgroupManager, deps: CgroupPortDeps): CgroupPort {
  const owner = new Owner(manager.rootId);
  const warned = new Set<string>();
  /** The names each survey of this port saw under the parents, for `list`. */
  const surveyedNames = new WeakMap<CgroupSurvey, ReadonlySet<string>>();
  const parentDirs = (): string[] => [...new Set([...Object.values(manager.parents.v1), ...(manager.parents.unified ? [manager.parents.unified] : [])])];

  /** A handle a record stores, when it is this root's to act on (its own or unattributed cgroup, same backend). */
  const storedHandle = async (name: string): Promise<CgroupHandle | null> => {
    const json = await deps.records.handle(name).catch(() => null);
    if (json === null) return null;
    let h: CgroupHandle;
    try {
      h = decodeCgroupHandle(json);
    } catch {
      // A damaged handle names no directory this root can safely act on.
      return null;
    }
    if (h.backend !== manager.backend || h.name !== name) return null;
    const dirs = [...handleDirs(h), ...leafDirs(h)].filter((d) => existsSync(d));
    const claims = dirs.map((d) => owner.claim(d, leafDirs(h).includes(d) ? 'leaf' : 'container'));
    return dirs.length > 0 && claims.every((c) => c === 'own' || c === 'legacy' || c === 'unsupported') ? h : null;
  };

  const handlesOf = async (name: string): Promise<CgroupHandle[]> => {
    const out: CgroupHandle[] = [];
    const own = (await manager.list(name)).find((h) => h.name === name);
    if (own) out.push(own);
    if (!deps.records.has(name)) return out;
    const unattributed = (await manager.listWithoutRootId(name)).find((h) => h.name === name);
    if (unattributed) out.push(unattributed);
    const stored = await storedHandle(name);
    if (stored && !out.some((h) => sameDirs(h, stored))) out.push(stored);
    for (const h of out) await manager.adopt(h);
    return out;
  };

  /**
   * corral can be killed between creating a container's cgroup directory and marking it as its
   * own. The reconciler calls create, kill and destroy only for names it journaled the intent for
   * (a state record) or that carry corral's mark in another hierarchy, so such an unmarked, empty
   * leftover is taken back here rather than refused forever.
   */
  const adoptLeftovers = (name: string): void => {
    for (const dir of parentDirs()) owner.adoptLeftover(join(dir, name), Object.values(LEAVES));
  };

  const resolveOrKeep = (path: string): string => {
    try {
      return manager.resolveDevice(path);
    } catch {
      return path;
    }
  };

  return {
    async create(name, resources, devices) {
      adoptLeftovers(name);
      const previous = await storedHandle(name);
      const handle = await manager.create(name, resources, devicePolicy(devices));
      // The record's cgroup under the parent used before (a root from before parents were its
      // own): the container moves to the new one, and the old one goes once empty.
      if (previous && !sameDirs(previous, handle) && (await allHandlePids(previous, 'tree')).length === 0) {
        await manager.destroy(previous).catch((err: unknown) => deps.warn(`remove the cgroup of \`${name}\` under its former parent: ${(err as Error).message}`, { container: name }));
      }
      return encodeCgroupHandle(handle);
    },
    async update(json, resources: ResourcesSpec, devices: DevicesSpec) {
      const handle = decodeCgroupHandle(json);
      await manager.set(handle, resources);
      const policy = devicePolicy(devices);
      const now = await manager.checkDevices(handle, policy);
      return encodeCgroupHandle(now.enforced ? handle : await manager.setDevices(handle, policy));
    },
    async survey() {
      const seen = new Set<string>();
      const names = new Set<string>();
      for (const parent of parentDirs()) {
        let entries: Dirent[];
        try {
          entries = readdirSync(parent, { withFileTypes: true });
        } catch {
          continue;
        }
        // Spelled as handleDirs spells them (`join` of a clean parent and a name), without join's cost.
        for (const e of entries) {
          if (!e.isDirectory()) continue;
          seen.add(`${parent}/${e.name}`);
          names.add(e.name);
        }
      }
      const survey: CgroupSurvey = { has: (dir: string) => seen.has(dir) };
      surveyedNames.set(survey, names);
      return survey;
    },
    async drift(json, resources, devices, survey) {
      const h = decodeCgroupHandle(json);
      // The handle's own directories, asked one by one unless a survey saw them (a directory the
      // survey missed is asked for: it may be newer than the look). One removed in the
      // milliseconds since the survey is found by a read below that requires it (the memory and
      // devices knobs), or else by the next inspection.
      const present = (seen: CgroupSurvey | undefined): boolean => [...handleDirs(h), ...leafDirs(h)].every((d) => seen?.has(d) === true || existsSync(d));
      if (!present(survey)) return null;
      // I/O limits are compared when the spec asks for some: the kernel's keys are `major:minor`.
      // A device that no longer resolves keeps its path, which no key equals: drift, which the
      // plan-time check of the spec then explains.
      const withIo = resources.ioLimits.length > 0;
      let applied;
      try {
        applied = await manager.read(h, comparedFields(resources, withIo));
      } catch (err) {
        // A cgroup removed from some hierarchy meanwhile (by hand, or corral was killed while
        // creating it) cannot enforce its limits: report it missing, and the plan rebuilds it.
        if (!present(undefined)) return null;
        throw err;
      }
      const diffs = resourcesDrift(resources, applied, withIo ? resolveOrKeep : undefined).map((d): FieldDiff => ({
        path: `resources.${d.field}`, before: d.applied, after: d.desired, effect: 'live',
      }));
      const policy = devicePolicy(devices);
      const enforced = await manager.checkDevices(h, policy);
      if (!enforced.enforced) diffs.push({ path: 'devices', before: enforced.current, after: describePolicy(policy), effect: 'live' });
      return diffs;
    },
    placement: (json) => placementOf(decodeCgroupHandle(json)),
    async placementOf(name) {
      const h = (await handlesOf(name))[0];
      return h ? placementOf(h) : null;
    },
    async kill(name) {
      adoptLeftovers(name);
      for (const h of await handlesOf(name)) await manager.kill(h);
    },
    async destroy(name) {
      adoptLeftovers(name);
      for (const h of await handlesOf(name)) await manager.destroy(h);
    },
    async list(except, survey) {
      // The common case of a full inspection: no directory under the parents but the known ones'.
      const surveyed = survey ? surveyedNames.get(survey) : undefined;
      if (except && surveyed && [...surveyed].every((name) => except.has(name))) return [];
      const filter = except ? { except } : undefined;
      const names = new Set((await manager.list(filter)).map((h) => h.name));
      for (const h of await manager.listWithoutRootId(filter)) {
        if (deps.records.has(h.name)) {
          names.add(h.name);
        } else if (!warned.has(h.name)) {
          warned.add(h.name);
          deps.warn(`cgroup \`${h.name}\` under \`${manager.parents.name}\` was made by a corral from before root ids and no state record of this root names it: left alone (it may be another root's)`, {
            container: h.name, dirs: handleDirs(h),
          });
        }
      }
      return [...names].sort();
    },
    check: async (spec) => [...manager.checkResources(spec.resources), ...checkDevicePolicy(manager.capabilities, spec.devices)].map((d) => ({ ...d, container: spec.name })),
    async oomKills(handle) {
      return (await manager.stats(decodeCgroupHandle(handle))).memory.oomKills ?? 0;
    },
    async stats(handle, scope) {
      const s = await manager.stats(decodeCgroupHandle(handle), scope);
      return {
        memoryBytes: s.memory.currentBytes,
        memoryPeakBytes: s.memory.peakBytes,
        oomKills: s.memory.oomKills,
        cpuSeconds: s.cpu.usageUsec === null ? null : s.cpu.usageUsec / 1e6,
        throttledPeriods: s.cpu.throttledPeriods,
        pids: s.pids.current,
      };
    },
  };
}
