// What this host's cgroups can enforce, knob by knob, so that a manifest asking for something the
// host lacks fails at plan time with a named reason instead of being ignored (`blkio.weight` on a
// kernel without CFQ, a controller not enabled in the cgroup2 tree, swap without swap accounting).
//
// Knob files are looked for in corral's parent when it exists: it is what a container cgroup will
// get. Before the parent exists (`corral info` on a fresh host) they are looked for in an existing
// sibling cgroup, and, for files the kernel never shows in a root cgroup, assumed from the
// controller being there.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { canonicalIdList } from './convert.js';
import { deviceProgramUnsupported } from './device-bpf.js';
import type { CgroupBackend, CgroupFeature, CgroupLayout, CgroupParents, FeatureSupport, HostCgroupCapabilities } from './types.js';

/** File-system access, injected so capability rules are testable without a kernel. */
export interface Probe {
  exists(path: string): boolean;
  read(path: string): string | null;
  /** Subdirectory names. */
  children(dir: string): string[];
  /** `uname -r`, for files that only a non-root cgroup shows and no such cgroup exists yet. */
  readonly kernel: string;
  /** null when a cgroup device program loads here (bpf(2), CONFIG_CGROUP_BPF, privileges), else why not. */
  deviceProgram(): string | null;
}

export const hostProbe: Probe = {
  exists: (path) => existsSync(path),
  read: (path) => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return null;
    }
  },
  children: (dir) => {
    try {
      return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
  },
  // A getter: dist/corral.blob evaluates this module where it is built, maybe under another kernel.
  get kernel() {
    return release();
  },
  deviceProgram: deviceProgramUnsupported,
};

/** True when a kernel release string (`6.18.4-foo`) is at least major.minor. */
export function kernelAtLeast(kernel: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernel);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

const yes = (via: string): FeatureSupport => ({ available: true, via });
const no = (reason: string): FeatureSupport => ({ available: false, reason });

const DEVICE_PROGRAM = 'device program (cgroup2 BPF)';

/**
 * Where to look for a knob of one hierarchy: corral's parent, else one existing non-root cgroup
 * beside it. null: nothing but the root, where many knobs never appear.
 */
function probeDir(probe: Probe, parent: string | null): string | null {
  if (parent === null) return null;
  if (probe.exists(parent)) return parent;
  const above = dirname(parent);
  const sibling = probe.children(above).find((c) => !c.startsWith('.'));
  return sibling === undefined ? null : join(above, sibling);
}

/** A knob file: looked up where probeDir points, else assumed from its controller being mounted. */
function knob(probe: Probe, dir: string | null, file: string, assumeWithoutDir: boolean, missing: string): FeatureSupport {
  if (dir === null) return assumeWithoutDir ? yes(file) : no(missing);
  return probe.exists(join(dir, file)) ? yes(file) : no(missing);
}

