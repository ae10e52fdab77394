// Runs the built `bin/corral` as a user would (npm test builds dist/ first).

import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin/corral');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CorralOptions {
  env?: Record<string, string>;
  cwd?: string;
  input?: string;
  /** A network namespace file corral runs in (`nsenter --net=`, which keeps /sys/fs/cgroup in view). */
  netns?: string;
}

/**
 * The state root of a command whose test names none (no `CORRAL_ROOT`, no `--root`): one that does
 * not exist, so that no test reads or changes the machine's own root (/var/lib/corral).
 */
export const UNUSED_ROOT = join(tmpdir(), `corral-test-unused-root-${process.pid}`);

export function corral(args: readonly string[], options: CorralOptions = {}): CliResult {
  // BIN itself, as a user runs it: through its shell part and the startup snapshot (bin/corral).
  const [file, argv] = options.netns === undefined
    ? [BIN, [...args]]
    : ['nsenter', [`--net=${options.netns}`, BIN, ...args]];
  const r = spawnSync(file, argv, {
    cwd: options.cwd ?? REPO,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root', CORRAL_ROOT: UNUSED_ROOT, ...options.env },
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
