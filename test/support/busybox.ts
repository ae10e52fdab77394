// A busybox root filesystem for kernel tests: the static busybox of the Debian package
// busybox-static (`apt-get install -y busybox-static`) with its applets as symlinks, and the
// directories a container needs. Used as the single lower layer of an overlay.

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RootfsLayout } from '../../src/drivers/overlay/rootfs-layout.js';

export const BUSYBOX = '/bin/busybox';

export function haveStaticBusybox(): boolean {
  if (!existsSync(BUSYBOX)) return false;
  try {
    return !execFileSync('file', ['-L', BUSYBOX], { encoding: 'utf8' }).includes('dynamically linked');
  } catch {
    // No `file` tool: the Debian package path is the static build.
    return true;
  }
}

/** Builds the rootfs in `dir` (created if missing). */
export function buildBusyboxRootfs(dir: string): string {
  if (!haveStaticBusybox()) throw new Error(`a static busybox is needed at ${BUSYBOX}: apt-get install -y busybox-static`);
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var', 'run', 'home']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  // Our own links to /bin/busybox, where the copy sits inside the container (`--install -s`
  // would point them at the host's resolved path).
  for (const applet of execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('/bin/busybox', join(dir, 'bin', applet));
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc/hostname'), 'image\n');
  return dir;
}

export interface TestRootfs {
  /** The state root (mkdtemp, `corral` in the name). */
  readonly root: string;
  readonly lower: string;
  layout(name: string, opts?: { readOnly?: boolean; binds?: RootfsLayout['binds'] }): RootfsLayout & { readonly shim: string; readonly logs: string };
  cleanup(): void;
}

/** A temp state root with one busybox lower layer and per-container upper/work/rootfs/shim/logs. */
export function makeTestRootfs(): TestRootfs {
  const root = mkdtempSync(join(tmpdir(), 'corral-ns-'));
  // Traversable by the mapped root of a user namespace (mkdtemp makes it 0700).
  chmodSync(root, 0o755);
  const lower = buildBusyboxRootfs(join(root, 'lower'));
  return {
    root,
    lower,
    layout(name, opts = {}) {
      const dir = join(root, 'containers', name);
      const paths = { upper: join(dir, 'upper'), work: join(dir, 'work'), target: join(dir, 'rootfs'), shim: join(dir, 'shim'), logs: join(dir, 'logs') };
      for (const p of Object.values(paths)) mkdirSync(p, { recursive: true });
      return { lower: [lower], ...paths, binds: opts.binds ?? [], readOnly: opts.readOnly ?? false };
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