function v1Features(layout: CgroupLayout, parents: CgroupParents, probe: Probe): Record<CgroupFeature, FeatureSupport> {
  const dir = (c: string): string | null => probeDir(probe, parents.v1[c] ?? null);
  const mounted = (c: string): boolean => layout.v1[c] !== undefined;
  const root = (c: string): string => layout.v1[c]!.mountPoint;
  const absent = (c: string): string => layout.controllers[c] === 'v2'
    ? `the \`${c}\` controller is on the cgroup2 tree of this hybrid host; corral manages resource controllers there only on cgroup2-only hosts`
    : `the \`${c}\` controller is not mounted`;
  // Files that the kernel also shows in a v1 root cgroup can be checked there.
  const atRootToo = (c: string, file: string, missing: string): FeatureSupport =>
    !mounted(c) ? no(absent(c)) : knob(probe, dir(c) ?? root(c), file, false, missing);
  const notOnRoot = (c: string, file: string, missing: string): FeatureSupport =>
    !mounted(c) ? no(absent(c)) : knob(probe, dir(c), file, true, missing);

  const unified = parents.unified;
  const unifiedDir = probeDir(probe, unified);
  const freezeV2 = unified !== null ? knob(probe, unifiedDir, 'cgroup.freeze', kernelAtLeast(probe.kernel, 5, 2), 'no `cgroup.freeze` (Linux 5.2+)') : no('no cgroup2 tree');
  const killV2 = unified !== null ? knob(probe, unifiedDir, 'cgroup.kill', kernelAtLeast(probe.kernel, 5, 14), 'no `cgroup.kill` (Linux 5.14+)') : no('no cgroup2 tree');
  const freezer = notOnRoot('freezer', 'freezer.state', 'no `freezer.state`');
  const freeze = freezeV2.available ? yes('cgroup2 `cgroup.freeze` (hybrid)') : freezer.available ? yes('`freezer.state`') : freezer;

  // The v1 controller when mounted; else a device program on the cgroup2 twin, which the kernel
  // checks as well (a task's device access must pass both).
  const deviceProgram = (): string | null => probe.deviceProgram();
  const devices = mounted('devices')
    ? (probe.exists(join(dir('devices') ?? root('devices'), 'devices.allow')) ? yes('devices controller (v1)') : no('no `devices.allow` in the v1 devices hierarchy'))
    : unified === null ? no('the `devices` controller is not mounted, and there is no cgroup2 tree for a device program')
      : deviceProgram() === null ? yes(DEVICE_PROGRAM) : no(`the \`devices\` controller is not mounted, and ${deviceProgram()}`);

  let ioWeight = atRootToo('blkio', 'blkio.weight', '');
  if (!ioWeight.available && mounted('blkio')) {
    ioWeight = no('`blkio.weight` does not exist: the CFQ scheduler that provided it is gone since Linux 5.0, and `blkio.bfq.weight` acts only on devices using the BFQ scheduler');
  }
  return {
    memory: atRootToo('memory', 'memory.limit_in_bytes', 'no `memory.limit_in_bytes`'),
    memorySwap: atRootToo('memory', 'memory.memsw.limit_in_bytes', 'no `memory.memsw.limit_in_bytes`: swap accounting is off (kernel `swapaccount=0` or CONFIG_MEMCG_SWAP unset)'),
    memoryReservation: atRootToo('memory', 'memory.soft_limit_in_bytes', 'no `memory.soft_limit_in_bytes`'),
    cpuQuota: atRootToo('cpu', 'cpu.cfs_quota_us', 'no `cpu.cfs_quota_us`: the kernel lacks CFS bandwidth control (CONFIG_CFS_BANDWIDTH)'),
    cpuWeight: atRootToo('cpu', 'cpu.shares', 'no `cpu.shares`'),
    cpuset: atRootToo('cpuset', 'cpuset.cpus', 'no `cpuset.cpus`'),
    pids: notOnRoot('pids', 'pids.max', 'no `pids.max`'),
    ioWeight,
    ioLimits: atRootToo('blkio', 'blkio.throttle.read_bps_device', 'no `blkio.throttle.*`: the kernel lacks block throttling (CONFIG_BLK_DEV_THROTTLING)'),
    freeze,
    kill: killV2.available ? yes('cgroup2 `cgroup.kill` (hybrid)') : freeze.available ? yes(`freeze, SIGKILL each process, thaw (${freeze.via})`) : no('no freezer: processes could fork while being killed'),
    oomEvents: atRootToo('memory', 'memory.oom_control', 'no `memory.oom_control`'),
    memoryPeak: atRootToo('memory', 'memory.max_usage_in_bytes', 'no `memory.max_usage_in_bytes`'),
    cpuThrottleStats: atRootToo('cpu', 'cpu.stat', 'no `cpu.stat`'),
    cloneIntoCgroup: no('v1 hierarchies take a process only through a pid write'),
    devices,
  };
}

