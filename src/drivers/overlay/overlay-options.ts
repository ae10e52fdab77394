// How a RootfsLayout becomes overlay mount options, for whoever performs the mount (the shim
// inside the container's mount namespace; tests and the bench on a private namespace).
//
// Many layers: mount(2) takes all options as one string of at most a page (4095 bytes + NUL), so
// 200 layers under /var/lib/corral/layers/sha256-… (~90 bytes each) cannot be passed that way.
// The new mount API takes options one fsconfig(2) call at a time, but each string is capped at
// 255 bytes, so one long `lowerdir=` does not fit either. Kernel 6.8 added `lowerdir+`: one
// fsconfig call per layer, no length limit on the stack and no escaping. corral uses it when the
// kernel has it, and mount(2) with one string otherwise (refusing up front when it cannot fit).

import { CorralError } from '../../errors.js';
import { kernelAtLeast } from '../../sys/uname.js';
import { checkOverlayPath } from './pitfalls.js';
import type { RootfsLayout } from './rootfs-layout.js';

export const MOUNT_DATA_MAX = 4095;

export type OverlayMountApi = 'fsconfig' | 'mount2';

/** `lowerdir+` needs Linux 6.8. */
export function preferredOverlayApi(): OverlayMountApi {
  return kernelAtLeast(6, 8) ? 'fsconfig' : 'mount2';
}

type Dirs = Pick<RootfsLayout, 'lower' | 'upper' | 'work'>;

/** fsconfig(2) options: one `lowerdir+` per layer, top first, then upper and work. */
export function overlayFsconfigOptions(layout: Dirs): Array<[string, string | null]> {
  layout.lower.forEach((l, i) => checkOverlayPath(l, `lower layer ${i}`));
  checkOverlayPath(layout.upper, 'upper directory');
  checkOverlayPath(layout.work, 'work directory');
  return [...layout.lower.map((l): [string, string] => ['lowerdir+', l]), ['upperdir', layout.upper], ['workdir', layout.work]];
}

/** Characters the legacy option string treats as separators or escapes. */
const SPECIAL = /[,:\\]/;

/** The mount(2) data string; throws OVERLAY_UNSUPPORTED when it cannot be expressed in one page. */
export function overlayMountData(layout: Dirs): string {
  for (const p of [...layout.lower, layout.upper, layout.work]) {
    if (SPECIAL.test(p)) {
      throw new CorralError('OVERLAY_UNSUPPORTED', `overlay directory \`${p}\` contains \`,\`, \`:\` or \`\\\`, which mount(2) option strings cannot carry`, { hint: 'use a state root (--root) without those characters' });
    }
  }
  const data = `lowerdir=${layout.lower.join(':')},upperdir=${layout.upper},workdir=${layout.work}`;
  const bytes = Buffer.byteLength(data);
  if (bytes > MOUNT_DATA_MAX) {
    throw new CorralError('OVERLAY_UNSUPPORTED', `overlay options for ${layout.lower.length} layers take ${bytes} bytes; mount(2) accepts at most ${MOUNT_DATA_MAX}`, {
      detail: 'the layer list does not fit in one page',
      hint: 'Linux 6.8 or later mounts any number of layers with `lowerdir+` through the new mount API',
    });
  }
  return data;
}
