// Crash safety against the real kernel: SIGKILL `reconcile --once` at 20 random points of a
// 20-container converge, run it again, and check that the host holds exactly what the manifests
// say: every container running once, no leaked cgroup, mount, monitor or state record.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { openCgroupManager } from '../../src/drivers/cgroups/index.js';
import { BIN } from '../support/cli.js';
import { requireRoot } from '../support/root.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';

const SEED = Number(process.env['CORRAL_CRASH_SEED'] ?? 7);
const POINTS = 20;

let sb: Sandbox;
beforeAll(() => {
  if (requireRoot()) sb = sandbox('crash');
});
afterAll(async () => {
  await sb?.cleanup();
});

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Even rounds: c0..c19; odd rounds: c2..c21 with a changed env on half of them (restarts, creates, removals). */
function desired(round: number): string[] {
  const names = Array.from({ length: 20 }, (_, i) => `c${i + (round % 2) * 2}`);
  for (const file of readdirSync(sb.manifests)) sb.remove(file);
  names.forEach((n, i) => sb.write(`${n}.yaml`, sleeper(n, `env: {ROUND: "${round % 2 && i % 2 ? 'b' : 'a'}"}\nresources: {memory: 32Mi, pids: 64}`)));
  return names;
}

async function runAndKill(afterMs: number): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'reconcile', '--once'], { env: { ...process.env, ...sb.env }, stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
}

async function timedRun(): Promise<number> {
  const started = Date.now();
  const r = sb.run('reconcile', '--once', '--detailed-exitcode');
  expect({ code: [0, 2].includes(r.code) ? 'ok' : r.code, out: r.code > 2 || r.code === 1 ? r.stdout + r.stderr : '' }).toEqual({ code: 'ok', out: '' });
  return Date.now() - started;
}

async function assertConverged(names: string[]): Promise<void> {
  const ps = psJson(sb);
  expect(ps.map((c) => c.name).sort()).toEqual([...names].sort());
  expect(ps.filter((c) => c.status !== 'running').map((c) => c.name)).toEqual([]);
  const manager = await openCgroupManager({ parentName: sb.cgroupParent });
  expect((await manager.list()).map((h) => h.name).sort()).toEqual([...names].sort());
  // Each container runs once: one monitor per container, and the container's processes in its cgroup.
  expect(sb.monitors().length).toBe(names.length);
  for (const h of await manager.list()) expect((await manager.pids(h)).length).toBeGreaterThanOrEqual(1);
  expect(readFileSync('/proc/self/mountinfo', 'utf8').includes(sb.root)).toBe(false);
  expect(readdirSync(join(sb.root, 'state')).filter((f) => f.endsWith('.json') && f !== 'meta.json').sort()).toEqual(names.map((n) => `${n}.json`).sort());
  const containers = join(sb.root, 'containers');
  expect(existsSync(containers) ? readdirSync(containers).sort() : []).toEqual([...names].sort());
}

describe(`crash recovery (seed ${SEED})`, () => {
  test(`SIGKILL at ${POINTS} random points of a 20-container converge; the next run repairs everything`, async () => {
    if (!sb) return;
    const random = mulberry32(SEED);
    const first = desired(0);
    let full = await timedRun();
    await assertConverged(first);
    for (let round = 1; round <= POINTS; round++) {
      const names = desired(round);
      const at = Math.floor(random() * full);
      await runAndKill(at);
      full = Math.max(full, await timedRun());
      await assertConverged(names);
      // And the run after that has nothing left to do.
      expect(sb.run('reconcile', '--once', '--detailed-exitcode').code).toBe(0);
    }
  }, 900_000);
});
