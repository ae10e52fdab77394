// The overlayfs pitfalls corral checks before it hands a layout to the runtime, each with the
// reason the kernel would give (or worse, would not give). Documented, not checked:
// - copy-up copies a whole file on its first write, however large (a 1 GB database file costs 1 GB
//   and the time to copy it; put such data on a volume);
// - hard links break on copy-up: writing through one name copies the file up and the other names
//   keep the old content (overlayfs `index=off`, the kernel default);
// - changing a lower directory while an overlay using it is mounted is undefined behaviour: layers
//   are immutable once imported, and a `rootfs.path` directory must not change under a running container.

import { statSync } from 'node:fs';
import { CorralError } from '../../errors.js';
import { FS_MAGIC, fsMagicName, statfsType } from '../../sys/statfs.js';
import { asSyscallError } from './fs-util.js';
import { MAX_LAYERS } from './images/oci-layout.js';

// Filesystems that cannot hold an overlay upper (no whiteouts, no trusted xattrs, or no stable
// inode semantics), with the reason shown to the user.
const BAD_UPPER: ReadonlyMap<number, string> = new Map([
  [FS_MAGIC.OVERLAYFS, 'overlayfs cannot be the upper layer of another overlay (no whiteouts or trusted xattrs on its own files)'],
  [FS_MAGIC.NFS, 'NFS has no trusted xattrs or whiteouts, so deletions and opaque directories cannot be recorded'],
  [0xff534d42, 'CIFS/SMB has no trusted xattrs or whiteouts'],
  [0xfe534d42, 'SMB2 has no trusted xattrs or whiteouts'],
]);

/** Why a filesystem cannot hold an upper layer, or null when it can. Pure. */
export function upperFilesystemProblem(magic: number): string | null {
  return BAD_UPPER.get(magic) ?? null;
}

export function checkUpperFilesystem(upper: string, container?: string): void {
  let magic: number;
  try {
    magic = statfsType(upper);
  } catch (err) {
    throw asSyscallError(err);
  }
  const problem = upperFilesystemProblem(magic);
  if (problem) {
    throw new CorralError('OVERLAY_UNSUPPORTED', `upper directory \`${upper}\` is on ${fsMagicName(magic)}`, {
      detail: problem,
      hint: 'put the state root (--root) on a local filesystem such as ext4, xfs, btrfs or tmpfs',
      ...(container === undefined ? {} : { container }),
    });
  }
}

/** overlayfs renames between upper and work, which only works on one filesystem. */
export function checkSameFilesystem(upper: string, work: string, container?: string): void {
  const [a, b] = [upper, work].map((p) => {
    try {
      return statSync(p).dev;
    } catch (err) {
      throw asSyscallError(err, `inspect \`${p}\``);
    }
  });
  if (a !== b) {
    throw new CorralError('OVERLAY_UNSUPPORTED', `upper \`${upper}\` and work \`${work}\` are on different filesystems`, {
      detail: 'overlayfs moves files from the work directory into the upper one with rename(2), which cannot cross filesystems',
      hint: 'unmount whatever is mounted on one of them; both live under the container directory',
      ...(container === undefined ? {} : { container }),
    });
  }
}

export function checkLowerCount(count: number, container?: string): void {
  if (count > MAX_LAYERS) {
    throw new CorralError('OVERLAY_UNSUPPORTED', `${count} lower layers: overlayfs stacks at most ${MAX_LAYERS}`, container === undefined ? {} : { container });
  }
}

/** fsconfig(2) copies each string option with a 256-byte limit (including the NUL). */
export const FSCONFIG_MAX_VALUE = 255;

export function checkOverlayPath(path: string, what: string): void {
  if (Buffer.byteLength(path) > FSCONFIG_MAX_VALUE) {
    throw new CorralError('OVERLAY_UNSUPPORTED', `${what} \`${path}\` is longer than ${FSCONFIG_MAX_VALUE} bytes`, {
      detail: 'the kernel takes each overlay directory as one fsconfig(2) string of at most 255 bytes',
      hint: 'use a shorter state root (--root)',
    });
  }
}
