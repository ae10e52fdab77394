// The cgroup2 manager (runc's fs2): one directory, and `set` is a flat sequence of small writers,
// each noting the kernel that brought its files. Devices: a device program (device-bpf.ts).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../errors.js';
import type { ResourcesSpec } from '../../manifest/spec.js';
import { emptyApplied, emptyStats, orNull, shouldWrite, type AppliedBuilder, type StatsBuilder } from './accumulate.js';
import { checkResources } from './check.js';
import {
  bandwidthToCpuMillis, canonicalIdList, CPU_WEIGHT, cpuMillisToBandwidth, formatCpuMax, formatIoMax, formatV2Max, IO_WEIGHT,
  memorySwapToV2SwapMax, parseCpuMax, parseFlatKeyed, parseIoMax, parseV2Max, v2SwapMaxToMemorySwap, type IoMaxEntry,
} from './convert.js';
import { resolveBlockDevice, type DeviceResolver } from './device.js';
import { applyDeviceProgram, checkDeviceProgram } from './device-bpf.js';
import { describePolicy } from './device-rules.js';
import { assertHandleOwned, checkHandle, destroyHandle, listHandles, removeAllUnder } from './handle.js';
import { readKnob, readOptionalKnob, readPids, writeKnob, errnoOf } from './knob.js';
import { watchOomV2 } from './oom.js';
import { checkCgroupName, ensureOwnedDir } from './owner.js';
import { removeCgroupDir } from './remove.js';
import type {
  AppliedResources, CgroupHandle, CgroupLayout, CgroupManager, CgroupParents, CgroupStats, DeviceCheck, DevicePolicy, Disposable,
  HostCgroupCapabilities, OomEvent,
} from './types.js';
import { freezeUnified, killUnified, thawUnified } from './unified.js';

/** The cgroup2 controllers corral enables for its containers (others stay off: they cost). */
export const MANAGED_V2_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids'] as const;

interface Ctx {
  readonly caps: HostCgroupCapabilities;
  readonly resolveDevice: DeviceResolver;
}

// pids.max: Linux 4.5.
async function setPids(dir: string, r: ResourcesSpec, { caps }: Ctx): Promise<void> {
  if (shouldWrite(caps, 'pids', r.pids === 'unlimited', String(r.pids))) await writeKnob(dir, 'pids.max', formatV2Max(r.pids));
}

// memory.max and memory.low: 4.5; memory.swap.max: 4.8. Unlike v1, swap is its own limit, so the
// writes have no required order.
async function setMemory(dir: string, r: ResourcesSpec, { caps }: Ctx): Promise<void> {
  const swapMax = memorySwapToV2SwapMax(r.memoryBytes, r.memorySwapBytes);
  const swapDefault = r.memorySwapBytes === null || r.memorySwapBytes === r.memoryBytes || (r.memorySwapBytes === 'unlimited' && r.memoryBytes === null);
  if (shouldWrite(caps, 'memorySwap', swapDefault, String(r.memorySwapBytes))) await writeKnob(dir, 'memory.swap.max', formatV2Max(swapMax === 'max' ? null : swapMax));
  if (shouldWrite(caps, 'memory', r.memoryBytes === null, String(r.memoryBytes))) await writeKnob(dir, 'memory.max', formatV2Max(r.memoryBytes));
  if (shouldWrite(caps, 'memoryReservation', r.memoryReservationBytes === null, String(r.memoryReservationBytes))) {
    await writeKnob(dir, 'memory.low', String(r.memoryReservationBytes ?? 0));
  }
}

// cpu.max and cpu.weight: 4.15.
async function setCpu(dir: string, r: ResourcesSpec, { caps }: Ctx): Promise<void> {
  if (shouldWrite(caps, 'cpuQuota', r.cpuMillis === null, `${r.cpuMillis}m`)) await writeKnob(dir, 'cpu.max', formatCpuMax(cpuMillisToBandwidth(r.cpuMillis)));
  if (shouldWrite(caps, 'cpuWeight', r.cpuWeight === null, String(r.cpuWeight))) await writeKnob(dir, 'cpu.weight', String(r.cpuWeight ?? CPU_WEIGHT.default));
}

// cpuset.cpus and cpuset.mems: 5.0. An empty value means "inherit from the parent".
async function setCpuset(dir: string, r: ResourcesSpec, { caps }: Ctx): Promise<void> {
  if (!shouldWrite(caps, 'cpuset', r.cpusetCpus === null && r.cpusetMems === null, `${r.cpusetCpus ?? ''}/${r.cpusetMems ?? ''}`)) return;
  await writeKnob(dir, 'cpuset.cpus', r.cpusetCpus ?? '');
  await writeKnob(dir, 'cpuset.mems', r.cpusetMems ?? '');
}

