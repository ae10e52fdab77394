// Shared by the overlay driver tests: temp state roots that always go away (mounts first), and
// small assertions about what a directory holds.

import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmount } from '../../../src/drivers/overlay/mount-rootfs.js';
import { mountsAtOrBelow } from '../../../src/drivers/overlay/mountinfo.js';
import { tarBytes, tarGz, type TarSpec } from '../../support/oci-tar.js';

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `corral-${label}-`));
}

/** Unmounts whatever a test left mounted below `dir` (deepest first), then deletes it. */
export function cleanup(dir: string): void {
  for (const m of mountsAtOrBelow(dir).sort((a, b) => b.mountPoint.length - a.mountPoint.length)) unmount({ target: m.mountPoint });
  rmSync(dir, { recursive: true, force: true });
}

export function writeTar(dir: string, name: string, entries: readonly TarSpec[], gzip = false): string {
  const path = join(dir, name);
  writeFileSync(path, gzip ? tarGz(entries) : tarBytes(entries));
  return path;
}

/** Every path below `dir`, relative, sorted ('' when empty). */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if (lstatSync(join(dir, r)).isDirectory()) walk(r);
    }
  };
  try {
    walk('');
  } catch {
    return [];
  }
  return out.sort();
}

/** The error `fn` throws, or undefined: for asserting on codes and messages of a failure. */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
