// The v1 manager (runc's fs): one directory per hierarchy, each controller module doing its part.
// On a hybrid host the container also gets a twin in the cgroup2 tree, which has no controllers
// there but freezes and kills atomically (cgroup.freeze, cgroup.kill), so freeze and kill go
// through it; a v1-only host uses the freezer. Devices go through the v1 `devices` hierarchy, or,
// on a hybrid host without one, through a device program on the cgroup2 twin. The cgroup2 twin and
// the freezer directory get the two leaves (handle.ts › LEAVES): they are the ones that freeze or
// kill the payload alone. In the other hierarchies monitor and payload share the directory.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CorralError } from '../../../errors.js';
import type { ResourcesSpec } from '../../../manifest/spec.js';
import { ALL_FIELDS, emptyApplied, emptyStats, shouldWrite } from '../accumulate.js';
import { checkResources } from '../check.js';
import { resolveBlockDevice, type DeviceResolver } from '../device.js';
import { applyDeviceProgram, checkDeviceProgram } from '../device-bpf.js';
import { describePolicy } from '../device-rules.js';
import {
  allHandlePids, assertHandleOwned, checkHandle, destroyHandle, handleDirs, handlePids, holdsLeaves, leafDirs, LEAVES, listHandles, payloadDir,
  payloadDirs, removeAllUnder, stampHandle, treePids, withLeavesIn,
} from '../handle.js';
import { readPids, writeKnob } from '../knob.js';
import { type Owner, UNSCOPED } from '../mark.js';
import { watchOomV1 } from '../oom.js';
import { checkCgroupName } from '../owner.js';
import { removeCgroupDir } from '../remove.js';
import type {
  AppliedFields, AppliedResources, CgroupHandle, CgroupLayout, CgroupListFilter, CgroupManager, CgroupParents, CgroupStats, DeviceCheck, DevicePolicy, Disposable,
  HostCgroupCapabilities, OomEvent, StatsScope,
} from '../types.js';
import { freezeUnified, thawUnified } from '../unified.js';
import { blkio } from './blkio.js';
import { cpu } from './cpu.js';
import { cpuacct } from './cpuacct.js';
import { cpuset } from './cpuset.js';
import { checkDevicesV1, devices, joinDevicesCgroup, setDevicesTree } from './devices.js';
import { freezeV1, freezer, thawV1 } from './freezer.js';
import { killV1 } from './kill.js';
import { memory } from './memory.js';
import { pids } from './pids.js';
import type { V1Context, V1Subsystem } from './subsystem.js';

export { killV1 };

/** Fixed order: cpuset first so that a cgroup is joinable as early as possible. */
const SUBSYSTEMS: readonly V1Subsystem[] = [cpuset, memory, cpu, cpuacct, pids, blkio, devices, freezer];

/** The leaves inside one of a handle's directories that exist (none where it holds no leaves). */
function leavesIn(handle: CgroupHandle, dir: string): string[] {
  const l = handle.leaves;
  return l && holdsLeaves(handle, dir) ? [join(dir, l.monitor), join(dir, l.payload)].filter((d) => existsSync(d)) : [];
}

export class V1Manager implements CgroupManager {
  readonly backend = 'v1' as const;
  private readonly ctx: V1Context;

  constructor(
    readonly layout: CgroupLayout,
    readonly parents: CgroupParents,
    readonly capabilities: HostCgroupCapabilities,
    resolveDevice: DeviceResolver = resolveBlockDevice,
    private readonly owner: Owner = UNSCOPED,
  ) {
    this.ctx = { caps: capabilities, resolveDevice };
  }

  get rootId(): string | null {
    return this.owner.rootId;
  }

