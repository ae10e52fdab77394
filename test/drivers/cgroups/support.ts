// Helpers for the cgroups tests: a unique parent per test file, processes that wait to be placed
// before they run anything, and polling on kernel state with generous deadlines (never a speed
// assertion).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DevicePolicy, DeviceRule } from '../../../src/drivers/cgroups/types.js';
import { DEFAULT_DEVICES } from '../../../src/manifest/defaults.js';
import type { ResourcesSpec } from '../../../src/manifest/spec.js';

/** A whole block device of this host for I/O throttles, or null (a VM may have none). */
export function someDisk(): string | null {
  for (const name of readdirSync('/sys/block')) {
    const dev = `/dev/${name}`;
    try {
      if (statSync(dev).isBlockDevice() && !existsSync(`/sys/block/${name}/partition`)) return dev;
    } catch {
      // not there under that name
    }
  }
  return null;
}

export function testParentName(): string {
  return `corral-test-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export const NO_LIMITS: ResourcesSpec = {
  memoryBytes: null,
  memorySwapBytes: null,
  memoryReservationBytes: null,
  cpuMillis: null,
  cpuWeight: null,
  cpusetCpus: null,
  cpusetMems: null,
  pids: 'unlimited',
  ioWeight: null,
  ioLimits: [],
};

/** The allow-list a default container gets (null zero full random urandom tty ptmx pts/*). */
export const DEFAULT_RULES: readonly DeviceRule[] = DEFAULT_DEVICES.map((d) => d.rule);
export const DEFAULT_POLICY: DevicePolicy = { allowAll: false, rules: DEFAULT_RULES };
export const ALLOW_ALL: DevicePolicy = { allowAll: true };

export function limits(overrides: Partial<ResourcesSpec>): ResourcesSpec {
  return { ...NO_LIMITS, ...overrides };
}

export const MiB = 2 ** 20;

export interface Waiting {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Lets the script run (it was blocked reading stdin). */
  go(): void;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const spawned = new Set<ChildProcess>();

/**
 * A shell that blocks on `read` until `go()`, then execs `script`: it can be put in a cgroup
 * before it runs anything, the way the shim holds a container's first process.
 */
export async function spawnWaiting(script: string): Promise<Waiting> {
  const child = spawn('/bin/sh', ['-c', 'read _go; exec /bin/sh -c "$1"', 'waiting', script], { stdio: ['pipe', 'ignore', 'pipe'] });
  spawned.add(child);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      spawned.delete(child);
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return { child, pid: child.pid!, go: () => child.stdin!.write('go\n'), exit };
}

/** SIGKILLs every test shell still running (their own children die with their cgroup). */
export function killSpawned(): void {
  for (const c of spawned) c.kill('SIGKILL');
}

/** Polls until `condition` holds; fails with `what` after a deadline far above any normal run. */
export async function eventually(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(delay);
  }
}

/** A promise with a deadline, for events (OOM) that must come. */
export function within<T>(promise: Promise<T>, what: string, timeoutMs = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
