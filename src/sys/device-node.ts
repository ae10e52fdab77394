// What a host device node is: its type and numbers, read with stat(2) (symlinks followed, as the
// bind mount that brings it into a container follows them).

import { statSync } from 'node:fs';
import { CorralError } from '../errors.js';

export interface DeviceNode {
  readonly type: 'c' | 'b';
  readonly major: number;
  readonly minor: number;
}

/** glibc's major()/minor() on a 64-bit dev_t. */
export function splitDev(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n)),
  };
}

/** Throws MOUNT_SOURCE_MISSING when `path` does not exist or is not a device node. */
export function statDeviceNode(path: string): DeviceNode {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (cause) {
    throw new CorralError('MOUNT_SOURCE_MISSING', `device \`${path}\` does not exist on this host`, { cause });
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) {
    throw new CorralError('MOUNT_SOURCE_MISSING', `\`${path}\` is not a device node`, { hint: 'spec.devices takes character or block devices under /dev' });
  }
  return { type: st.isCharacterDevice() ? 'c' : 'b', ...splitDev(st.rdev) };
}
