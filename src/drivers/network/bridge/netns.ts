// A container's network namespace as a file: a bind mount of the namespace under the state root
// (`network/ns/<name>`), made before the container starts so the driver can wire it, joined by the
// runtime, and removed with the container. The veth's host end is deleted by name as well: a copy
// of the mount held by some other mount namespace would keep the namespace (and the veth) alive.

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { MNT, umount2 } from '../../../sys/mount.js';

function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Mount points under `dir` in corral's mount namespace. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => unescapeMountinfo(line.split(' ')[4] ?? ''))
    .filter((point) => point.startsWith(`${dir}/`));
}

/** Clears the way for a new namespace file (src/sys/net-namespace.ts makes it): an old one goes. */
export function prepareNetnsFile(file: string): void {
  removeNetns(file);
  mkdirSync(file.slice(0, file.lastIndexOf('/')), { recursive: true, mode: 0o700 });
}

/** Unmounts (every stacked mount) and deletes the file. Idempotent. */
export function removeNetns(file: string): void {
  for (let i = 0; i < 8 && mountsUnder(file.slice(0, file.lastIndexOf('/'))).includes(file); i++) {
    umount2(file, MNT.DETACH);
  }
  if (existsSync(file)) rmSync(file, { force: true });
}