  /**
   * Creates corral's parents (once per agent start); a v1 cpuset parent is filled from its root.
   * If one hierarchy refuses (a foreign directory of that name), the parents this call created are
   * removed again.
   */
  async ensureParents(): Promise<void> {
    const created: string[] = [];
    try {
      const done = new Set<string>();
      for (const sub of SUBSYSTEMS) {
        const dir = this.parents.v1[sub.name];
        if (dir === undefined || done.has(dir)) continue;
        done.add(dir);
        if (await this.owner.ensureDir(dir, 'parent')) created.push(dir);
        await sub.apply?.(dir, dirname(dir));
      }
      if (this.parents.unified !== null && await this.owner.ensureDir(this.parents.unified, 'parent')) created.push(this.parents.unified);
    } catch (err) {
      for (const dir of created.reverse()) await removeCgroupDir(dir, { children: false, timeoutMs: 1000 }).catch(() => undefined);
      throw err;
    }
  }

  checkResources(resources: ResourcesSpec, container?: string) {
    return checkResources(this.capabilities, resources, { resolveDevice: this.ctx.resolveDevice, ...(container ? { container } : {}) });
  }

  private handleFor(name: string): CgroupHandle {
    const v1: Record<string, string> = {};
    for (const [c, p] of Object.entries(this.parents.v1)) v1[c] = join(p, name);
    const unified = this.parents.unified === null ? null : join(this.parents.unified, name);
    const base: CgroupHandle = { formatVersion: 1, backend: 'v1', name, v1, unified };
    // No cgroup2 tree and no freezer: leaves everywhere, as before `leavesUnder`.
    if (unified === null && v1['freezer'] === undefined) return { ...base, leaves: LEAVES };
    return withLeavesIn(base, (d) => d === unified || d === v1['freezer']);
  }

  /** Each subsystem with the directory it acts on in this handle. */
  private subsystems(handle: CgroupHandle): Array<[V1Subsystem, string]> {
    return SUBSYSTEMS.filter((s) => handle.v1[s.name] !== undefined).map((s) => [s, handle.v1[s.name]!]);
  }

  /**
   * Directories first (each filled from its parent), then the device policy, then the leaves
   * (filled from their directory: v1 copies a devices list into a child at mkdir), then the
   * limits: all before any process can join. A cgroup of an earlier run (a crash before the state
   * record, or a container started before leaves) is adopted; its idle leaves are made again where
   * the handle has leaves and removed elsewhere (a corral from before `leavesUnder` made them in
   * every hierarchy), since v1 refuses to switch a devices cgroup between allow-all and a list
   * while it has children.
   */
  async create(name: string, resources: ResourcesSpec, devicePolicy: DevicePolicy): Promise<CgroupHandle> {
    checkCgroupName(name, 'container name');
    const handle = this.handleFor(name);
    const created: string[] = [];
    try {
      for (const dir of handleDirs(handle)) if (await this.owner.ensureDir(dir, 'container')) created.push(dir);
      for (const [sub, dir] of this.subsystems(handle)) await sub.apply?.(dir, dirname(dir));
      for (const dir of handleDirs(handle)) {
        if (created.includes(dir)) continue; // made just now: no leaves in it yet
        for (const leaf of [LEAVES.monitor, LEAVES.payload].map((l) => join(dir, l))) if (existsSync(leaf) && (await treePids(leaf)).length === 0) await removeCgroupDir(leaf);
      }
      // Every directory was just made or claimed by ensureDir: no ownership check again below.
      await this.writeDevices({ ...handle, leaves: undefined }, devicePolicy);
      for (const leaf of leafDirs(handle)) await this.owner.ensureDir(leaf, 'leaf');
      for (const [sub, dir] of this.subsystems(handle)) for (const leaf of leavesIn(handle, dir)) await sub.apply?.(leaf, dir);
      await this.writeLimits(handle, resources);
      await this.writeDevices(handle, devicePolicy);
    } catch (err) {
      // Leave nothing half-made behind; directories adopted from an earlier run stay.
      for (const dir of created.reverse()) await removeCgroupDir(dir).catch(() => undefined);
      throw err;
    }
    return handle;
  }

