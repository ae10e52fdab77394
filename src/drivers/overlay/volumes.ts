// Named volumes: <root>/volumes/<name>/data, created on first use, kept across restarts and
// recreates, removed only by `corral volume rm` (refused while in use). The shim bind-mounts the
// data directory; this module only owns the directories.

import { chmodSync, chownSync, closeSync, constants, existsSync, readdirSync, renameSync, rmSync, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../errors.js';
import { layout } from '../../state/layout.js';
import { pidAlive } from '../../sys/proc.js';
import { asSyscallError, diskUsage, ensureDir, errnoCode, fsStep, listDir, removeTree } from './fs-util.js';
import { directoriesInUse } from './mount-usage.js';

const VOLUME_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkName(name: string): void {
  if (!VOLUME_NAME.test(name)) {
    throw new CorralError('VOLUME_INVALID', `volume name \`${name}\` is not a DNS label`, { detail: 'lower-case letters, digits and `-`, at most 63 characters, starting and ending with a letter or digit' });
  }
}

/**
 * The volume's data directory on the host, created 0755 when missing: owned by `initialOwner`
 * (the container's user, so a non-root service can write a new volume out of the box), root
 * otherwise. Made under a temporary name and renamed into place, so a crash never leaves a new
 * volume with the wrong owner. Idempotent: an existing volume is never chowned here.
 */
export function ensureVolume(root: string, name: string, initialOwner: { readonly uid: number; readonly gid: number } | null = null): string {
  checkName(name);
  const l = layout(root);
  ensureDir(l.volumesDir);
  ensureDir(join(l.volumesDir, name));
  const data = l.volume(name);
  // What a create killed half-way left: removed once its writer is gone.
  for (const e of readdirSync(join(l.volumesDir, name))) {
    const m = /^data\.new-(\d+)$/.exec(e);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(l.volumesDir, name, e), { recursive: true, force: true });
  }
  if (!existsSync(data)) {
    const temp = `${data}.new-${process.pid}`;
    fsStep(`create volume \`${name}\``, () => {
      rmSync(temp, { recursive: true, force: true });
      mkdirSync(temp, { mode: 0o755 });
      chmodSync(temp, 0o755);
      if (initialOwner) chownSync(temp, initialOwner.uid, initialOwner.gid);
      renameSync(temp, data);
    });
  }
  const st = lstatSync(data);
  if (!st.isDirectory()) throw new CorralError('VOLUME_INVALID', `volume \`${name}\`: \`${data}\` is not a directory`, { hint: 'corral did not create it; move it away' });
  return data;
}

/** What a mount asks of a volume's top directory: ids as the container sees them, permission bits. */
export interface VolumeAccess {
  readonly owner: { readonly uid: number; readonly gid: number } | null;
  readonly mode: number | null;
}

/**
 * Gives the volume's data directory the owner and mode a mount asks for (null: left as it is), at
 * every start. Through a descriptor opened with O_NOFOLLOW|O_DIRECTORY: a symlink put in place of
 * the directory is refused, never followed to what it points at. Nothing is changed when the
 * directory already has them.
 *
 * The ids are the container's own and are set unchanged: with a user namespace the volume is bound
 * idmapped through the container's namespace, so host id n shows as n inside.
 */
export function applyVolumeAccess(path: string, name: string, access: VolumeAccess): void {
  if (access.owner === null && access.mode === null) return;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      throw new CorralError('VOLUME_INVALID', `volume \`${name}\`: \`${path}\` is not a directory`, { hint: 'corral did not create it; move it away' });
    }
    throw asSyscallError(err, `open volume \`${name}\``);
  }
  try {
    const st = fstatSync(fd);
    if (access.owner && (st.uid !== access.owner.uid || st.gid !== access.owner.gid)) {
      fsStep(`set the owner of volume \`${name}\``, () => fchownSync(fd, access.owner!.uid, access.owner!.gid));
    }
    // After the chown, so a chown never leaves other bits than the ones asked for.
    if (access.mode !== null && (fstatSync(fd).mode & 0o7777) !== access.mode) {
      const mode = access.mode;
      fsStep(`set the mode of volume \`${name}\``, () => fchmodSync(fd, mode));
    }
  } finally {
    closeSync(fd);
  }
}

export interface VolumeInfo {
  readonly name: string;
  readonly path: string;
  /** Disk usage; null when not measured. */
  readonly bytes: number | null;
  readonly createdAt: string;
}

export function listVolumes(root: string, options: { usage?: boolean } = {}): VolumeInfo[] {
  const l = layout(root);
  const out: VolumeInfo[] = [];
  for (const name of listDir(l.volumesDir)) {
    if (!VOLUME_NAME.test(name)) continue;
    const path = l.volume(name);
    try {
      const st = statSync(path);
      out.push({ name, path, bytes: options.usage ? diskUsage(path) : null, createdAt: st.birthtime.getTime() > 0 ? st.birthtime.toISOString() : st.ctime.toISOString() });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw asSyscallError(err, `inspect volume \`${name}\``);
    }
  }
  return out;
}

/** Container names using a volume, by the reconciler's account. */
export type VolumeUsers = (name: string) => readonly string[];

/**
 * Deletes a volume and its data. Refused while `users` names a container, or while any mount
 * namespace on the host still has it mounted (a container the state store forgot).
 */
export function removeVolume(root: string, name: string, users: VolumeUsers = () => []): { bytes: number } {
  checkName(name);
  const l = layout(root);
  const dir = join(l.volumesDir, name);
  try {
    lstatSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new CorralError('VOLUME_NOT_FOUND', `no volume \`${name}\` exists`);
    throw asSyscallError(err);
  }
  const using = users(name);
  if (using.length) {
    throw new CorralError('VOLUME_IN_USE', `volume \`${name}\` is used by ${using.map((n) => `\`${n}\``).join(', ')}`, { hint: 'remove those containers or their volume mounts first' });
  }
  const mounted = directoriesInUse([l.volume(name)]).get(l.volume(name));
  if (mounted) {
    throw new CorralError('VOLUME_IN_USE', `volume \`${name}\` is mounted by a running process`, { detail: `mounted at ${mounted.join(', ')} (in a container's mount namespace)` });
  }
  const bytes = diskUsage(dir);
  removeTree(dir);
  return { bytes };
}
