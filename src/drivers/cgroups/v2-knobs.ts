// cgroup2 resource files: `set` as a flat sequence of small writers, each noting the kernel that
// brought its files (runc's fs2), and their read-back and counters. All act on the container's
// directory, whose limits cover both of its leaves.

import type { ResourcesSpec } from '../../manifest/spec.js';
import { orNull, shouldWrite, type AppliedBuilder, type StatsBuilder } from './accumulate.js';
import {
  bandwidthToCpuMillis, canonicalIdList, CPU_WEIGHT, cpuMillisToBandwidth, formatCpuMax, formatIoMax, formatV2Max, IO_WEIGHT,
  memorySwapToV2SwapMax, parseCpuMax, parseFlatKeyed, parseIoMax, parseV2Max, v2SwapMaxToMemorySwap, type IoMaxEntry,
} from './convert.js';
import type { DeviceResolver } from './device.js';
import { readOptionalKnob, writeKnob } from './knob.js';
import type { AppliedFields, HostCgroupCapabilities, StatsScope } from './types.js';

export interface Ctx {
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

export const SET_SEQUENCE = [setPids, setMemory, setCpu, setCpuset, setIo];

export async function readV2(dir: string, into: AppliedBuilder, wanted: AppliedFields): Promise<void> {
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
  const cpus = wanted('cpusetCpus') ? await opt('cpuset.cpus') : null;
  if (cpus !== null) into.cpusetCpus = canonicalIdList(cpus) || null;
  const mems = wanted('cpusetMems') ? await opt('cpuset.mems') : null;
  if (mems !== null) into.cpusetMems = canonicalIdList(mems) || null;
  const pids = await opt('pids.max');
  if (pids !== null) into.pids = parseV2Max(pids) ?? 'unlimited';
  const ioWeight = await opt('io.weight');
  if (ioWeight !== null) {
    const w = Number(/^default\s+(\d+)/m.exec(ioWeight)?.[1] ?? IO_WEIGHT.default);
    into.ioWeight = w === IO_WEIGHT.default ? null : w;
  }
  const ioMax = wanted('ioLimits') ? await opt('io.max') : null;
  if (ioMax !== null) {
    into.ioLimits = parseIoMax(ioMax).map((e) => ({ device: e.device, readBps: e.rbps, writeBps: e.wbps, readIops: e.riops, writeIops: e.wiops }));
  }
}

export async function statsV2(dir: string, into: StatsBuilder, scope: StatsScope): Promise<void> {
  const opt = (file: string) => readOptionalKnob(dir, file);
  const current = await opt('memory.current');
  if (current !== null) into.memory.currentBytes = Number(current);
  // cpu.stat's usage lines exist without the cpu controller; the throttling lines need it.
  const cpu = parseFlatKeyed((await opt('cpu.stat')) ?? '');
  into.cpu.usageUsec = orNull(cpu.get('usage_usec'));
  if (scope === 'usage') return;
  into.cpu.userUsec = orNull(cpu.get('user_usec'));
  into.cpu.systemUsec = orNull(cpu.get('system_usec'));
  into.cpu.periods = orNull(cpu.get('nr_periods'));
  into.cpu.throttledPeriods = orNull(cpu.get('nr_throttled'));
  into.cpu.throttledUsec = orNull(cpu.get('throttled_usec'));
  const peak = await opt('memory.peak');
  if (peak !== null) into.memory.peakBytes = Number(peak);
  const events = await opt('memory.events');
  if (events !== null) into.memory.oomKills = parseFlatKeyed(events).get('oom_kill') ?? 0;
  const pids = await opt('pids.current');
  if (pids !== null) into.pids.current = Number(pids);
  const pidEvents = await opt('pids.events');
  if (pidEvents !== null) into.pids.limitHits = parseFlatKeyed(pidEvents).get('max') ?? 0;
}
