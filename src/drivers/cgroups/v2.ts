// The cgroup2 manager (runc's fs2): one directory, and `set` is a flat sequence of small writers
// (v2-knobs.ts). Devices: a device program (device-bpf.ts). The container's directory holds the
// limits and two leaves (handle.ts › LEAVES) hold the processes: no controller is enabled below
// it, so both leaves are charged to it, and it holds no process itself (so the no-internal-process
// rule would still allow enabling one there).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../errors.js';
import type { ResourcesSpec } from '../../manifest/spec.js';
import { ALL_FIELDS, emptyApplied, emptyStats, shouldWrite } from './accumulate.js';
import { checkResources } from './check.js';
import { resolveBlockDevice, type DeviceResolver } from './device.js';
import { applyDeviceProgram, checkDeviceProgram } from './device-bpf.js';
import { describePolicy } from './device-rules.js';
import {
  assertHandleOwned, checkHandle, destroyHandle, leafDirs, LEAVES, listHandles, payloadDir, removeAllUnder, stampHandle,
} from './handle.js';
import { readKnob, readPids, writeKnob, errnoOf } from './knob.js';
import { type Owner, UNSCOPED } from './mark.js';
import { watchOomV2 } from './oom.js';
import { checkCgroupName } from './owner.js';
import { removeCgroupDir } from './remove.js';
import type {
  AppliedFields, AppliedResources, CgroupHandle, CgroupLayout, CgroupListFilter, CgroupManager, CgroupParents, CgroupStats, DeviceCheck, DevicePolicy, Disposable,
  HostCgroupCapabilities, OomEvent, StatsScope,
} from './types.js';
import { freezeUnified, isPopulated, killUnified, thawUnified } from './unified.js';
import { readV2, SET_SEQUENCE, statsV2, type Ctx } from './v2-knobs.js';

/** The cgroup2 controllers corral enables for its containers (others stay off: they cost). */
export const MANAGED_V2_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids'] as const;

/** Enables in `dir`'s subtree_control every managed controller it is offered and lacks. */
async function enableControllers(dir: string): Promise<void> {
  const offered = new Set((await readKnob(dir, 'cgroup.controllers')).split(/\s+/).filter(Boolean));
  const enabled = new Set((await readKnob(dir, 'cgroup.subtree_control')).split(/\s+/).filter(Boolean));
  for (const c of MANAGED_V2_CONTROLLERS) if (offered.has(c) && !enabled.has(c)) await writeKnob(dir, 'cgroup.subtree_control', `+${c}`);
}

export class V2Manager implements CgroupManager {
  readonly backend = 'v2' as const;
  private readonly ctx: Ctx;
  private readonly parentDir: string;

  constructor(
    readonly layout: CgroupLayout,
    readonly parents: CgroupParents,
    readonly capabilities: HostCgroupCapabilities,
    resolveDevice: DeviceResolver = resolveBlockDevice,
    private readonly owner: Owner = UNSCOPED,
  ) {
    if (parents.unified === null) throw new CorralError('INTERNAL', 'the v2 manager needs a cgroup2 parent');
    this.parentDir = parents.unified;
    this.ctx = { caps: capabilities, resolveDevice };
  }

  get rootId(): string | null {
    return this.owner.rootId;
  }

  /**
   * Creates corral's parent and enables the controllers for its children. Under systemd delegation
   * the unit's processes (the agent) first move to the unit's `agent` leaf: cgroup2 lets a cgroup
   * hand controllers to children only while it holds no process itself.
   */
  async ensureParents(): Promise<void> {
    const d = this.parents.delegated;
    if (d !== null) {
      await this.owner.ensureDir(d.leafDir, 'agent');
      for (const pid of await readPids(d.unitDir)) {
        await writeKnob(d.leafDir, 'cgroup.procs', String(pid)).catch((err: unknown) => {
          if (errnoOf((err as { cause?: unknown }).cause) !== 'ESRCH') throw err;
        });
      }
      await enableControllers(d.unitDir);
    }
    const created = await this.owner.ensureDir(this.parentDir, 'parent');
    try {
      await enableControllers(this.parentDir);
    } catch (err) {
      if (created) await removeCgroupDir(this.parentDir, { children: false, timeoutMs: 1000 }).catch(() => undefined);
      throw err;
    }
  }

  checkResources(resources: ResourcesSpec, container?: string) {
    return checkResources(this.capabilities, resources, { resolveDevice: this.ctx.resolveDevice, ...(container ? { container } : {}) });
  }

  private dir(handle: CgroupHandle): string {
    checkHandle(handle, 'v2');
    return handle.unified!;
  }

