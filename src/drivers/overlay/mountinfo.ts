// Which mount points this process's mount namespace has at or below a path. Deleting a directory
// tree with something mounted inside would delete through the mount (a bound /usr, a volume), so
// every recursive removal in this driver asks here first.

import { readFileSync } from 'node:fs';

export interface MountEntry {
  /** `major:minor` of the filesystem (st_dev of its files). */
  readonly device: string;
  readonly mountPoint: string;
  /** Per-mount options (`rw,nosuid,relatime`). */
  readonly mountOptions: string;
  readonly fstype: string;
  readonly source: string;
  readonly superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    out.push({ device: fields[2]!, mountPoint: unescape(fields[4]!), mountOptions: fields[5]!, fstype: fields[dash + 1]!, source: unescape(fields[dash + 2]!), superOptions: fields[dash + 3]! });
  }
  return out;
}

export function readMountinfo(): MountEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** Mount points equal to `path` or below it, in this mount namespace. */
export function mountsAtOrBelow(path: string, entries: readonly MountEntry[] = readMountinfo()): MountEntry[] {
  const prefix = path.endsWith('/') ? path : `${path}/`;
  return entries.filter((m) => m.mountPoint === path || m.mountPoint.startsWith(prefix));
}
