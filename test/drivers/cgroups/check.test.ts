// Plan-time checks and capability rules, with a fake file system: no kernel.

import { describe, expect, test } from '@jest/globals';
import { detectCapabilities, type Probe } from '../../../src/drivers/cgroups/capabilities.js';
import { checkResources } from '../../../src/drivers/cgroups/check.js';
import { layoutFromMounts, parseMountInfo } from '../../../src/drivers/cgroups/detect.js';
import { resolveParents } from '../../../src/drivers/cgroups/owner.js';
import { limits } from './support.js';

/** A probe over a set of existing paths and file contents. */
function fakeProbe(files: Record<string, string>): Probe {
  const paths = new Set(Object.keys(files));
  for (const p of Object.keys(files)) for (let d = p; d !== '/'; d = d.slice(0, d.lastIndexOf('/')) || '/') paths.add(d);
  return {
    exists: (p) => paths.has(p),
    read: (p) => files[p] ?? null,
    children: (dir) => [...paths].filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/') && !(p in files)).map((p) => p.slice(dir.length + 1)),
    kernel: '6.1.0-28-amd64',
    deviceProgram: () => null,
  };
}

// The dev host as it looks once corral's parent exists: no blkio.weight, no swap file missing.
const HYBRID = layoutFromMounts(parseMountInfo([
  '26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
  '28 25 0:25 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu',
  '29 25 0:26 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct',
  '30 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
  '31 25 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
  '32 25 0:29 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio',
  '33 25 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset',
  '34 25 0:31 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer',
].join('\n')), () => ['hugetlb']);
const HYBRID_PARENTS = resolveParents(HYBRID, 'corral', null);
const P = '/sys/fs/cgroup';
const hybridFiles: Record<string, string> = {
  [`${P}/memory/corral/memory.limit_in_bytes`]: '', [`${P}/memory/corral/memory.memsw.limit_in_bytes`]: '',
  [`${P}/memory/corral/memory.soft_limit_in_bytes`]: '', [`${P}/memory/corral/memory.oom_control`]: '',
  [`${P}/memory/corral/memory.max_usage_in_bytes`]: '',
  [`${P}/cpu/corral/cpu.cfs_quota_us`]: '', [`${P}/cpu/corral/cpu.shares`]: '', [`${P}/cpu/corral/cpu.stat`]: '',
  [`${P}/cpuset/corral/cpuset.cpus`]: '0-1', [`${P}/cpuset/corral/cpuset.effective_cpus`]: '0-1', [`${P}/cpuset/corral/cpuset.effective_mems`]: '0',
  [`${P}/pids/corral/pids.max`]: '',
  [`${P}/blkio/corral/blkio.throttle.read_bps_device`]: '', [`${P}/blkio/corral/blkio.bfq.weight`]: '',
  [`${P}/freezer/corral/freezer.state`]: '',
  [`${P}/unified/corral/cgroup.freeze`]: '', [`${P}/unified/corral/cgroup.kill`]: '',
};

const V2 = layoutFromMounts(parseMountInfo('24 1 0:21 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n'), () => ['cpu', 'memory', 'pids']);
const V2_PARENTS = resolveParents(V2, 'corral', null);

describe('capabilities', () => {
  test('the hybrid dev host: everything but io weight, freeze and kill through cgroup2', () => {
    const caps = detectCapabilities(HYBRID, HYBRID_PARENTS, 'v1', fakeProbe(hybridFiles));
    const missing = Object.entries(caps.features).filter(([, s]) => !s.available).map(([f]) => f).sort();
    expect(missing).toEqual(['cloneIntoCgroup', 'ioWeight']);
    expect(caps.features.ioWeight).toMatchObject({ reason: expect.stringContaining('blkio.weight') });
    expect(caps.features.kill).toEqual({ available: true, via: 'cgroup2 `cgroup.kill` (hybrid)' });
    expect(caps.cpus).toBe('0-1');
    expect(caps.mems).toBe('0');
  });

  test('cgroup2 with only cpu, memory and pids offered: cpuset and io are unavailable, named', () => {
    const files = Object.fromEntries(['memory.max', 'memory.swap.max', 'memory.low', 'memory.events', 'memory.peak', 'cpu.max', 'cpu.weight', 'cpu.stat', 'pids.max', 'cgroup.freeze', 'cgroup.kill']
      .map((f) => [`${P}/corral/${f}`, '']));
    files[`${P}/corral/cgroup.controllers`] = 'cpu memory pids';
    const caps = detectCapabilities(V2, V2_PARENTS, 'v2', fakeProbe(files));
    expect(caps.features.cpuset).toMatchObject({ available: false, reason: expect.stringContaining('`cpuset` controller') });
    expect(caps.features.ioLimits.available).toBe(false);
    expect(caps.features.memorySwap.available).toBe(true);
    expect(caps.features.cloneIntoCgroup.available).toBe(true);
  });

  test('before the parent exists, cgroup2 knobs follow the root controllers and the kernel version', () => {
    const caps = detectCapabilities(V2, V2_PARENTS, 'v2', fakeProbe({}));
    expect(caps.features.memory.available).toBe(true);
    expect(caps.features.ioWeight.available).toBe(false);
    expect(caps.features.kill).toEqual({ available: true, via: 'cgroup.kill' });
    const old = detectCapabilities(V2, V2_PARENTS, 'v2', { ...fakeProbe({}), kernel: '5.10.0-30-amd64' });
    expect(old.features.kill).toEqual({ available: true, via: 'freeze, SIGKILL each process, thaw' });
  });
});

