// A throw-away corral installation for end-to-end tests against the real kernel: its own state
// root, manifest directory and cgroup parent (`corral-test-<pid>-<n>`), removed afterwards even
// when the test failed — containers killed through their cgroups, monitors by pid.

import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCgroupManager } from '../../src/drivers/cgroups/index.js';
import { corral, type CliResult } from './cli.js';

let counter = 0;

export interface Sandbox {
  readonly root: string;
  readonly manifests: string;
  readonly cgroupParent: string;
  readonly env: Record<string, string>;
  run(...args: string[]): CliResult;
  write(name: string, text: string): void;
  remove(name: string): void;
  /** Pids of shim monitors whose state root is this sandbox's. */
  monitors(): number[];
  cleanup(): Promise<void>;
}

export function sandbox(label: string): Sandbox {
  const base = mkdtempSync(join(tmpdir(), `corral-${label}-`));
  const root = join(base, 'root');
  const manifests = join(base, 'manifests');
  mkdirSync(manifests);
  const cgroupParent = `corral-test-${process.pid}-${++counter}`;
  const env = { CORRAL_ROOT: root, CORRAL_MANIFESTS: manifests, CORRAL_CGROUP_PARENT: cgroupParent, CORRAL_LOG_LEVEL: 'warn' };
  const monitors = (): number[] => {
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // Monitors run from a sealed memfd copy of the shim (shim/seal.h).
        if (!readlinkSync(`/proc/${entry}/exe`).startsWith('/memfd:corral-shim')) continue;
        // A monitor keeps files of its container's directory open (alive.fifo, the log).
        const fds = readdirSync(`/proc/${entry}/fd`).map((fd) => {
          try {
            return readlinkSync(`/proc/${entry}/fd/${fd}`);
          } catch {
            return '';
          }
        });
        if (fds.some((target) => target.startsWith(root))) out.push(Number(entry));
      } catch {
        // Exited meanwhile, or not ours to read.
      }
    }
    return out;
  };
  return {
    root,
    manifests,
    cgroupParent,
    env,
    run: (...args) => corral(args, { env }),
    write: (name, text) => writeFileSync(join(manifests, name), text),
    remove: (name) => rmSync(join(manifests, name), { force: true }),
    monitors,
    async cleanup() {
      // The polite way first: corral removes what it created.
      corral(['reconcile', '--once', '--allow-empty', '--dir', join(base, 'nothing')], { env });
      // Then whatever a failed test left: every process in our cgroups, then the cgroups.
      const manager = await openCgroupManager({ parentName: cgroupParent });
      await manager.removeAll();
      for (const pid of monitors()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A manifest on the host root running `sleep`, plus extra spec lines. */
export function sleeper(name: string, extra = ''): string {
  return `apiVersion: corral/v1
kind: Container
metadata:
  name: ${name}
spec:
  rootfs: {host: {}}
  command: [/bin/sh, -c, 'trap "exit 0" TERM; sleep 100000 & wait']
  stopTimeout: 5s
${extra.split('\n').filter(Boolean).map((l) => `  ${l}`).join('\n')}
`;
}

export function psJson(sb: Sandbox): Array<{ name: string; status: string; pid: number | null; restarts: number; lastExit: unknown }> {
  const r = sb.run('ps', '--output', 'json');
  if (r.code !== 0) throw new Error(`corral ps failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