  /** Where the container's processes are: the payload leaf, or the directory of a handle without leaves. */
  private payload(handle: CgroupHandle): string {
    return payloadDir(handle, this.dir(handle));
  }

  async create(name: string, resources: ResourcesSpec, devices: DevicePolicy): Promise<CgroupHandle> {
    checkCgroupName(name, 'container name');
    const handle: CgroupHandle = { formatVersion: 1, backend: 'v2', name, v1: {}, unified: join(this.parentDir, name), leaves: LEAVES };
    const created = await this.owner.ensureDir(handle.unified!, 'container');
    try {
      // Limits and the device program on the directory apply to every cgroup below it.
      // The directory was just made or claimed by ensureDir: no ownership check again.
      for (const step of SET_SEQUENCE) await step(handle.unified!, resources, this.ctx);
      this.writeDevices(handle.unified!, devices);
      for (const leaf of leafDirs(handle)) await this.owner.ensureDir(leaf, 'leaf');
    } catch (err) {
      if (created) await removeCgroupDir(handle.unified!).catch(() => undefined);
      throw err;
    }
    return handle;
  }

  async set(handle: CgroupHandle, resources: ResourcesSpec): Promise<void> {
    const dir = this.dir(handle);
    assertHandleOwned(handle, this.owner);
    for (const step of SET_SEQUENCE) await step(dir, resources, this.ctx);
  }

  async setDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<CgroupHandle> {
    const dir = this.dir(handle);
    assertHandleOwned(handle, this.owner);
    this.writeDevices(dir, devices);
    return handle;
  }

  private writeDevices(dir: string, devices: DevicePolicy): void {
    if (shouldWrite(this.capabilities, 'devices', devices.allowAll, describePolicy(devices))) applyDeviceProgram(dir, devices);
  }

  async checkDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<DeviceCheck> {
    const dir = this.dir(handle);
    if (!this.capabilities.features.devices.available) return { enforced: devices.allowAll, current: 'not restricted (no device control on this host)' };
    return checkDeviceProgram(dir, devices);
  }

  resolveDevice(path: string): string {
    return this.ctx.resolveDevice(path);
  }

  async read(handle: CgroupHandle, fields: AppliedFields = ALL_FIELDS): Promise<AppliedResources> {
    const into = emptyApplied();
    await readV2(this.dir(handle), into, fields);
    return into;
  }

  async stats(handle: CgroupHandle, scope: StatsScope = 'all'): Promise<CgroupStats> {
    const into = emptyStats();
    await statsV2(this.dir(handle), into, scope);
    return into;
  }

  watchOom(handle: CgroupHandle, listener: (event: OomEvent) => void): Disposable {
    const dir = this.dir(handle);
    if (!existsSync(join(dir, 'memory.events'))) throw new CorralError('HOST_UNSUPPORTED', `no \`memory.events\` in \`${dir}\`: the memory controller is not enabled`);
    return watchOomV2(dir, handle.name, listener);
  }

  async addProc(handle: CgroupHandle, pid: number): Promise<void> {
    const dir = this.payload(handle);
    assertHandleOwned(handle, this.owner);
    await writeKnob(dir, 'cgroup.procs', String(pid));
  }

  pids(handle: CgroupHandle): Promise<number[]> {
    return readPids(this.payload(handle));
  }

  async freeze(handle: CgroupHandle): Promise<void> {
    const dir = this.payload(handle);
    assertHandleOwned(handle, this.owner);
    await freezeUnified(dir);
  }

  async thaw(handle: CgroupHandle): Promise<void> {
    const dir = this.payload(handle);
    assertHandleOwned(handle, this.owner);
    await thawUnified(dir);
  }

  async kill(handle: CgroupHandle): Promise<void> {
    const dir = this.payload(handle);
    assertHandleOwned(handle, this.owner);
    if (existsSync(dir)) await killUnified(dir);
  }

  async destroy(handle: CgroupHandle): Promise<void> {
    const dir = this.dir(handle);
    assertHandleOwned(handle, this.owner);
    if (existsSync(dir) && await isPopulated(dir)) await killUnified(dir);
    await destroyHandle(handle, this.owner);
  }

  list(filter?: CgroupListFilter): Promise<CgroupHandle[]> {
    return listHandles(this.parents, 'v2', this.owner, 'own', filter);
  }

  async listWithoutRootId(filter?: CgroupListFilter): Promise<CgroupHandle[]> {
    return this.owner.rootId === null ? [] : listHandles(this.parents, 'v2', this.owner, 'legacy', filter);
  }

  async adopt(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'v2');
    stampHandle(handle, this.owner);
  }

  removeAll(): Promise<void> {
    return removeAllUnder(this.parents, 'v2', this.owner, (h) => this.destroy(h));
  }
}