describe('devices capability', () => {
  const withDevices = layoutFromMounts(parseMountInfo([
    '26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
    '28 25 0:25 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices',
  ].join('\n')), () => []);
  const parents = resolveParents(withDevices, 'corral', null);

  test('v1: the devices controller, where it exists; a device program is not even tried', () => {
    const probe = { ...fakeProbe({ [`${P}/devices/devices.allow`]: '' }), deviceProgram: () => { throw new Error('not to be called'); } };
    expect(parents.v1['devices']).toBe(`${P}/devices/corral`);
    expect(detectCapabilities(withDevices, parents, 'v1', probe).features.devices).toEqual({ available: true, via: 'devices controller (v1)' });
  });

  test('hybrid without a v1 devices hierarchy: a device program on the cgroup2 twin, if the kernel loads one', () => {
    expect(detectCapabilities(HYBRID, HYBRID_PARENTS, 'v1', fakeProbe(hybridFiles)).features.devices).toEqual({ available: true, via: 'device program (cgroup2 BPF)' });
    const refused = detectCapabilities(HYBRID, HYBRID_PARENTS, 'v1', { ...fakeProbe(hybridFiles), deviceProgram: () => 'loading a cgroup device program needs root' });
    expect(refused.features.devices).toEqual({ available: false, reason: expect.stringContaining('needs root') });
  });

  test('cgroup2: a device program; no cgroups: nothing', () => {
    expect(detectCapabilities(V2, V2_PARENTS, 'v2', fakeProbe({})).features.devices).toEqual({ available: true, via: 'device program (cgroup2 BPF)' });
    const none = layoutFromMounts([], () => []);
    expect(detectCapabilities(none, resolveParents(none, 'corral', null), 'none', fakeProbe({})).features.devices.available).toBe(false);
  });
});

describe('checkResources', () => {
  const caps = detectCapabilities(HYBRID, HYBRID_PARENTS, 'v1', fakeProbe(hybridFiles));

  test('a plain container passes', () => {
    expect(checkResources(caps, limits({ memoryBytes: 1 << 26, memorySwapBytes: 1 << 26, cpuMillis: 500, pids: 100, cpusetCpus: '1' }))).toEqual([]);
  });

  test('io weight on a host without blkio.weight is a named plan-time error', () => {
    expect(checkResources(caps, limits({ ioWeight: 500 }), { container: 'web' })).toEqual([expect.objectContaining({
      severity: 'error',
      code: 'CGROUP_KNOB_UNAVAILABLE',
      container: 'web',
      field: 'spec.resources.io.weight',
      summary: 'spec.resources.io.weight (500) cannot be enforced on this host',
      detail: expect.stringContaining('`blkio.weight` does not exist'),
    })]);
  });

  test('cpus below the minimum quota, CPUs the host lacks', () => {
    const d = checkResources(caps, limits({ cpuMillis: 5, cpusetCpus: '0-3' }));
    expect(d.map((x) => [x.code, x.field])).toEqual([
      ['MANIFEST_OUT_OF_RANGE', 'spec.resources.cpus'],
      ['HOST_UNSUPPORTED', 'spec.resources.cpuset.cpus'],
    ]);
    expect(d[1]!.summary).toContain('2,3');
  });

  test('swap: asking for some is an error without swap accounting; the no-swap default only warns', () => {
    const v2 = detectCapabilities(V2, V2_PARENTS, 'v2', fakeProbe({ [`${P}/corral/cgroup.controllers`]: 'memory pids', [`${P}/corral/memory.max`]: '' }));
    expect(checkResources(v2, limits({ memoryBytes: 100, memorySwapBytes: 300 })).map((x) => [x.severity, x.field])).toEqual([['error', 'spec.resources.memorySwap']]);
    expect(checkResources(v2, limits({ memoryBytes: 100, memorySwapBytes: 100 })).map((x) => x.severity)).toEqual(['warning']);
  });

  test('io limit devices are resolved when a resolver is given', () => {
    const r = limits({ ioLimits: [{ device: '/dev/nope', readBps: 1, writeBps: null, readIops: null, writeIops: null }] });
    const d = checkResources(caps, r, { resolveDevice: () => { throw Object.assign(new Error('x'), { summary: 'io limit device `/dev/nope` does not exist on this host' }); } });
    expect(d).toEqual([expect.objectContaining({ code: 'HOST_UNSUPPORTED', summary: 'io limit device `/dev/nope` does not exist on this host' })]);
  });
});
