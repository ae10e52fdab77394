// The v1 manager (runc's fs): one directory per hierarchy, each controller module doing its part.
// On a hybrid host the container also gets a twin in the cgroup2 tree, which has no controllers
// there but freezes and kills atomically (cgroup.freeze, cgroup.kill), so freeze and kill go
// through it; a v1-only host uses the freezer. Devices go through the v1 `devices` hierarchy, or,
// on a hybrid host without one, through a device program on the cgroup2 twin.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CorralError } from '../../../errors.js';
import type { ResourcesSpec } from '../../../manifest/spec.js';
import { emptyApplied, emptyStats, shouldWrite } from '../accumulate.js';
import { checkResources } from '../check.js';
import { resolveBlockDevice, type DeviceResolver } from '../device.js';
import { applyDeviceProgram, checkDeviceProgram } from '../device-bpf.js';
import { describePolicy } from '../device-rules.js';
import {
  allHandlePids, assertHandleOwned, checkHandle, destroyHandle, handleDirs, handlePids, listHandles, removeAllUnder,
} from '../handle.js';
import { writeKnob } from '../knob.js';
import { watchOomV1 } from '../oom.js';
import { checkCgroupName, ensureOwnedDir, isOwned } from '../owner.js';
import { removeCgroupDir } from '../remove.js';
import type {
  AppliedResources, CgroupHandle, CgroupLayout, CgroupManager, CgroupParents, CgroupStats, DeviceCheck, DevicePolicy, Disposable,
  HostCgroupCapabilities, OomEvent,
} from '../types.js';
import { freezeUnified, isPopulated, killPids, killUnified, thawUnified } from '../unified.js';
import { waitUntil } from '../wait.js';
import { blkio } from './blkio.js';
import { cpu } from './cpu.js';
import { cpuacct } from './cpuacct.js';
import { cpuset } from './cpuset.js';
import { checkDevicesV1, devices, joinDevicesCgroup, setDevicesV1 } from './devices.js';
import { freezeV1, freezer, thawV1 } from './freezer.js';
import { memory } from './memory.js';
import { pids } from './pids.js';
import type { V1Context, V1Subsystem } from './subsystem.js';

/** Fixed order: cpuset first so that a cgroup is joinable as early as possible. */
const SUBSYSTEMS: readonly V1Subsystem[] = [cpuset, memory, cpu, cpuacct, pids, blkio, devices, freezer];

/** Rounds of freeze, SIGKILL, thaw before giving up on a v1-only kill. */
const KILL_ROUNDS = 5;

/**
 * Kills every process of a v1 handle: through the cgroup2 twin when there is one (atomic), then
 * whatever is left in v1 only (a placement that stopped half-way, or a v1-only host) by rounds of
 * freeze, SIGKILL each pid, thaw, so that nothing forks between reading the list and the kill.
 */
export async function killV1(handle: CgroupHandle): Promise<void> {
  if (handle.unified !== null && existsSync(handle.unified) && await isPopulated(handle.unified)) await killUnified(handle.unified);
  const freezerDir = handle.v1['freezer'];
  for (let round = 0; round < KILL_ROUNDS && (await allHandlePids(handle)).length > 0; round++) {
    if (freezerDir !== undefined) await freezeV1(freezerDir);
    try {
      killPids(await allHandlePids(handle));
    } finally {
      if (freezerDir !== undefined) await thawV1(freezerDir);
    }
    await waitUntil(async () => (await allHandlePids(handle)).length === 0, `empty \`${handle.name}\` after SIGKILL`, 2000).catch(() => undefined);
  }
  const left = await allHandlePids(handle);
  if (left.length > 0) {
    throw new CorralError('CGROUP_BUSY', `cgroup \`${handle.name}\` still holds processes after ${KILL_ROUNDS} rounds of SIGKILL`, { detail: `pids: ${left.join(', ')}` });
  }
}

export class V1Manager implements CgroupManager {
  readonly backend = 'v1' as const;
  private readonly ctx: V1Context;

