// Throw-away filesystems for the quota tests: a sparse image file in a temp directory, attached to
// a loop device, formatted and mounted there. Each test file keeps the ones it made and removes
// them in afterAll (unmount, detach, delete) even when a test failed; `leftovers` proves nothing
// of them is still mounted or attached. Nothing here touches a filesystem or loop device the
// tests did not create.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { mountsAtOrBelow } from '../../../src/drivers/overlay/mountinfo.js';
import { tempDir } from './helpers.js';

export type LoopKind = 'xfs' | 'ext4';

export interface LoopFs {
  readonly kind: LoopKind;
  /** The temp directory holding the image and the mount point. */
  readonly dir: string;
  readonly image: string;
  readonly device: string;
  readonly mountPoint: string;
}

const made: LoopFs[] = [];

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The loop driver is a module on stock kernels: load it when /dev/loop-control is missing. */
function ensureLoopDriver(): void {
  if (existsSync('/dev/loop-control')) return;
  const modprobe = readFileSync('/proc/sys/kernel/modprobe', 'utf8').trim();
  run(modprobe, ['loop']);
}

const MKFS: Record<LoopKind, (device: string, features: readonly string[]) => [string, string[]]> = {
  // XFS needs 300 MiB at least; the file is sparse, so it costs what is written.
  xfs: (device) => ['mkfs.xfs', ['-q', '-f', device]],
  // 256-byte inodes hold a project id; `features` e.g. ['quota', 'project'].
  ext4: (device, features) => ['mkfs.ext4', ['-q', '-F', '-I', '256', ...(features.length ? ['-O', features.join(',')] : []), device]],
};

export interface LoopOptions {
  /** ext4 features (`quota`, `project`). */
  readonly features?: readonly string[];
  /** Mount options (`prjquota`). */
  readonly options?: readonly string[];
}

/** Formats and mounts a new loop filesystem; throws (after undoing its steps) when it fails. */
export function makeLoopFs(kind: LoopKind, label: string, opts: LoopOptions = {}): LoopFs {
  ensureLoopDriver();
  const dir = tempDir(`loop-${label}`);
  const image = join(dir, 'fs.img');
  writeFileSync(image, '');
  execFileSync('truncate', ['-s', kind === 'xfs' ? '320M' : '128M', image]);
  let device = '';
  const mountPoint = join(dir, 'mnt');
  try {
    device = run('losetup', ['--find', '--show', image]);
    const [cmd, args] = MKFS[kind](device, opts.features ?? []);
    run(cmd, args);
    mkdirSync(mountPoint);
    run('mount', ['-t', kind, ...(opts.options?.length ? ['-o', opts.options.join(',')] : []), device, mountPoint]);
  } catch (err) {
    if (device) spawnSync('losetup', ['-d', device]);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const fs = { kind, dir, image, device, mountPoint };
  made.push(fs);
  return fs;
}

/** Unmounts (lazily if still busy), detaches and deletes every loop filesystem this file made. */
export function removeLoopFilesystems(): void {
  for (const fs of made.splice(0)) {
    for (const m of mountsAtOrBelow(fs.dir).sort((a, b) => b.mountPoint.length - a.mountPoint.length)) {
      if (spawnSync('umount', [m.mountPoint]).status !== 0) spawnSync('umount', ['-l', m.mountPoint]);
    }
    // Only the device attached to our image: another test's loop device is never touched.
    for (const line of run('losetup', ['-j', fs.image]).split('\n').filter(Boolean)) spawnSync('losetup', ['-d', line.split(':')[0]!]);
    rmSync(fs.dir, { recursive: true, force: true });
  }
}

/** Mounts below, or loop devices attached to, the images of `filesystems`: should be none. */
export function leftovers(filesystems: readonly LoopFs[]): string[] {
  const out: string[] = [];
  for (const fs of filesystems) {
    out.push(...mountsAtOrBelow(fs.dir).map((m) => `mounted: ${m.mountPoint}`));
    if (existsSync(fs.image)) out.push(...run('losetup', ['-j', fs.image]).split('\n').filter(Boolean).map((l) => `attached: ${l}`));
  }
  return out;
}

/** `CONFIG_X` of the running kernel: 'y', 'm', 'n' (not set), or null when the config is not readable. */
export function kernelConfig(option: string): 'y' | 'm' | 'n' | null {
  let text: string;
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return null;
  }
  const m = new RegExp(`^(?:${option}=([ym])|# ${option} is not set)$`, 'm').exec(text);
  if (!m) return 'n';
  return m[1] === 'y' || m[1] === 'm' ? m[1] : 'n';
}

/**
 * Why this kernel cannot enforce project quotas on `kind`, proven from its configuration, or null
 * when it should (then any failure is a real one). Stock distribution kernels (the VM's) can.
 */
export function kernelLacksProjectQuota(kind: LoopKind): string | null {
  const needed = kind === 'xfs' ? ['CONFIG_XFS_QUOTA'] : ['CONFIG_QUOTA', 'CONFIG_QFMT_V2'];
  const missing = needed.filter((o) => kernelConfig(o) === 'n');
  return missing.length ? `this kernel (${run('uname', ['-r'])}) is built without ${missing.join(' and ')}` : null;
}
