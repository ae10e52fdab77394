// Jest globalSetup: what an earlier test run left because it was killed before its afterAll could
// run (SIGKILL, a timeout around the whole run): cgroup parents named after a test worker
// (`corral-test-<pid>-…`, test/support/host-sandbox.ts) whose worker is gone. Their processes are
// killed by pid, from those cgroups only, and the directories removed, deepest first. Parents of a
// live process, and everything else on the machine, are left alone.
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const STALE = /^corral-test-(\d+)-/;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function hierarchies() {
  if (!existsSync(ROOT)) return [];
  if (existsSync(join(ROOT, 'cgroup.controllers'))) return [ROOT];
  return readdirSync(ROOT).map((d) => join(ROOT, d)).filter((d) => {
    try {
      return statSync(d).isDirectory() && existsSync(join(d, 'cgroup.procs'));
    } catch {
      return false;
    }
  });
}

function dirsDeepestFirst(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...dirsDeepestFirst(join(dir, e.name)));
  out.push(dir);
  return out;
}

const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function removeTree(dir) {
  for (let attempt = 0; attempt < 50; attempt++) {
    let left = 0;
    for (const d of dirsDeepestFirst(dir)) {
      let procs = [];
      try {
        procs = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        // gone meanwhile
      }
      for (const pid of procs) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      try {
        rmdirSync(d);
      } catch {
        left++;
      }
    }
    if (left === 0) return true;
    pause(20);
  }
  return false;
}

export default function sweepStaleTestCgroups() {
  if (process.getuid?.() !== 0) return;
  const kept = [];
  let removed = 0;
  for (const h of hierarchies()) {
    for (const entry of readdirSync(h)) {
      const m = STALE.exec(entry);
      if (!m || alive(Number(m[1]))) continue;
      if (removeTree(join(h, entry))) removed++;
      else kept.push(join(h, entry));
    }
  }
  if (removed > 0) process.stderr.write(`stale-sweep: removed ${removed} cgroup parents of test runs that were killed\n`);
  if (kept.length > 0) process.stderr.write(`stale-sweep: could not remove ${kept.join(', ')}\n`);
}
