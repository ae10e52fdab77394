// The monitor is charged to the container it serves: a container limited to `cpus: "0.05"` that
// floods stdout cannot make its monitor burn a core outside every cgroup. The monitor sits in the
// container's `monitor` leaf, the container's processes in `payload`, the limit on both; the
// container cgroup's own CPU counter (cpuacct/cpu.stat, never wall-clock timing) bounds the two
// together. Stop's forced kill reaches the container's processes and not the monitor, which
// records the exit; the logs still rotate and read back line by line. Runs on whatever layout the
// host has (hybrid here, cgroup2 in the VM).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  cloneIntoCgroupDir, monitorDirs, monitorProcsFiles, oomEventsFile, openCgroupManager, payloadDirs, payloadOnlyDirs, procsFiles, type CgroupHandle, type CgroupManager,
} from '../../../src/drivers/cgroups/index.js';
import { devicePolicy } from '../../../src/drivers/cgroups/device-policy.js';
import { readPids } from '../../../src/drivers/cgroups/knob.js';
import { SHIM_FILES } from '../../../src/drivers/namespaces/protocol-fields.js';
import { isAlive, start, stop, type RuntimeRecord } from '../../../src/drivers/namespaces/runtime.js';
import { buildSpawnSpec } from '../../../src/drivers/namespaces/spec.js';
import { hostCapabilityMask } from '../../../src/sys/proc.js';
import { makeTestRootfs, type TestRootfs } from '../../support/busybox.js';
import { requireRoot } from '../../support/root.js';
import { readLogs, specOf } from '../namespaces/harness.js';
import { eventually, testParentName } from './support.js';

const TEXT = 'flood-0123456789abcdefghijklmnopqrstuvwxyz';
const TICK_US = 10_000;

const cpuUsec = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_US;
};

(requireRoot() ? describe : describe.skip)('the monitor is charged to its container', () => {
  let fs: TestRootfs;
  let cg: CgroupManager;
  let handle: CgroupHandle | undefined;
  let record: RuntimeRecord | undefined;

  beforeAll(async () => {
    fs = makeTestRootfs();
    cg = await openCgroupManager({ parentName: testParentName() });
  });
  afterAll(async () => {
    await cg?.removeAll();
    if (record) expect(isAlive(record.monitor)).toBe(false);
    fs?.cleanup();
  });

  test('a flood under cpus 0.05: the monitor is in the container\'s cgroup, and both stay within the limit', async () => {
    if (!cg.capabilities.features.cpuQuota.available) {
      process.stderr.write('note: no CPU quota on this host; the flood test needs one\n');
      return;
    }
    const spec = await specOf('flood', `command: [/bin/yes, "${TEXT}"]\nresources: {cpus: "0.05"}\nlogging: {maxSize: 64Ki, maxFiles: 3}\nstopTimeout: 1s`);
    handle = await cg.create('flood', spec.resources, devicePolicy(spec.devices));
    const paths = fs.layout('flood');
    record = await start(buildSpawnSpec({
      spec, rootfs: paths, image: null, cgroupProcs: procsFiles(handle), cgroupDir: cloneIntoCgroupDir(handle), oomEventsFile: oomEventsFile(handle),
      monitorCgroupProcs: monitorProcsFiles(handle), shimDir: paths.shim, logDir: paths.logs, volumes: {}, arch: process.arch, hostCapabilities: hostCapabilityMask(),
    }));

    // Placement: the monitor in its leaves, the container's process in the others; both in the
    // directories without leaves.
    for (const dir of monitorDirs(handle)) expect(await readPids(dir)).toEqual([record.monitor.pid]);
    for (const dir of payloadOnlyDirs(handle)) expect(await readPids(dir)).toEqual([record.init.pid]);
    for (const dir of payloadDirs(handle)) if (!payloadOnlyDirs(handle).includes(dir)) expect((await readPids(dir)).sort((a, b) => a - b)).toEqual([record.init.pid, record.monitor.pid].sort((a, b) => a - b));
    expect(await cg.pids(handle)).toEqual([record.init.pid]);

    // A file may be rotated away between the listing and the stat.
    const size = (f: string): number => { try { return statSync(join(paths.logs, f)).size; } catch { return 0; } };
    const logged = (): number => readdirSync(paths.logs).reduce((n, f) => n + size(f), 0);
    await eventually(() => logged() > 0, 'the first records in the log');
    const u0 = (await cg.stats(handle)).cpu.usageUsec!;
    const m0 = cpuUsec(record.monitor.pid);
    const t0 = Date.now();
    await sleep(3000);
    const u1 = (await cg.stats(handle)).cpu.usageUsec!;
    const m1 = cpuUsec(record.monitor.pid);
    // What the quota allows over the time looked at, with generous room (a period's burst, ticks).
    const allowedUs = 0.05 * (Date.now() - t0) * 1000;
    process.stderr.write(`flood: cgroup ${((u1 - u0) / 1000).toFixed(0)} ms, monitor ${((m1 - m0) / 1000).toFixed(0)} ms, quota allows ${(allowedUs / 1000).toFixed(0)} ms\n`);
    expect(u1 - u0).toBeLessThan(allowedUs * 3 + 200_000);
    expect(m1 - m0).toBeLessThan(allowedUs * 3 + 200_000);
    // The monitor's own time is part of the cgroup's (tick granularity aside).
    expect(m1 - m0).toBeLessThanOrEqual(u1 - u0 + 2 * TICK_US);
    expect((await cg.stats(handle)).cpu.throttledPeriods ?? 1).toBeGreaterThan(0);

    // PID 1 ignores SIGTERM; the forced kill takes the container's processes, not the monitor,
    // which records how it ended.
    const stopped = await stop(record, { timeoutMs: 1000, killAll: () => cg.kill(handle!) });
    expect(stopped).toMatchObject({ forced: true, state: 'exited' });
    expect(stopped.exit?.signalName).toBe('SIGKILL');

    // Rotated at 64 KiB, three files, every record in the CRI format and every line whole.
    const files = readdirSync(paths.logs).sort();
    expect(files).toEqual([SHIM_FILES.containerLog, `${SHIM_FILES.containerLog}.1`, `${SHIM_FILES.containerLog}.2`]);
    for (const f of files) {
      const text = readFileSync(join(paths.logs, f), 'utf8');
      expect(text.length).toBeLessThanOrEqual(64 * 1024);
      for (const line of text.split('\n').slice(0, -1)) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout [FP] /);
    }
    const lines = readLogs(paths.logs).stdout.split('\n');
    // The oldest file may start with the tail of a line whose head was rotated away.
    expect(lines.length).toBeGreaterThan(100);
    for (const l of lines.slice(1, -1)) expect(l).toBe(TEXT);
    await cg.destroy(handle);
  }, 120_000);
});