// io.max: 4.5 (block throttling); io.weight: 5.4 (io.cost). A device dropped from the manifest gets
// every limit set back to `max`, which removes its line.
async function setIo(dir: string, r: ResourcesSpec, { caps, resolveDevice }: Ctx): Promise<void> {
  if (shouldWrite(caps, 'ioWeight', r.ioWeight === null, String(r.ioWeight))) await writeKnob(dir, 'io.weight', `default ${r.ioWeight ?? IO_WEIGHT.default}`);
  if (!shouldWrite(caps, 'ioLimits', r.ioLimits.length === 0, `${r.ioLimits.length} devices`)) return;
  const wanted: IoMaxEntry[] = r.ioLimits.map((l) => ({ device: resolveDevice(l.device), rbps: l.readBps, wbps: l.writeBps, riops: l.readIops, wiops: l.writeIops }));
  for (const e of wanted) await writeKnob(dir, 'io.max', formatIoMax(e));
  for (const old of parseIoMax((await readOptionalKnob(dir, 'io.max')) ?? '')) {
    if (!wanted.some((w) => w.device === old.device)) await writeKnob(dir, 'io.max', formatIoMax({ device: old.device, rbps: null, wbps: null, riops: null, wiops: null }));
  }
}

const SET_SEQUENCE = [setPids, setMemory, setCpu, setCpuset, setIo];

async function readV2(dir: string, into: AppliedBuilder): Promise<void> {
  const opt = (file: string) => readOptionalKnob(dir, file);
  const max = await opt('memory.max');
  if (max !== null) into.memoryBytes = parseV2Max(max);
  const swap = await opt('memory.swap.max');
  if (swap !== null && max !== null) into.memorySwapBytes = v2SwapMaxToMemorySwap(into.memoryBytes, parseV2Max(swap));
  const low = await opt('memory.low');
  if (low !== null) into.memoryReservationBytes = Number(low) === 0 ? null : Number(low);
  const cpuMax = await opt('cpu.max');
  if (cpuMax !== null) into.cpuMillis = bandwidthToCpuMillis(parseCpuMax(cpuMax));
  const weight = await opt('cpu.weight');
  if (weight !== null) into.cpuWeight = Number(weight) === CPU_WEIGHT.default ? null : Number(weight);
  const cpus = await opt('cpuset.cpus');
  if (cpus !== null) into.cpusetCpus = canonicalIdList(cpus) || null;
  const mems = await opt('cpuset.mems');
  if (mems !== null) into.cpusetMems = canonicalIdList(mems) || null;
  const pids = await opt('pids.max');
  if (pids !== null) into.pids = parseV2Max(pids) ?? 'unlimited';
  const ioWeight = await opt('io.weight');
  if (ioWeight !== null) {
    const w = Number(/^default\s+(\d+)/m.exec(ioWeight)?.[1] ?? IO_WEIGHT.default);
    into.ioWeight = w === IO_WEIGHT.default ? null : w;
  }
  const ioMax = await opt('io.max');
  if (ioMax !== null) {
    into.ioLimits = parseIoMax(ioMax).map((e) => ({ device: e.device, readBps: e.rbps, writeBps: e.wbps, readIops: e.riops, writeIops: e.wiops }));
  }
}

