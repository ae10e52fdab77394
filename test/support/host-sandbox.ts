// A throw-away corral installation for end-to-end tests against the real kernel: its own state
// root, manifest directory and cgroup parent (`corral-test-<pid>-<random>-<n>`, or with `defaultParent` the
// one corral derives from the root's id, `corral-<short id>`), removed afterwards even when the
// test failed — containers killed through their cgroups, monitors by pid.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openCgroupManager } from '../../src/drivers/cgroups/index.js';
import { layout } from '../../src/state/layout.js';
import { readRootId, shortRootId } from '../../src/state/root-id.js';
import { corral, type CliResult } from './cli.js';
import { unmountUnder } from './test-netns.js';

let counter = 0;
const FILE_TAG = randomBytes(3).toString('hex');

export interface Sandbox {
  readonly root: string;
  readonly manifests: string;
  /** With `defaultParent`, known once corral gave the root its id (its first command). */
  readonly cgroupParent: string;
  /** The root's id; null before corral's first command on it. */
  rootId(): string | null;
  readonly env: Record<string, string>;
  run(...args: string[]): CliResult;
  write(name: string, text: string): void;
  remove(name: string): void;
  /** Pids of shim monitors whose state root is this sandbox's. */
  monitors(): number[];
  cleanup(): Promise<void>;
}

export interface SandboxOptions {
  /**
   * The state root to use instead of `<temp>/root` (a directory on a filesystem a test mounted).
   * The caller owns it: cleanup() removes the containers in it, not the directory.
   */
  readonly root?: string;
  /** No CORRAL_CGROUP_PARENT: corral names the parent after the root's id, as for a user's root. */
  readonly defaultParent?: boolean;
  /** Run corral inside this network namespace (a file; test/support/test-netns.ts makes one). */
  readonly netns?: string;
}

export function sandbox(label: string, options: SandboxOptions = {}): Sandbox {
  const base = mkdtempSync(join(tmpdir(), `corral-${label}-`));
  const root = options.root ?? join(base, 'root');
  const manifests = join(base, 'manifests');
  mkdirSync(manifests);
  // Random too: jest runs the files of one worker in one process (one pid) with this module
  // loaded afresh for each, so a counter alone would give two files the same parent.
  const fixedParent = options.defaultParent ? null : `corral-test-${process.pid}-${FILE_TAG}-${++counter}`;
  const rootId = (): string | null => readRootId(layout(root));
  const derivedParent = (): string | null => {
    const id = rootId();
    return id === null ? null : `corral-${shortRootId(id)}`;
  };
  const env: Record<string, string> = { CORRAL_ROOT: root, CORRAL_MANIFESTS: manifests, CORRAL_LOG_LEVEL: 'warn' };
  if (fixedParent !== null) env['CORRAL_CGROUP_PARENT'] = fixedParent;
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
    get cgroupParent(): string {
      const p = fixedParent ?? derivedParent();
      if (p === null) throw new Error(`sandbox ${root}: no root id yet, so no derived cgroup parent`);
      return p;
    },
    rootId,
    env,
    run: (...args) => corral(args, { env, ...(options.netns ? { netns: options.netns } : {}) }),
    write: (name, text) => writeFileSync(join(manifests, name), text),
    remove: (name) => rmSync(join(manifests, name), { force: true }),
    monitors,
    async cleanup() {
      // The polite way first, for bridged containers: corral removes what it created (their
      // network with them). Elsewhere the missing directory makes this a quick no-op, and the
      // cgroups below take everything.
      if (options.netns) mkdirSync(join(base, 'nothing'), { recursive: true });
      corral(['reconcile', '--once', '--allow-empty', '--dir', join(base, 'nothing')], { env, ...(options.netns ? { netns: options.netns } : {}) });
      // Then whatever a failed test left: every process in our cgroups, then the cgroups (a
      // derived parent: only this root's, in case another root shares the name).
      const parentName = fixedParent ?? derivedParent();
      const id = rootId();
      if (parentName !== null) {
        const manager = await openCgroupManager({ parentName, ...(fixedParent === null && id !== null ? { rootId: id } : {}) });
        await manager.removeAll();
      }
      for (const pid of monitors()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      // Network namespace files of bridged containers a failed test left mounted.
      unmountUnder(root);
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

/** The lines a container printed, once it has exited (20 s at most), without the log's timestamps and stream tags. */
export async function logLinesWhenExited(sb: Sandbox, name: string): Promise<string[]> {
  for (let i = 0; i < 200 && psJson(sb).find((c) => c.name === name)?.status !== 'exited'; i++) await sleep(100);
  return sb.run('logs', name).stdout.split('\n').map((l) => /^\S+ std\w+ [FP] (.*)$/.exec(l)?.[1] ?? '').filter(Boolean);
}