function v2Features(layout: CgroupLayout, parents: CgroupParents, probe: Probe): Record<CgroupFeature, FeatureSupport> {
  const parent = parents.unified!;
  // Controllers a container cgroup can get: those its parent can get (and corral enables them all
  // in the parent's subtree_control). Before the parent exists: what its own parent offers.
  const grand = parents.delegated?.unitDir ?? layout.unified!.mountPoint;
  const offered = (probe.exists(parent) ? probe.read(join(parent, 'cgroup.controllers'))
    : grand === layout.unified!.mountPoint ? layout.unified!.controllers.join(' ') : probe.read(join(grand, 'cgroup.controllers'))) ?? '';
  const controllers = new Set(offered.split(/\s+/).filter(Boolean));
  const dir = probeDir(probe, parent);
  const c = (name: string, file: string, missing: string): FeatureSupport => {
    if (!controllers.has(name)) {
      return no(`the \`${name}\` controller is not enabled for corral's parent (${parents.delegated ? `add it to the unit's delegated controllers` : `\`${layout.unified!.mountPoint}/cgroup.subtree_control\` lacks \`${name}\``})`);
    }
    return knob(probe, dir, file, true, missing);
  };
  const core = (file: string, missing: string, assume: boolean): FeatureSupport => knob(probe, dir, file, assume, missing);
  const freeze = core('cgroup.freeze', 'no `cgroup.freeze` (Linux 5.2+)', kernelAtLeast(probe.kernel, 5, 2));
  const kill = core('cgroup.kill', 'no `cgroup.kill` (Linux 5.14+)', kernelAtLeast(probe.kernel, 5, 14));
  return {
    memory: c('memory', 'memory.max', 'no `memory.max`'),
    memorySwap: c('memory', 'memory.swap.max', 'no `memory.swap.max`: swap accounting is off (kernel `swapaccount=0` or CONFIG_SWAP unset)'),
    memoryReservation: c('memory', 'memory.low', 'no `memory.low`'),
    cpuQuota: c('cpu', 'cpu.max', 'no `cpu.max`: the kernel lacks CFS bandwidth control (CONFIG_CFS_BANDWIDTH)'),
    cpuWeight: c('cpu', 'cpu.weight', 'no `cpu.weight`'),
    cpuset: c('cpuset', 'cpuset.cpus', 'no `cpuset.cpus`'),
    pids: c('pids', 'pids.max', 'no `pids.max`'),
    ioWeight: c('io', 'io.weight', 'no `io.weight`: the kernel lacks the io.cost controller (CONFIG_BLK_CGROUP_IOCOST)'),
    ioLimits: c('io', 'io.max', 'no `io.max`: the kernel lacks block throttling (CONFIG_BLK_DEV_THROTTLING)'),
    freeze,
    kill: kill.available ? kill : freeze.available ? yes('freeze, SIGKILL each process, thaw') : no('no `cgroup.kill` and no `cgroup.freeze`'),
    oomEvents: c('memory', 'memory.events', 'no `memory.events`'),
    memoryPeak: c('memory', 'memory.peak', 'no `memory.peak` (Linux 5.19+)'),
    cpuThrottleStats: c('cpu', 'cpu.stat', 'no `cpu.stat`'),
    cloneIntoCgroup: yes('clone3(CLONE_INTO_CGROUP) with an fd of the cgroup directory (Linux 5.7+)'),
    devices: probe.deviceProgram() === null ? yes(DEVICE_PROGRAM) : no(probe.deviceProgram()!),
  };
}

const ALL_FEATURES: readonly CgroupFeature[] = [
  'memory', 'memorySwap', 'memoryReservation', 'cpuQuota', 'cpuWeight', 'cpuset', 'pids', 'ioWeight', 'ioLimits',
  'freeze', 'kill', 'oomEvents', 'memoryPeak', 'cpuThrottleStats', 'cloneIntoCgroup', 'devices',
];

export function noneFeatures(reason: string): Record<CgroupFeature, FeatureSupport> {
  return Object.fromEntries(ALL_FEATURES.map((f) => [f, no(reason)])) as Record<CgroupFeature, FeatureSupport>;
}

function effective(probe: Probe, dirs: ReadonlyArray<string | null>, file: string, fallback: string): string | null {
  for (const d of dirs) {
    const text = d === null ? null : probe.read(join(d, file));
    if (text !== null && text !== '') return canonicalIdList(text);
  }
  const text = probe.read(fallback);
  return text === null ? null : canonicalIdList(text);
}

export function detectCapabilities(layout: CgroupLayout, parents: CgroupParents, backend: CgroupBackend, probe: Probe = hostProbe): HostCgroupCapabilities {
  if (backend === 'none') {
    return { layout: layout.kind, backend, features: noneFeatures('corral does not manage cgroups here (no cgroup filesystem, or cgroups disabled)'), cpus: null, mems: null };
  }
  const features = backend === 'v2' ? v2Features(layout, parents, probe) : v1Features(layout, parents, probe);
  const cpusetDirs = backend === 'v2'
    ? [parents.unified, layout.unified?.mountPoint ?? null]
    : [parents.v1['cpuset'] ?? null, layout.v1['cpuset']?.mountPoint ?? null];
  const [cpusFile, memsFile] = backend === 'v2' ? ['cpuset.cpus.effective', 'cpuset.mems.effective'] : ['cpuset.effective_cpus', 'cpuset.effective_mems'];
  return {
    layout: layout.kind,
    backend,
    features,
    cpus: effective(probe, cpusetDirs, cpusFile, '/sys/devices/system/cpu/online'),
    mems: effective(probe, cpusetDirs, memsFile, '/sys/devices/system/node/online'),
  };
}