async function statsV2(dir: string, into: StatsBuilder): Promise<void> {
  const opt = (file: string) => readOptionalKnob(dir, file);
  const current = await opt('memory.current');
  if (current !== null) into.memory.currentBytes = Number(current);
  const peak = await opt('memory.peak');
  if (peak !== null) into.memory.peakBytes = Number(peak);
  const events = await opt('memory.events');
  if (events !== null) into.memory.oomKills = parseFlatKeyed(events).get('oom_kill') ?? 0;
  // cpu.stat's usage lines exist without the cpu controller; the throttling lines need it.
  const cpu = parseFlatKeyed((await opt('cpu.stat')) ?? '');
  into.cpu.usageUsec = orNull(cpu.get('usage_usec'));
  into.cpu.userUsec = orNull(cpu.get('user_usec'));
  into.cpu.systemUsec = orNull(cpu.get('system_usec'));
  into.cpu.periods = orNull(cpu.get('nr_periods'));
  into.cpu.throttledPeriods = orNull(cpu.get('nr_throttled'));
  into.cpu.throttledUsec = orNull(cpu.get('throttled_usec'));
  const pids = await opt('pids.current');
  if (pids !== null) into.pids.current = Number(pids);
  const pidEvents = await opt('pids.events');
  if (pidEvents !== null) into.pids.limitHits = parseFlatKeyed(pidEvents).get('max') ?? 0;
}

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
  ) {
    if (parents.unified === null) throw new CorralError('INTERNAL', 'the v2 manager needs a cgroup2 parent');
    this.parentDir = parents.unified;
    this.ctx = { caps: capabilities, resolveDevice };
  }

  /**
   * Creates corral's parent and enables the controllers for its children. Under systemd delegation
   * the unit's processes (the agent) first move to the unit's `agent` leaf: cgroup2 lets a cgroup
   * hand controllers to children only while it holds no process itself.
   */
  async ensureParents(): Promise<void> {
    const d = this.parents.delegated;
    if (d !== null) {
      await ensureOwnedDir(d.leafDir, 'agent');
      for (const pid of await readPids(d.unitDir)) {
        await writeKnob(d.leafDir, 'cgroup.procs', String(pid)).catch((err: unknown) => {
          if (errnoOf((err as { cause?: unknown }).cause) !== 'ESRCH') throw err;
        });
      }
      await enableControllers(d.unitDir);
    }
    const created = await ensureOwnedDir(this.parentDir, 'parent');
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

  async create(name: string, resources: ResourcesSpec, devices: DevicePolicy): Promise<CgroupHandle> {
    checkCgroupName(name, 'container name');
    const handle: CgroupHandle = { formatVersion: 1, backend: 'v2', name, v1: {}, unified: join(this.parentDir, name) };
    const created = await ensureOwnedDir(handle.unified!, 'container');
    try {
      await this.set(handle, resources);
      await this.setDevices(handle, devices);
    } catch (err) {
      if (created) await removeCgroupDir(handle.unified!).catch(() => undefined);
      throw err;
    }
    return handle;
  }

  async set(handle: CgroupHandle, resources: ResourcesSpec): Promise<void> {
    const dir = this.dir(handle);
    assertHandleOwned(handle);
    for (const step of SET_SEQUENCE) await step(dir, resources, this.ctx);
  }

  async setDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<CgroupHandle> {
    const dir = this.dir(handle);
    assertHandleOwned(handle);
    if (shouldWrite(this.capabilities, 'devices', devices.allowAll, describePolicy(devices))) applyDeviceProgram(dir, devices);
    return handle;
  }

  async checkDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<DeviceCheck> {
    const dir = this.dir(handle);
    if (!this.capabilities.features.devices.available) return { enforced: devices.allowAll, current: 'not restricted (no device control on this host)' };
    return checkDeviceProgram(dir, devices);
  }

  async read(handle: CgroupHandle): Promise<AppliedResources> {
    const into = emptyApplied();
    await readV2(this.dir(handle), into);
    return into;
  }

  async stats(handle: CgroupHandle): Promise<CgroupStats> {
    const into = emptyStats();
    await statsV2(this.dir(handle), into);
    return into;
  }

  watchOom(handle: CgroupHandle, listener: (event: OomEvent) => void): Disposable {
    const dir = this.dir(handle);
    if (!existsSync(join(dir, 'memory.events'))) throw new CorralError('HOST_UNSUPPORTED', `no \`memory.events\` in \`${dir}\`: the memory controller is not enabled`);
    return watchOomV2(dir, handle.name, listener);
  }

  async addProc(handle: CgroupHandle, pid: number): Promise<void> {
    const dir = this.dir(handle);
    assertHandleOwned(handle);
    await writeKnob(dir, 'cgroup.procs', String(pid));
  }

  pids(handle: CgroupHandle): Promise<number[]> {
    return readPids(this.dir(handle));
  }

  async freeze(handle: CgroupHandle): Promise<void> {
    const dir = this.dir(handle);
    assertHandleOwned(handle);
    await freezeUnified(dir);
  }

  async thaw(handle: CgroupHandle): Promise<void> {
    const dir = this.dir(handle);
    assertHandleOwned(handle);
    await thawUnified(dir);
  }

  async kill(handle: CgroupHandle): Promise<void> {
    const dir = this.dir(handle);
    assertHandleOwned(handle);
    if (existsSync(dir)) await killUnified(dir);
  }

  destroy(handle: CgroupHandle): Promise<void> {
    return destroyHandle(handle);
  }

  list(): Promise<CgroupHandle[]> {
    return listHandles(this.parents, 'v2');
  }

  removeAll(): Promise<void> {
    return removeAllUnder(this.parents, 'v2', (h) => this.kill(h));
  }
}
