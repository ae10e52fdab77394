// Fault: a container floods stdout under a tiny CPU limit. Its monitor is placed in the
// container's own cgroup (the `monitor` leaf), so the flood costs the container's quota and not
// a core of the host; `corral stop` force-kills the container's processes, never the monitor,
// which records the exit; `corral logs` still reads the rotated output. Through the CLI, so the
// wiring is what is tested (test/drivers/cgroups/monitor-cost.test.ts runs the same on cgroup2).

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { monitorDirs, openCgroupManager, payloadOnlyDirs, type CgroupHandle } from '../../src/drivers/cgroups/index.js';
import { readPids } from '../../src/drivers/cgroups/knob.js';
import { psJson, sandbox, type Sandbox } from '../support/host-sandbox.js';
import { requireRoot } from '../support/root.js';

const TEXT = 'flood-0123456789abcdefghijklmnopqrstuvwxyz';
let sb: Sandbox | undefined;

beforeAll(() => {
  if (requireRoot()) sb = sandbox('fault-flood');
});
afterAll(async () => {
  await sb?.cleanup();
});

const cpuUsec = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
};

describe('a container flooding stdout under cpus 0.05', () => {
  test('charges its monitor to itself, stops with its exit recorded, and its logs read back', async () => {
    if (!sb) return;
    sb.write('flood.yaml', `apiVersion: corral/v1
kind: Container
metadata: {name: flood}
spec:
  rootfs: {host: {}}
  command: [/usr/bin/yes, "${TEXT}"]
  resources: {cpus: "0.05"}
  logging: {maxSize: 64Ki, maxFiles: 2}
  stopTimeout: 1s
`);
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const record = JSON.parse(sb.run('inspect', 'flood').stdout) as { runtime: { monitor: { pid: number }; init: { pid: number } }; cgroup: CgroupHandle };
    const { monitor, init } = record.runtime;
    expect(record.cgroup.leaves).toEqual({ monitor: 'monitor', payload: 'payload' });
    for (const dir of monitorDirs(record.cgroup)) expect(await readPids(dir)).toEqual([monitor.pid]);
    for (const dir of payloadOnlyDirs(record.cgroup)) expect(await readPids(dir)).toEqual([init.pid]);

    const manager = await openCgroupManager({ parentName: sb.cgroupParent });
    const u0 = (await manager.stats(record.cgroup)).cpu.usageUsec!;
    const m0 = cpuUsec(monitor.pid);
    const t0 = Date.now();
    await sleep(3000);
    const used = (await manager.stats(record.cgroup)).cpu.usageUsec! - u0;
    const monitorUsed = cpuUsec(monitor.pid) - m0;
    const allowed = 0.05 * (Date.now() - t0) * 1000;
    expect(used).toBeLessThan(allowed * 3 + 200_000);
    expect(monitorUsed).toBeLessThan(allowed * 3 + 200_000);

    // PID 1 ignores SIGTERM: after the stop timeout the container's processes are killed; the
    // monitor is not, and records the SIGKILL (an exit nobody recorded would read `unknown`).
    expect(sb.run('stop', 'flood').code).toBe(0);
    expect(psJson(sb).find((c) => c.name === 'flood')).toMatchObject({ status: 'stopped', lastExit: { signal: 'SIGKILL', code: null } });
    expect(JSON.stringify(psJson(sb))).not.toContain('"unknown"');

    const logs = sb.run('logs', 'flood', '--tail', '50');
    expect(logs.code).toBe(0);
    const lines = logs.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBe(50);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout [FP] /);
    expect(lines.filter((l) => l.endsWith(` stdout F ${TEXT}`)).length).toBeGreaterThan(40);
  }, 120_000);
});
