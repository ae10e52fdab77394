// bench/cgroups: create + place + destroy for N cgroups, and the cost of a first placement. create
// applies the default device allow-list (v1: `devices.deny a` plus 8 allows; cgroup2: load and
// attach a device program); a second round of N creates with allow-all (no device write, no
// program) gives the cost the allow-list adds to create.
//
// Run (as root), on the host and in the cgroup2-only VM, and compare the two outputs:
//   npx tsc bench/cgroups.ts --outDir .scratch/bench --rootDir . --target ES2022 --module NodeNext \
//     --moduleResolution NodeNext --strict --skipLibCheck --types node && node .scratch/bench/bench/cgroups.js [N]
//   test/vm/run-in-vm.sh -- node .scratch/bench/bench/cgroups.js [N]
//
// Figures are medians in milliseconds; the machine is shared, so read them as relative (v1 vs v2,
// first placement vs later ones), not absolute. CORRAL_BENCH_LAYOUT=cgroup2 runs the cgroup2 tree
// alone on a hybrid host (no controllers there: placement cost without resource controllers).

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectLayout, openCgroupManager, withoutV1, type CgroupHandle, type DevicePolicy } from '../src/drivers/cgroups/index.js';
import { DEFAULT_DEVICES } from '../src/manifest/defaults.js';
import type { ResourcesSpec } from '../src/manifest/spec.js';

const N = Number(process.argv[2] ?? 100);
const LIMITS: ResourcesSpec = {
  memoryBytes: 256 * 2 ** 20, memorySwapBytes: 256 * 2 ** 20, memoryReservationBytes: null, cpuMillis: 500, cpuWeight: null,
  cpusetCpus: null, cpusetMems: null, pids: 128, ioWeight: null, ioLimits: [],
};

const DEVICES = { allowAll: false, rules: DEFAULT_DEVICES.map((d) => d.rule) } as const satisfies DevicePolicy;
const ALLOW_ALL: DevicePolicy = { allowAll: true };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};
const ms = (x: number): string => x.toFixed(3);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

async function main(): Promise<void> {
  const layout = process.env['CORRAL_BENCH_LAYOUT'] === 'cgroup2' ? withoutV1(detectLayout()) : detectLayout();
  const cg = await openCgroupManager({ parentName: `corral-bench-${process.pid}`, layout });
  const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
  await new Promise((r) => sleeper.once('spawn', r));
  const limits = cg.capabilities.features.memory.available ? LIMITS : { ...LIMITS, memoryBytes: null, memorySwapBytes: null, cpuMillis: null, pids: 'unlimited' as const };
  try {
    const creates: number[] = [];
    const places: number[] = [];
    const handles: CgroupHandle[] = [];
    for (let i = 0; i < N; i++) {
      const [h, tc] = await timed(() => cg.create(`b${i}`, limits, DEVICES));
      handles.push(h);
      creates.push(tc);
      // One process hops from cgroup to cgroup: every write is a migration, as a placement is.
      const [, tp] = await timed(() => cg.addProc(h, sleeper.pid!));
      places.push(tp);
    }
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    const destroys: number[] = [];
    for (const h of handles) destroys.push((await timed(() => cg.destroy(h)))[1]);

    // The same creates without a device allow-list, and live device updates (add then drop a rule).
    const createsAllowAll: number[] = [];
    for (let i = 0; i < N; i++) {
      const [h, tc] = await timed(() => cg.create(`a${i}`, limits, ALLOW_ALL));
      createsAllowAll.push(tc);
      await cg.destroy(h);
    }
    const updates: number[] = [];
    const u = await cg.create('update', limits, DEVICES);
    const wider: DevicePolicy = { allowAll: false, rules: [...DEVICES.rules, { type: 'c', major: 10, minor: 237, access: 'rwm' }] };
    for (let i = 0; i < Math.min(N, 50); i++) updates.push((await timed(() => cg.setDevices(u, i % 2 === 0 ? wider : DEVICES)))[1]);
    await cg.destroy(u);

    // A first placement after the system was quiet: the write that pays the RCU grace period.
    const firsts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const h = await cg.create(`first${i}`, limits, DEVICES);
      const p = spawn('sleep', ['1000'], { stdio: 'ignore' });
      await new Promise((r) => p.once('spawn', r));
      await sleep(500);
      firsts.push((await timed(() => cg.addProc(h, p.pid!)))[1]);
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
      await cg.destroy(h);
    }
    const row = {
      layout: layout.kind, backend: cg.backend, kernel: (await import('node:os')).release(), n: N,
      createMs: ms(median(creates)), createAllowAllMs: ms(median(createsAllowAll)),
      devicesAddedToCreateMs: ms(median(creates) - median(createsAllowAll)), setDevicesMs: ms(median(updates)),
      devicesVia: cg.capabilities.features.devices.available ? cg.capabilities.features.devices.via : 'unavailable', placeMs: ms(median(places)), destroyMs: ms(median(destroys)),
      firstPlacementMs: ms(median(firsts)), firstPlacementSamples: firsts.map(ms),
      totalCreatePlaceDestroyMs: ms(creates.reduce((a, b) => a + b, 0) + places.reduce((a, b) => a + b, 0) + destroys.reduce((a, b) => a + b, 0)),
      procsFilesPerCgroup: handles[0] ? (await import('../src/drivers/cgroups/index.js')).procsFiles(handles[0]).length : 0,
    };
    process.stdout.write(`${JSON.stringify(row)}\n`);
  } finally {
    sleeper.kill('SIGKILL');
    await cg.removeAll();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/cgroups: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