  constructor(
    readonly layout: CgroupLayout,
    readonly parents: CgroupParents,
    readonly capabilities: HostCgroupCapabilities,
    resolveDevice: DeviceResolver = resolveBlockDevice,
  ) {
    this.ctx = { caps: capabilities, resolveDevice };
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
        if (await ensureOwnedDir(dir, 'parent')) created.push(dir);
        await sub.apply?.(dir, dirname(dir));
      }
      if (this.parents.unified !== null && await ensureOwnedDir(this.parents.unified, 'parent')) created.push(this.parents.unified);
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
    return { formatVersion: 1, backend: 'v1', name, v1, unified: this.parents.unified === null ? null : join(this.parents.unified, name) };
  }

  /** Each subsystem with the directory it acts on in this handle. */
  private subsystems(handle: CgroupHandle): Array<[V1Subsystem, string]> {
    return SUBSYSTEMS.filter((s) => handle.v1[s.name] !== undefined).map((s) => [s, handle.v1[s.name]!]);
  }

  async create(name: string, resources: ResourcesSpec, devicePolicy: DevicePolicy): Promise<CgroupHandle> {
    checkCgroupName(name, 'container name');
    const handle = this.handleFor(name);
    const created: string[] = [];
    try {
      for (const dir of handleDirs(handle)) if (await ensureOwnedDir(dir, 'container')) created.push(dir);
      for (const [sub, dir] of this.subsystems(handle)) await sub.apply?.(dir, dirname(dir));
      await this.set(handle, resources);
      await this.setDevices(handle, devicePolicy);
    } catch (err) {
      // Leave nothing half-made behind; directories adopted from an earlier run stay.
      for (const dir of created.reverse()) await removeCgroupDir(dir).catch(() => undefined);
      throw err;
    }
    return handle;
  }

  async set(handle: CgroupHandle, resources: ResourcesSpec): Promise<void> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle);
    for (const [sub, dir] of this.subsystems(handle)) await sub.set?.(dir, resources, this.ctx, dirname(dir));
  }

  async read(handle: CgroupHandle): Promise<AppliedResources> {
    checkHandle(handle, 'v1');
    const into = emptyApplied();
    for (const [sub, dir] of this.subsystems(handle)) await sub.read?.(dir, into, this.ctx);
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
    if (handle.backend !== 'v1' || handle.v1['devices'] !== undefined || dir === null || !existsSync(dir) || !isOwned(dir, 'container')) return handle;
    return { ...handle, v1: { ...handle.v1, devices: dir } };
  }

  async setDevices(handle: CgroupHandle, policy: DevicePolicy): Promise<CgroupHandle> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle);
    if (!shouldWrite(this.capabilities, 'devices', policy.allowAll, describePolicy(policy))) return handle;
    const dir = this.devicesDir(handle);
    if (dir === null) {
      if (handle.unified === null) throw new CorralError('HOST_UNSUPPORTED', `no devices cgroup and no cgroup2 directory for \`${handle.name}\`: its device policy cannot be set`);
      applyDeviceProgram(handle.unified, policy);
      return handle;
    }
    // A handle without `devices` (older corral), or a devices directory gone: make it, narrow it,
    // and only then move the processes in.
    const created = await ensureOwnedDir(dir, 'container');
    await setDevicesV1(dir, policy);
    if (created || handle.v1['devices'] === undefined) await joinDevicesCgroup(dir, handle);
    return handle.v1['devices'] === dir ? handle : { ...handle, v1: { ...handle.v1, devices: dir } };
  }

  async checkDevices(handle: CgroupHandle, policy: DevicePolicy): Promise<DeviceCheck> {
    checkHandle(handle, 'v1');
    const dir = this.devicesDir(handle);
    if (dir !== null) return checkDevicesV1(dir, policy);
    if (this.capabilities.features.devices.available && handle.unified !== null) return checkDeviceProgram(handle.unified, policy);
    return { enforced: policy.allowAll, current: 'not restricted (no device control on this host)' };
  }

  async stats(handle: CgroupHandle): Promise<CgroupStats> {
    checkHandle(handle, 'v1');
    const into = emptyStats();
    for (const [sub, dir] of this.subsystems(handle)) await sub.stats?.(dir, into);
    return into;
  }

  watchOom(handle: CgroupHandle, listener: (event: OomEvent) => void): Disposable {
    checkHandle(handle, 'v1');
    const dir = handle.v1['memory'];
    if (dir === undefined) throw new CorralError('HOST_UNSUPPORTED', `no v1 memory cgroup for \`${handle.name}\`: OOM events cannot be watched`);
    return watchOomV1(dir, handle.name, listener);
  }

  async addProc(stored: CgroupHandle, pid: number): Promise<void> {
    checkHandle(stored, 'v1');
    const handle = this.complete(stored);
    assertHandleOwned(handle);
    for (const dir of [handle.v1['cpuset'], ...handleDirs(handle)].filter((d, i, all): d is string => d !== undefined && all.indexOf(d) === i)) {
      await writeKnob(dir, 'cgroup.procs', String(pid));
    }
  }

  async pids(handle: CgroupHandle): Promise<number[]> {
    checkHandle(handle, 'v1');
    return handlePids(this.complete(handle));
  }

  async freeze(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle);
    if (this.capabilities.features.freeze.available && handle.unified !== null && existsSync(join(handle.unified, 'cgroup.freeze'))) return freezeUnified(handle.unified);
    const dir = handle.v1['freezer'];
    if (dir === undefined) throw new CorralError('HOST_UNSUPPORTED', `cannot freeze \`${handle.name}\`: no freezer hierarchy and no cgroup2 tree`);
    return freezeV1(dir);
  }

  async thaw(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'v1');
    assertHandleOwned(handle);
    if (handle.unified !== null && existsSync(join(handle.unified, 'cgroup.freeze'))) return thawUnified(handle.unified);
    const dir = handle.v1['freezer'];
    if (dir === undefined) throw new CorralError('HOST_UNSUPPORTED', `cannot thaw \`${handle.name}\`: no freezer hierarchy and no cgroup2 tree`);
    return thawV1(dir);
  }

  async kill(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'v1');
    const full = this.complete(handle);
    assertHandleOwned(full);
    await killV1(full);
  }

  destroy(handle: CgroupHandle): Promise<void> {
    return destroyHandle(this.complete(handle));
  }

  list(): Promise<CgroupHandle[]> {
    return listHandles(this.parents, 'v1');
  }

  removeAll(): Promise<void> {
    return removeAllUnder(this.parents, 'v1', (h) => this.kill(h));
  }
}
