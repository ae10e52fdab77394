// A container's network namespace as a file: a bind mount of the namespace under the state root
// (`network/ns/<name>`), made before the container starts so the driver can wire it, joined by the
// runtime, and removed with the container. The veth's host end is deleted by name as well: a copy
// of the mount held by some other mount namespace would keep the namespace (and the veth) alive.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { MNT, umount2 } from '../../../sys/mount.js';
import { run } from './tools.js';

function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Mount points under `dir` in corral's mount namespace. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => unescapeMountinfo(line.split(' ')[4] ?? ''))
    .filter((point) => point.startsWith(`${dir}/`));
}

/**
 * Makes the namespace file and runs `ip -batch` (the lines) inside the new namespace, in one
 * process: `unshare --net=FILE ip -batch -`.
 */
export async function createNetns(file: string, lines: readonly string[], signal: AbortSignal): Promise<void> {
  removeNetns(file);
  mkdirSync(file.slice(0, file.lastIndexOf('/')), { recursive: true, mode: 0o700 });
  writeFileSync(file, '', { mode: 0o600 });
  await run('unshare', [`--net=${file}`, 'ip', '-batch', '-'], `${lines.join('\n')}\n`, signal, 'create and configure the network namespace');
}

/** Unmounts (every stacked mount) and deletes the file. Idempotent. */
export function removeNetns(file: string): void {
  for (let i = 0; i < 8 && mountsUnder(file.slice(0, file.lastIndexOf('/'))).includes(file); i++) {
    umount2(file, MNT.DETACH);
  }
  if (existsSync(file)) rmSync(file, { force: true });
}
