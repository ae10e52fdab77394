// Stop, exit records, log rotation, the monitor's size, and a container outliving its agent.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { procStat } from '../../../src/sys/proc.js';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SHIM_FILES } from '../../../src/drivers/namespaces/protocol-fields.js';
import { readShimExitRecord } from '../../../src/drivers/namespaces/records.js';
import { isAlive, onContainerExit, rediscover, signalInit, start, status, stop, waitForExit, type RuntimeRecord } from '../../../src/drivers/namespaces/runtime.js';
import { requireRoot } from '../../support/root.js';
import { spawnAgent, transpileSources } from './agent-child.js';
import { makeHarness, mountsLeaked, readLogs, specOf, type Harness } from './harness.js';

const root = requireRoot();
(root ? describe : describe.skip)('lifecycle', () => {
  let h: Harness;
  const started: RuntimeRecord[] = [];
  beforeAll(() => {
    h = makeHarness('life');
  });
  afterAll(async () => {
    await h?.cleanup();
    for (const r of started) expect(isAlive(r.monitor)).toBe(false);
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('stop: a PID 1 without a TERM handler is killed through the cgroup after the timeout', async () => {
    const spec = await specOf('sleeper', 'command: [/bin/sleep, "1000"]');
    const record = await start(h.spawnSpec(spec));
    started.push(record);
    expect(status(record).state).toBe('running');
    const r = await stop(record, { timeoutMs: 300, killAll: h.cg.killAll });
    expect(r.forced).toBe(true);
    expect(r.warning?.code).toBe('STOP_TIMEOUT');
    expect(r.exit?.signal).toBe(9);
    expect(r.exit?.signalName).toBe('SIGKILL');
    expect(r.exit?.exitCode).toBeNull();
    expect(r.exit!.finishedAtMs).toBeGreaterThanOrEqual(r.exit!.startedAtMs);
    expect(isAlive(record.monitor)).toBe(false);
  });

  test('an exit watch fires once when the container ends, never after it is stopped, and at once for one already gone', async () => {
    const spec = await specOf('watched', 'command: [/bin/sleep, "1000"]');
    const record = await start(h.spawnSpec(spec));
    started.push(record);
    const other = await start(h.spawnSpec(await specOf('unwatched', 'command: [/bin/sleep, "1000"]')));
    started.push(other);
    let fired = 0;
    let firedAfterDispose = 0;
    const exited = new Promise<void>((resolve) => {
      onContainerExit(record, () => {
        fired++;
        resolve();
      });
    });
    const dispose = onContainerExit(other, () => firedAfterDispose++);
    dispose();
    expect(signalInit(record, constants.signals.SIGKILL)).toBe(true);
    expect(signalInit(other, constants.signals.SIGKILL)).toBe(true);
    await exited;
    await waitForExit(other, { timeoutMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([fired, firedAfterDispose]).toEqual([1, 0]);
    // Watched after its monitor left: told at once (a FIFO opened then would never see EOF).
    await expect(new Promise<void>((resolve) => onContainerExit(record, resolve))).resolves.toBeUndefined();
  });

  test('a start aborted before its command runs fails typed, and leaves no shim behind (none unreaped)', async () => {
    const spec = await specOf('aborted', 'command: [/bin/sleep, "1000"]');
    const ac = new AbortController();
    ac.abort();
    await expect(start(h.spawnSpec(spec), { signal: ac.signal, forceKillAfterMs: 200 })).rejects.toMatchObject({ code: 'CONTAINER_SETUP_FAILED' });
    // The launcher was killed through its pidfd and reaped: no child of ours is left, not even a zombie.
    const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    const left = children.filter((pid) => {
      const state = procStat(Number(pid))?.state;
      // A zombie has no cmdline any more: its state says it.
      return state === 'Z' || readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('corral-shim');
    });
    expect(left).toEqual([]);
  });

  test('stop: the stop signal reaches a PID 1 that handles it, and its exit code is recorded', async () => {
    const spec = await specOf('trapper', 'stopSignal: SIGUSR1\ncommand: [/bin/sh, -c, "trap \'echo bye; exit 42\' USR1; echo ready; while true; do sleep 0.05; done"]');
    const record = await start(h.spawnSpec(spec));
    started.push(record);
    // PID 1 of a pid namespace ignores a signal it has no handler for: stopping before the shell
    // has set its trap (it prints `ready` after) would wait out the timeout (CI48 did, once).
    for (const end = Date.now() + 10_000; !readLogs(record.logDir).stdout.includes('ready') && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    const r = await stop(record, { timeoutMs: 20_000, killAll: h.cg.killAll });
    expect(r.forced).toBe(false);
    expect(r.exit?.exitCode).toBe(42);
    expect(readLogs(record.logDir).stdout).toBe('ready\nbye\n');
  });

  test('logs rotate at maxSize, keeping maxFiles files', async () => {
    const spec = await specOf('chatty', 'logging: {maxSize: 4Ki, maxFiles: 3}\ncommand: [/bin/sh, -c, "i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"]');
    const r = await h.run(spec);
    const files = readdirSync(r.record.logDir).sort();
    expect(files).toEqual([SHIM_FILES.containerLog, `${SHIM_FILES.containerLog}.1`, `${SHIM_FILES.containerLog}.2`]);
    for (const f of files) expect(statSync(`${r.record.logDir}/${f}`).size).toBeLessThanOrEqual(4096);
    // The newest lines survive, in order, each one whole.
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('line-399-xxxxxxxxxxxxxxxxxxxxxxxxxx');
    for (const l of lines) expect(l).toMatch(/^line-\d+-x{26}$/);
  });

  test('the monitor stays small: VmRSS at most 300 KB', async () => {
    const spec = await specOf('idle', 'command: [/bin/sleep, "1000"]');
    const record = await start(h.spawnSpec(spec));
    started.push(record);
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${record.monitor.pid}/status`, 'utf8'))?.[1]);
    process.stderr.write(`monitor VmRSS ${rss} kB\n`);
    expect(rss).toBeLessThanOrEqual(300);
    await stop(record, { timeoutMs: 100, killAll: h.cg.killAll });
  });

  test('a container outlives its agent; a new agent finds it, stops it and reads the exit', async () => {
    const spec = await specOf('survivor', 'command: [/bin/sh, -c, "trap \'exit 7\' TERM; while true; do sleep 0.05; done"]');
    const layout = h.fs.layout('survivor');
    const transpiled = transpileSources();
    try {
      const agent = spawnAgent(transpiled.dir, {
        spec, rootfs: layout, image: null, cgroupProcs: h.cg.procs, shimDir: layout.shim, logDir: layout.logs, volumes: {}, arch: process.arch,
      });
      const saved = (await agent.record) as RuntimeRecord;
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent.child.once('exit', r));
      started.push(saved);

      // The new agent: rebuild the record from the shim's state file, check identity, stop.
      const found = rediscover('survivor', layout.shim, layout.logs, 15);
      expect(found).toEqual(saved);
      expect(status(found!).state).toBe('running');
      expect(isAlive(found!.init)).toBe(true);
      const r = await stop(found!, { timeoutMs: 20_000, killAll: h.cg.killAll });
      expect(r.forced).toBe(false);
      expect(r.exit?.exitCode).toBe(7);
      expect(readShimExitRecord(layout.shim)?.exitCode).toBe(7);
      expect(await waitForExit(found!, { timeoutMs: 1000 })).toMatchObject({ state: 'exited' });
    } finally {
      transpiled.cleanup();
    }
  });

  test('a record whose pid was reused is not mistaken for the container', async () => {
    const spec = await specOf('reuse', 'command: [/bin/true]');
    const r = await h.run(spec);
    const forged: RuntimeRecord = { ...r.record, init: { pid: process.pid, startTime: r.record.init.startTime }, monitor: { pid: process.pid, startTime: 1 } };
    expect(isAlive(forged.init)).toBe(false);
    expect(status({ ...forged, shimDir: '/nonexistent' }).state).toBe('lost');
  });

  test('`corral kill` never signals a process that took a dead container\'s pid', async () => {
    const spec = await specOf('reused', 'command: [/bin/true]');
    const r = await h.run(spec);
    // A bystander now holds the pid the record names (its start time differs, as after pid reuse).
    const bystander = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    try {
      // The container's own start time, as recorded, was earlier (start times count clock ticks).
      const forged: RuntimeRecord = { ...r.record, init: { pid: bystander.pid!, startTime: procStat(bystander.pid!)!.startTime - 500 } };
      expect(signalInit(forged, constants.signals.SIGKILL)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
    } finally {
      bystander.kill('SIGKILL');
    }
  });
});
