// Gathers the facts support.ts judges, from the kernel: statfs for the filesystem type, the mount
// from /proc/self/mountinfo (matched by device number, longest mount point first), the ext4 super
// block's feature bits, and quotactl for the quota state. Reads only.

import { closeSync, existsSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { isCorralError, isSyscallError } from '../../../errors.js';
import { quotaFormat, quotaStateFlags, type QuotaTarget } from '../../../sys/quota.js';
import { fsMagicName, statfsType } from '../../../sys/statfs.js';
import { layout } from '../../../state/layout.js';
import { asSyscallError } from '../fs-util.js';
import { readMountinfo, type MountEntry } from '../mountinfo.js';
import { projectQuota, type ProjectQuota } from './backend.js';
import { judgeQuotaSupport, type FilesystemFacts, type Probed, type QuotaFacts, type QuotaSupport } from './support.js';

export interface QuotaProbe {
  readonly support: QuotaSupport;
  /** The filesystem's project quotas; null when it cannot enforce them. */
  readonly quota: ProjectQuota | null;
}

/** The directory whose filesystem holds the writable layers: containers/, or its nearest parent. */
function probedPath(root: string): string {
  let p = layout(root).containersDir;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return realpathSync(p);
}

/** st_dev as `major:minor` (the kernel's encoding: 12 bits of major, 20 of minor, split). */
export function deviceNumber(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** The mount `path` lives on: same device, longest mount point that is a prefix of it. */
export function mountOf(path: string, device: string, entries: readonly MountEntry[]): MountEntry | null {
  let best: MountEntry | null = null;
  for (const m of entries) {
    if (m.device !== device) continue;
    const inside = m.mountPoint === '/' || path === m.mountPoint || path.startsWith(`${m.mountPoint}/`);
    if (inside && (best === null || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

function probe<T>(call: () => T): Probed<T> {
  try {
    return { ok: true, value: call() };
  } catch (err) {
    if (isSyscallError(err)) return { ok: false, errno: err.errnoName };
    throw err;
  }
}

/** The block device node behind a mount, when this namespace has it and it is that device. */
function deviceNode(source: string, dev: bigint): string | null {
  if (!source.startsWith('/')) return null;
  try {
    const st = lstatSync(source, { bigint: true });
    return st.isBlockDevice() && st.rdev === dev ? source : null;
  } catch {
    return null;
  }
}

const EXT4_SUPER_OFFSET = 1024;
const EXT4_MAGIC = 0xef53;
const RO_COMPAT_QUOTA = 0x100;
const RO_COMPAT_PROJECT = 0x2000;

/** The `project` and `quota` feature bits of an ext4 super block; null when unreadable. */
export function ext4Features(device: string): { project: boolean; quota: boolean } | null {
  let fd: number;
  try {
    fd = openSync(device, 'r');
  } catch {
    return null;
  }
  try {
    const sb = Buffer.alloc(1024);
    if (readSync(fd, sb, 0, sb.length, EXT4_SUPER_OFFSET) !== sb.length || sb.readUInt16LE(0x38) !== EXT4_MAGIC) return null;
    const roCompat = sb.readUInt32LE(0x64);
    return { project: (roCompat & RO_COMPAT_PROJECT) !== 0, quota: (roCompat & RO_COMPAT_QUOTA) !== 0 };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

export function probeQuotaSupport(root: string, mounts: () => readonly MountEntry[] = readMountinfo): QuotaProbe {
  let path: string;
  let type: string;
  let dev: bigint;
  try {
    path = probedPath(root);
    type = fsMagicName(statfsType(path));
    dev = statSync(path, { bigint: true }).dev;
  } catch (err) {
    throw asSyscallError(err, `inspect the filesystem of state root \`${root}\``);
  }
  const mount = mountOf(path, deviceNumber(dev), mounts());
  const fs: FilesystemFacts = { path, type, mountPoint: mount?.mountPoint ?? null, source: mount?.source ?? null, options: mount?.superOptions ?? null };
  const node = mount ? deviceNode(mount.source, dev) : null;
  // Without a usable device node (`/dev/root`, or no /dev entry in this namespace), quotactl_fd
  // reaches the same filesystem through a directory on it.
  const target: QuotaTarget = node ? { kind: 'device', device: node } : { kind: 'fd', path };
  let facts: QuotaFacts = { fs };
  if (type === 'xfs') facts = { fs, stateFlags: probe(() => quotaStateFlags(target)) };
  if (type === 'ext4') {
    facts = {
      fs,
      ext4Features: node ? ext4Features(node) : null,
      projectFormat: probe(() => quotaFormat(target, 'PRJQUOTA')),
      stateFlags: probe(() => quotaStateFlags(target)),
    };
  }
  const support = judgeQuotaSupport(facts);
  return { support, quota: support.available ? projectQuota(support.kind, target) : null };
}

/** For `corral info`: the answer alone; a filesystem that cannot even be inspected says why. */
export function storageLimitSupport(root: string): QuotaSupport {
  try {
    return probeQuotaSupport(root).support;
  } catch (err) {
    if (!isCorralError(err)) throw err;
    const fs: FilesystemFacts = { path: root, type: 'unknown', mountPoint: null, source: null, options: null };
    return { available: false, fs, reason: err.summary, hint: 'check that the state root (--root) is readable' };
  }
}
