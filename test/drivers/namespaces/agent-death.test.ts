// A start whose agent dies before the start is recorded. The next run would find the container's
// cgroup empty and start it again; a start that carried on alone would then join the same cgroup
// (21 monitors for 20 containers, once, in test/reconciler/crash.test.ts). The launcher and the
// monitor die with their parent until the monitor has recorded the start (shim/main.c).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { encodeSpawnSpec } from '../../../src/drivers/namespaces/protocol.js';
import { SHIM_EXIT, SHIM_FILES } from '../../../src/drivers/namespaces/protocol-fields.js';
import { shimPath } from '../../../src/drivers/namespaces/shim.js';
import { pipe } from '../../../src/sys/posix-spawn.js';
import { closeFd } from '../../../src/sys/pidfd.js';
import { procStat } from '../../../src/sys/proc.js';
import { requireRoot } from '../../support/root.js';
import { makeHarness, specOf, type Harness } from './harness.js';

const SHIM_DIR = dirname(dirname(shimPath()));
/** Stops itself right before it places the container in its cgroup (TEST_PAUSE in shim/start.c). */
const HOOKS = join(SHIM_DIR, 'build', 'corral-shim-hooks');

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The process that holds `file` open (the monitor holds its alive FIFO from its first steps). */
function holderOf(file: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readdirSync(`/proc/${entry}/fd`).some((fd) => readlinkSync(`/proc/${entry}/fd/${fd}`) === file)) return Number(entry);
    } catch { /* gone, or a kernel thread */ }
  }
  return undefined;
}

/** Gone, or a zombie nobody reaped yet (this VM's PID 1 reaps orphans late). */
function ended(pid: number, startTime: number): boolean {
  const st = procStat(pid);
  return st === null || st.startTime !== startTime || st.state === 'Z' || st.state === 'X';
}

async function until<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) {
    const v = probe();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const root = requireRoot();
(root ? describe : describe.skip)('a start whose agent dies first', () => {
  let h: Harness;
  beforeAll(() => {
    execFileSync('make', ['-s', '-C', SHIM_DIR, 'hooks'], { stdio: ['ignore', 'ignore', 'inherit'] });
    h = makeHarness('agentdeath');
  });
  afterAll(async () => { await h?.cleanup(); });

  test('an agent killed while the monitor is about to place the container: monitor and container die with it, nothing joins the cgroup', async () => {
    const spec = h.spawnSpec(await specOf('orphaned', 'command: [/bin/sleep, "1000"]'));
    // The "agent" is a shell that started the shim and waits for it; this test keeps the status
    // pipe's other end, so only the parent-death signals can tell the shim its agent is gone.
    const agent = spawn('/bin/sh', ['-c', '"$0" run & wait', HOOKS], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    agent.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    (agent.stdio[4] as Readable).resume();
    const specPipe = agent.stdio[3] as Writable;
    specPipe.on('error', () => undefined);
    specPipe.end(encodeSpawnSpec(spec));
    let watched: { pid: number; startTime: number }[] = [];
    try {
      const monitor = await until('the monitor, stopped before placement', () => {
        const pid = holderOf(join(spec.shimDir, SHIM_FILES.alive));
        return pid !== undefined && procStat(pid)?.state === 'T' ? pid : undefined;
      });
      const first = await until('the container\'s first process', () => children(monitor)[0]);
      // The launcher (the agent's child) waits until the start is recorded.
      const launcher = children(agent.pid!).find((pid) => pid === procStat(monitor)!.ppid);
      watched = [launcher, monitor, first].flatMap((pid) => (pid === undefined ? [] : [{ pid, startTime: procStat(pid)!.startTime }]));

      agent.kill('SIGKILL');
      // The launcher's exit sends the monitor its parent-death SIGKILL (the kernel does so before
      // the launcher turns zombie). Only then is the monitor let go on: were it still alive, it
      // would place the container. Sent before that, SIGCONT races the chain of parent deaths,
      // which a running monitor can win in its first milliseconds (it places the container, is
      // killed, and the container's process stays in the cgroup: seen under load). No later run
      // starts that soon, and test/reconciler/crash.test.ts shows one cleans up after it.
      const launcherEnded = (): boolean => watched.filter((w) => w.pid === launcher).every((w) => ended(w.pid, w.startTime));
      await until('the launcher to end', () => (launcherEnded() ? true : undefined), 3000).catch(() => false);
      try { process.kill(monitor, 'SIGCONT'); } catch { /* already gone */ }
      await until('the launcher, the monitor and the first process to end', () => (watched.every((w) => ended(w.pid, w.startTime)) ? true : undefined), 3000).catch(() => false);
      await sleep(200);
      expect({ left: watched.filter((w) => !ended(w.pid, w.startTime)).map((w) => w.pid), inCgroup: h.cg.pids() }).toEqual({ left: [], inCgroup: [] });
      expect(existsSync(join(spec.shimDir, SHIM_FILES.state))).toBe(false);
      expect(launcher).toBeDefined();
    } finally {
      agent.kill('SIGKILL');
      for (const w of watched) if (!ended(w.pid, w.startTime)) process.kill(w.pid, 'SIGKILL');
      await h.cg.killAll();
    }
    expect(stderr.join('')).not.toMatch(/ready/);
  });

  test('a shim whose agent is already gone (its status pipe has no reader) starts nothing', async () => {
    const spec = h.spawnSpec(await specOf('unheard', 'command: [/bin/sleep, "1000"]'));
    const [statusRead, statusWrite] = pipe();
    closeFd(statusRead);
    const shim = spawn(shimPath(), ['run'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', statusWrite] });
    closeFd(statusWrite);
    let stderr = '';
    shim.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const specPipe = shim.stdio[3] as Writable;
    specPipe.on('error', () => undefined);
    specPipe.end(encodeSpawnSpec(spec));
    const code = await new Promise<number | null>((resolve) => shim.once('close', (c) => resolve(c)));
    try {
      expect({ code, stderr }).toEqual({ code: SHIM_EXIT.setup, stderr: expect.stringContaining('the agent went away before the container started') });
      expect(h.cg.pids()).toEqual([]);
      expect(existsSync(join(spec.shimDir, SHIM_FILES.state))).toBe(false);
    } finally {
      await h.cg.killAll();
    }
  });
});
