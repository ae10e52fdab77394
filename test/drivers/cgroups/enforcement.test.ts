// The kernel enforces what the driver sets. Runs unchanged on the hybrid dev host (v1 manager) and
// on a cgroup2-only kernel (v2 manager, test/vm/run-in-vm.sh): the manager comes from detection,
// and every assertion goes through the driver's interface and stats, never a v1 or v2 file name.

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { handleDirs, openCgroupManager, resourcesDrift, type CgroupHandle, type CgroupManager, type OomEvent } from '../../../src/drivers/cgroups/index.js';
import { requireRoot } from '../../support/root.js';
import { DEFAULT_POLICY, eventually, killSpawned, limits, MiB, spawnWaiting, testParentName, within } from './support.js';

const root = requireRoot();
const maybe = root ? describe : describe.skip;

maybe('cgroup enforcement (detected layout)', () => {
  let cg: CgroupManager;
  const parentName = testParentName();

  beforeAll(async () => {
    cg = await openCgroupManager({ parentName });
  });

  afterAll(async () => {
    killSpawned();
    await cg?.removeAll();
    // Nothing of ours may stay in any hierarchy, whatever happened above.
    for (const dir of [...Object.values(cg?.parents.v1 ?? {}), cg?.parents.unified]) if (dir) expect(existsSync(dir)).toBe(false);
  });

  async function placed(name: string, r: Parameters<CgroupManager['create']>[1], script: string) {
    const handle = await cg.create(name, r, DEFAULT_POLICY);
    const proc = await spawnWaiting(script);
    await cg.addProc(handle, proc.pid);
    expect(await cg.pids(handle)).toContain(proc.pid);
    proc.go();
    return { handle, proc };
  }

  test('a memory hog is OOM-killed inside its cgroup and the OOM is reported', async () => {
    expect(cg.capabilities.features.memory.available).toBe(true);
    const handle = await cg.create('oom', limits({ memoryBytes: 32 * MiB, memorySwapBytes: 32 * MiB, pids: 64 }), DEFAULT_POLICY);
    const events: OomEvent[] = [];
    let reported!: () => void;
    const oom = new Promise<void>((resolve) => { reported = resolve; });
    const watch = cg.watchOom(handle, (e) => { events.push(e); reported(); });
    try {
      const proc = await spawnWaiting('x=0123456789abcdef; while :; do x=$x$x; done');
      await cg.addProc(handle, proc.pid);
      proc.go();
      const exit = await within(proc.exit, 'the hog to die');
      expect(exit.signal).toBe('SIGKILL');
      await within(oom, 'the OOM notification');
      expect(events[0]).toEqual({ name: 'oom', oomKills: expect.any(Number) });
      expect(events[0]!.oomKills).toBeGreaterThanOrEqual(1);
      const stats = await cg.stats(handle);
      expect(stats.memory.oomKills).toBeGreaterThanOrEqual(1);
      expect(stats.memory.peakBytes ?? 0).toBeLessThanOrEqual(32 * MiB);
    } finally {
      watch.close();
    }
    await cg.destroy(handle);
  });

  test('pids.max stops a fork bomb', async () => {
    const max = 16;
    const { handle } = await placed('forkbomb', limits({ pids: max, cpuMillis: 200 }), 'bomb() { bomb | bomb & }; bomb; wait');
    await eventually(async () => ((await cg.stats(handle)).pids.limitHits ?? 0) > 0, 'a refused fork');
    const stats = await cg.stats(handle);
    expect(stats.pids.current).toBeLessThanOrEqual(max);
    await cg.kill(handle);
    expect(await cg.pids(handle)).toEqual([]);
    await cg.destroy(handle);
  });

  test('a CPU quota throttles (kernel throttle counter)', async () => {
    const { handle } = await placed('quota', limits({ cpuMillis: 100, pids: 8 }), 'while :; do :; done');
    // nr_throttled counts a throttle when it starts; the throttled time is added only when the
    // group is let run again at the next period, so the two become visible one after the other.
    await eventually(async () => {
      const { cpu } = await cg.stats(handle);
      return (cpu.throttledPeriods ?? 0) > 0 && (cpu.throttledUsec ?? 0) > 0;
    }, 'a throttled period and throttled time');
    const stats = await cg.stats(handle);
    expect(stats.cpu.periods).toBeGreaterThanOrEqual(stats.cpu.throttledPeriods!);
    await cg.kill(handle);
    await cg.destroy(handle);
  });

  test('freeze stops progress and thaw resumes it', async () => {
    const { handle } = await placed('freeze', limits({ cpuMillis: 200, pids: 8 }), 'while :; do :; done');
    const usage = async () => (await cg.stats(handle)).cpu.usageUsec ?? -1;
    await eventually(async () => (await usage()) > 0, 'the loop to use CPU');
    await cg.freeze(handle);
    const frozenAt = await usage();
    // A frozen group makes no progress at all, however long we look: any window works.
    await new Promise((r) => setTimeout(r, 300));
    expect(await usage()).toBe(frozenAt);
    await cg.thaw(handle);
    await eventually(async () => (await usage()) > frozenAt, 'the loop to run again');
    await cg.kill(handle);
    await cg.destroy(handle);
  });

  test('kill empties the cgroup, children included', async () => {
    const { handle, proc } = await placed('kill', limits({ pids: 32 }), 'for i in 1 2 3 4 5; do sleep 1000 & done; wait');
    await eventually(async () => (await cg.pids(handle)).length === 6, 'the shell and its 5 sleeps');
    await cg.kill(handle);
    expect(await cg.pids(handle)).toEqual([]);
    expect((await within(proc.exit, 'the shell to die')).signal).toBe('SIGKILL');
    await cg.destroy(handle);
  });

  test('a live update changes the enforced limit and reads back', async () => {
    const first = limits({ memoryBytes: 256 * MiB, memorySwapBytes: 256 * MiB, cpuMillis: 500, cpuWeight: 200, pids: 100 });
    const handle = await cg.create('update', first, DEFAULT_POLICY);
    expect(resourcesDrift(first, await cg.read(handle))).toEqual([]);
    const proc = await spawnWaiting('i=0; while [ $i -lt 10 ]; do sleep 1000 & i=$((i+1)); done; wait');
    await cg.addProc(handle, proc.pid);
    const second = limits({ memoryBytes: 128 * MiB, memorySwapBytes: 128 * MiB, cpuMillis: 250, cpuWeight: 50, pids: 3 });
    await cg.set(handle, second);
    expect(resourcesDrift(second, await cg.read(handle))).toEqual([]);
    expect(resourcesDrift(first, await cg.read(handle)).map((d) => d.field).sort()).toEqual(['cpuMillis', 'cpuWeight', 'memoryBytes', 'memorySwapBytes', 'pids']);
    proc.go();
    // Only 2 of the 10 sleeps fit beside the shell under the new limit.
    await eventually(async () => ((await cg.stats(handle)).pids.limitHits ?? 0) > 0, 'a fork refused by the new limit');
    expect((await cg.stats(handle)).pids.current).toBeLessThanOrEqual(3);
    // Lifting limits (null) goes back to the kernel defaults.
    await cg.set(handle, limits({}));
    expect(await cg.read(handle)).toMatchObject({ memoryBytes: null, cpuMillis: null, cpuWeight: null, pids: 'unlimited' });
    await cg.kill(handle);
    await cg.destroy(handle);
  });

  test('destroy leaves nothing behind and is idempotent', async () => {
    const { handle } = await placed('destroy', limits({ pids: 8 }), 'sleep 1000');
    await cg.kill(handle);
    await cg.destroy(handle);
    for (const dir of handleDirs(handle)) expect(existsSync(dir)).toBe(false);
    expect((await cg.list()).map((h: CgroupHandle) => h.name)).not.toContain('destroy');
    await cg.destroy(handle);
  });
});