  async set(handle: CgroupHandle, resources: ResourcesSpec): Promise<void> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle, this.owner);
    await this.writeLimits(handle, resources);
  }

  private async writeLimits(handle: CgroupHandle, resources: ResourcesSpec): Promise<void> {
    for (const [sub, dir] of this.subsystems(handle)) await sub.set?.(dir, resources, this.ctx, dirname(dir), leavesIn(handle, dir));
  }

  resolveDevice(path: string): string {
    return this.ctx.resolveDevice(path);
  }

  async read(handle: CgroupHandle, fields: AppliedFields = ALL_FIELDS): Promise<AppliedResources> {
    checkHandle(handle, 'v1');
    const into = emptyApplied();
    for (const [sub, dir] of this.subsystems(handle)) await sub.read?.(dir, into, fields);
    return into;
  }

  /**
   * The devices directory of a handle: its own, or for a handle from a corral that did not manage
   * devices, the one under corral's parent. null: this host has no v1 devices hierarchy.
   */
  private devicesDir(handle: CgroupHandle): string | null {
    return handle.v1['devices'] ?? (this.parents.v1['devices'] === undefined ? null : join(this.parents.v1['devices'], handle.name));
  }

  /** The handle with the devices cgroup setDevices may have made for it since it was stored. */
  private complete(handle: CgroupHandle): CgroupHandle {
    const dir = this.devicesDir(handle);
    if (handle.backend !== 'v1' || handle.v1['devices'] !== undefined || dir === null || !existsSync(dir)) return handle;
    const claim = this.owner.claim(dir, 'container');
    if (claim !== 'own' && claim !== 'legacy' && claim !== 'unsupported') return handle;
    return { ...handle, v1: { ...handle.v1, devices: dir } };
  }

  async setDevices(handle: CgroupHandle, policy: DevicePolicy): Promise<CgroupHandle> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle, this.owner);
    return this.writeDevices(handle, policy);
  }

  private async writeDevices(handle: CgroupHandle, policy: DevicePolicy): Promise<CgroupHandle> {
    if (!shouldWrite(this.capabilities, 'devices', policy.allowAll, describePolicy(policy))) return handle;
    const dir = this.devicesDir(handle);
    if (dir === null) {
      if (handle.unified === null) throw new CorralError('HOST_UNSUPPORTED', `no devices cgroup and no cgroup2 directory for \`${handle.name}\`: its device policy cannot be set`);
      // A device program on the container's cgroup2 directory applies to its leaves too.
      applyDeviceProgram(handle.unified, policy);
      return handle;
    }
    // A handle without `devices` (older corral), or a devices directory gone: make it, narrow it,
    // and only then move the processes in.
    const created = await this.owner.ensureDir(dir, 'container');
    await setDevicesTree(dir, leavesIn(handle, dir), policy, handle.name);
    // A leaf made now copies the list just written.
    const l = holdsLeaves(handle, dir) ? handle.leaves : undefined;
    if (l) for (const leaf of [l.monitor, l.payload]) await this.owner.ensureDir(join(dir, leaf), 'leaf');
    if (created || handle.v1['devices'] === undefined) {
      const others = handleDirs(handle).filter((d) => d !== dir);
      if (l) {
        await joinDevicesCgroup(join(dir, l.payload), async () => (await Promise.all(others.map((d) => readPids(join(d, l.payload))))).flat(), handle.name);
        await joinDevicesCgroup(join(dir, l.monitor), async () => (await Promise.all(others.map((d) => readPids(join(d, l.monitor))))).flat(), handle.name);
      } else {
        // The monitor shares this directory when the handle has leaves elsewhere.
        await joinDevicesCgroup(dir, () => allHandlePids(handle, handle.leaves ? 'tree' : 'payload'), handle.name);
      }
    }
    return handle.v1['devices'] === dir ? handle : { ...handle, v1: { ...handle.v1, devices: dir } };
  }

  async checkDevices(handle: CgroupHandle, policy: DevicePolicy): Promise<DeviceCheck> {
    checkHandle(handle, 'v1');
    const dir = this.devicesDir(handle);
    if (dir !== null) {
      // The processes' own list is the one the kernel checks (v1 does not look up the tree).
      let own: DeviceCheck | null = null;
      for (const d of [dir, ...leavesIn(handle, dir)]) {
        const check = await checkDevicesV1(d, policy);
        if (!check.enforced) return check;
        own ??= check;
      }
      return own!;
    }
    if (this.capabilities.features.devices.available && handle.unified !== null) return checkDeviceProgram(handle.unified, policy);
    return { enforced: policy.allowAll, current: 'not restricted (no device control on this host)' };
  }

  async stats(handle: CgroupHandle, scope: StatsScope = 'all'): Promise<CgroupStats> {
    checkHandle(handle, 'v1');
    const into = emptyStats();
    for (const [sub, dir] of this.subsystems(handle)) await sub.stats?.(dir, into, scope === 'all' ? leavesIn(handle, dir) : [], scope);
    return into;
  }

  watchOom(handle: CgroupHandle, listener: (event: OomEvent) => void): Disposable {
    checkHandle(handle, 'v1');
    const dir = handle.v1['memory'];
    if (dir === undefined) throw new CorralError('HOST_UNSUPPORTED', `no v1 memory cgroup for \`${handle.name}\`: OOM events cannot be watched`);
    return watchOomV1(dir, handle.name, listener, leavesIn(handle, dir));
  }

  async addProc(stored: CgroupHandle, pid: number): Promise<void> {
    checkHandle(stored, 'v1');
    const handle = this.complete(stored);
    assertHandleOwned(handle, this.owner);
    const cpusetDir = handle.v1['cpuset'] === undefined ? undefined : payloadDir(handle, handle.v1['cpuset']);
    for (const dir of [cpusetDir, ...payloadDirs(handle)].filter((d, i, all): d is string => d !== undefined && all.indexOf(d) === i)) {
      await writeKnob(dir, 'cgroup.procs', String(pid));
    }
  }

  async pids(handle: CgroupHandle): Promise<number[]> {
    checkHandle(handle, 'v1');
    return handlePids(this.complete(handle));
  }

  /** The cgroup2 twin's payload freezes atomically; a v1-only host uses the freezer. */
  private freezeTarget(handle: CgroupHandle, what: string): { unified: string } | { v1: string } {
    const twin = handle.unified === null ? null : payloadDir(handle, handle.unified);
    if (twin !== null && existsSync(join(twin, 'cgroup.freeze'))) return { unified: twin };
    const dir = handle.v1['freezer'];
    if (dir === undefined) throw new CorralError('HOST_UNSUPPORTED', `cannot ${what} \`${handle.name}\`: no freezer hierarchy and no cgroup2 tree`);
    return { v1: payloadDir(handle, dir) };
  }

  async freeze(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle, this.owner);
    const target = this.capabilities.features.freeze.available ? this.freezeTarget(handle, 'freeze') : this.freezeTarget({ ...handle, unified: null }, 'freeze');
    return 'unified' in target ? freezeUnified(target.unified) : freezeV1(target.v1);
  }

  async thaw(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle, this.owner);
    const target = this.freezeTarget(handle, 'thaw');
    return 'unified' in target ? thawUnified(target.unified) : thawV1(target.v1);
  }

  async kill(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'v1');
    const full = this.complete(handle);
    assertHandleOwned(full, this.owner);
    await killV1(full, 'payload');
  }

  async destroy(handle: CgroupHandle): Promise<void> {
    const full = this.complete(handle);
    assertHandleOwned(full, this.owner);
    await killV1(full, 'tree');
    await destroyHandle(full, this.owner);
  }

  list(filter?: CgroupListFilter): Promise<CgroupHandle[]> {
    return listHandles(this.parents, 'v1', this.owner, 'own', filter);
  }

  async listWithoutRootId(filter?: CgroupListFilter): Promise<CgroupHandle[]> {
    return this.owner.rootId === null ? [] : listHandles(this.parents, 'v1', this.owner, 'legacy', filter);
  }

  async adopt(handle: CgroupHandle): Promise<void> {
    stampHandle(this.complete(handle), this.owner);
  }

  removeAll(): Promise<void> {
    return removeAllUnder(this.parents, 'v1', this.owner, (h) => this.destroy(h));
  }
}
