// The facts of the machine a bench ran on, stored beside its figures so that two runs can be
// compared knowing what differed: kernel, cores, memory, the cgroup layout as corral's driver
// detects it (dist/ must be built), Node and corral versions, the git commit, and the load.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

const REPO = new URL('../..', import.meta.url).pathname;

/** The 1, 5 and 15 minute load averages. */
export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

async function cgroupLayout() {
  try {
    const { detectLayout } = await import('../../dist/drivers/cgroups/index.js');
    const l = detectLayout();
    return { kind: l.kind, v1: Object.keys(l.v1).sort(), unifiedControllers: l.unified?.controllers ?? null };
  } catch (err) {
    return { kind: 'unknown', error: String(err?.message ?? err).split('\n')[0] };
  }
}

function git() {
  // GIT_OPTIONAL_LOCKS=0: read only, never refresh the index of a work tree others are editing.
  const run = (...args) => spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8', env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } });
  const head = run('rev-parse', 'HEAD');
  if (head.status !== 0) return { commit: null, dirty: null };
  return { commit: head.stdout.trim(), dirty: run('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '' };
}

export async function machineFacts() {
  const c = cpus();
  return {
    kernel: release(),
    cores: c.length,
    cpuModel: c[0]?.model ?? null,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    cgroups: await cgroupLayout(),
    node: process.version,
    corral: JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    git: git(),
    loadAtStart: loadAverage(),
  };
}
