// A throw-away cgroup per test file: one in the v1 pids and memory hierarchies and one in the
// cgroup2 tree, with a killAll that empties it. Removed in afterAll, after killing what is left.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HIERARCHIES = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified'];

export interface TestCgroup {
  readonly dirs: readonly string[];
  readonly procs: readonly string[];
  readonly oomEvents: string | null;
  pids(): number[];
  killAll(): Promise<void>;
  remove(): Promise<void>;
}

export function makeTestCgroup(tag: string): TestCgroup {
  const name = `corral-test-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const dirs = HIERARCHIES.filter((h) => existsSync(h)).map((h) => join(h, name));
  for (const d of dirs) mkdirSync(d);
  const memory = dirs.find((d) => d.startsWith('/sys/fs/cgroup/memory/'));
  const pids = (): number[] => {
    const all = new Set<number>();
    for (const d of dirs) {
      try {
        for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) all.add(Number(l));
      } catch { /* removed */ }
    }
    return [...all];
  };
  const killAll = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const left = pids();
      if (left.length === 0) return;
      for (const p of left) {
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
      await sleep(20);
    }
  };
  return {
    dirs,
    procs: dirs.map((d) => join(d, 'cgroup.procs')),
    oomEvents: memory ? join(memory, 'memory.oom_control') : null,
    pids,
    killAll,
    async remove() {
      await killAll();
      for (const d of dirs) {
        for (let i = 0; i < 50; i++) {
          try {
            rmdirSync(d);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
            await sleep(20);
          }
        }
      }
    },
  };
}

export function writeProcs(file: string, pid: number): void {
  writeFileSync(file, String(pid));
}
