// Mounting a RootfsLayout from TypeScript: the same steps the shim performs inside a container's
// new mount namespace (overlay, then the layout's binds, then the read-only remount), for tests,
// the bench and debugging. The agent never calls this on the host's mount table
// (docs/architecture.md, "Mounts"): run it inside a private mount namespace
// (`unshare -m --propagation private`) or unmount in a finally block.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, isSyscallError } from '../../errors.js';
import { MS, mount, mountWithFsApi, umount2, MNT } from '../../sys/mount.js';
import { FS_MAGIC, statfsType } from '../../sys/statfs.js';
import { mountsAtOrBelow, readMountinfo } from './mountinfo.js';
import { overlayFsconfigOptions, overlayMountData, preferredOverlayApi, type OverlayMountApi } from './overlay-options.js';
import type { BindSpec, RootfsLayout } from './rootfs-layout.js';

function mountFailed(layout: RootfsLayout, what: string, cause: unknown): CorralError {
  const lower = layout.lower.length <= 3 ? layout.lower.map((l) => `\`${l}\``).join(', ') : `${layout.lower.length} layers, top \`${layout.lower[0]}\``;
  return new CorralError('OVERLAY_MOUNT_FAILED', `${what} on \`${layout.target}\` failed: ${(cause as Error).message}`, {
    detail: `lower ${lower}; upper \`${layout.upper}\`; work \`${layout.work}\``,
    cause,
  });
}

function bindFlags(bind: BindSpec): number {
  let flags = MS.BIND | MS.REMOUNT;
  if (bind.readOnly) flags |= MS.RDONLY;
  for (const o of bind.options ?? []) flags |= o === 'nosuid' ? MS.NOSUID : o === 'nodev' ? MS.NODEV : MS.NOEXEC;
  return flags;
}

/**
 * Mounts the overlay and the layout's binds on `layout.target`. Idempotent: an overlay already
 * mounted there is left as it is.
 */
export function ensureMounted(layout: RootfsLayout, api: OverlayMountApi = preferredOverlayApi()): void {
  // statfs first: reading mountinfo costs O(mounts), and the usual answer is "not mounted".
  if (statfsType(layout.target) === FS_MAGIC.OVERLAYFS && readMountinfo().some((m) => m.mountPoint === layout.target && m.fstype === 'overlay')) return;
  try {
    if (api === 'fsconfig') mountWithFsApi('overlay', layout.target, overlayFsconfigOptions(layout));
    else mount({ source: 'overlay', target: layout.target, fstype: 'overlay', flags: 0, data: overlayMountData(layout) });
  } catch (err) {
    if ((err as CorralError).code === 'OVERLAY_UNSUPPORTED') throw err;
    throw mountFailed(layout, `mount overlay (${api === 'fsconfig' ? 'fsconfig, lowerdir+' : 'mount(2)'})`, err);
  }
  try {
    for (const bind of layout.binds) {
      const at = join(layout.target, bind.target);
      mkdirSync(at, { recursive: true });
      mount({ source: bind.source, target: at, fstype: null, flags: MS.BIND | MS.REC });
      // Bind flags only take effect on a remount (mount(2): MS_BIND ignores MS_RDONLY).
      const flags = bindFlags(bind);
      if (flags !== (MS.BIND | MS.REMOUNT)) mount({ source: null, target: at, fstype: null, flags });
    }
    if (layout.readOnly) mount({ source: null, target: layout.target, fstype: null, flags: MS.REMOUNT | MS.RDONLY });
  } catch (err) {
    unmount(layout);
    throw mountFailed(layout, 'binds and read-only remount', err);
  }
}

/** Unmounts everything at or below the target, deepest first. Idempotent. */
export function unmount(layout: Pick<RootfsLayout, 'target'>): void {
  const mounted = mountsAtOrBelow(layout.target).map((m) => m.mountPoint).sort((a, b) => b.length - a.length);
  for (const point of mounted) {
    try {
      umount2(point);
    } catch (err) {
      if (isSyscallError(err, 'EINVAL') || isSyscallError(err, 'ENOENT')) continue;
      if (isSyscallError(err, 'EBUSY')) {
        // Something still has a file open in there: detach now, the kernel frees it when released.
        umount2(point, MNT.DETACH);
        continue;
      }
      throw new CorralError('OVERLAY_MOUNT_FAILED', `unmount \`${point}\` failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
