// Reading files out of a container root is a security boundary: the root is written by the
// container, corral reads it as root on the host. Each defence of src/sys/open-in-root.ts is
// tried here with the attack it stops, in a fake container root that also plants those attacks.

import { spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { hasCode, isSyscallError } from '../../src/errors.js';
import { MNT, MS, mount, umount2 } from '../../src/sys/mount.js';
import { lstatInRoot, lstatInRootFd, openRootFd, readFileInRoot, readFileInRootFd } from '../../src/sys/open-in-root.js';
import { FS_MAGIC, statfsType } from '../../src/sys/statfs.js';
import { isRoot, requireRoot } from '../support/root.js';

const MiB = 1024 * 1024;
const FAKE_HOSTNAME = 'fake-root-hostname-7f3a\n';
const HOST_SECRET = 'host-secret-9c21\n';

let base: string;
/** The fake container root. */
let root: string;
/** A file of the "host", outside the root, that no lookup inside the root may reach. */
let hostSecret: string;
/** The host's /proc bind-mounted at root/proc (as root only): a running container has a procfs there. */
let procMounted = false;

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

/** The errno behind a refusal: ELOOP proves RESOLVE_NO_MAGICLINKS stopped it (RESOLVE_IN_ROOT alone says EXDEV). */
const causeErrno = (err: unknown): string | null => {
  const cause = err instanceof Error ? err.cause : undefined;
  return isSyscallError(cause) ? cause.errnoName : null;
};

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'corral-openroot-'));
  root = join(base, 'root');
  hostSecret = join(base, 'host-secret');
  writeFileSync(hostSecret, HOST_SECRET);
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'proc'));
  writeFileSync(join(root, 'etc/hostname'), FAKE_HOSTNAME);
  writeFileSync(join(root, 'etc/os-release'), 'ID=fake\n');
  // Symlinks a container may plant, aimed at the host.
  symlinkSync('/etc/hostname', join(root, 'etc/passwd'));
  symlinkSync('../../../../etc/hostname', join(root, 'etc/passwd-rel'));
  symlinkSync(hostSecret, join(root, 'etc/secret-abs'));
  symlinkSync(`../../../../../../../../../..${hostSecret}`, join(root, 'etc/secret-rel'));
  symlinkSync(base, join(root, 'etc/hostdir'));
  symlinkSync(`/proc/self/root${hostSecret}`, join(root, 'etc/shadow'));
  symlinkSync('/proc/self/root/etc/hostname', join(root, 'etc/shadow-hostname'));
  symlinkSync('loop-b', join(root, 'etc/loop-a'));
  symlinkSync('loop-a', join(root, 'etc/loop-b'));
  execFileSync('mkfifo', [join(root, 'etc/group')]);
  writeFileSync(join(root, 'big'), Buffer.alloc(2 * MiB, 0x61));
  if (isRoot()) {
    execFileSync('mknod', [join(root, 'etc/whiteout'), 'c', '0', '0']);
    mount({ source: '/proc', target: join(root, 'proc'), fstype: null, flags: MS.BIND });
    procMounted = true;
  }
});

afterAll(() => {
  if (!base) return;
  const proc = join(root, 'proc');
  if (procMounted) umount2(proc, MNT.DETACH);
  // Never let a recursive delete walk into the host's /proc.
  if (statfsType(proc) === FS_MAGIC.PROC) throw new Error(`${proc} is still a procfs mount: not removing ${base}`);
  rmSync(base, { recursive: true, force: true });
});

describe('readFileInRoot', () => {
  test('reads a regular file, by absolute or relative path', () => {
    expect(text(readFileInRoot(root, '/etc/hostname', MiB))).toBe(FAKE_HOSTNAME);
    expect(text(readFileInRoot(root, 'etc/hostname', MiB))).toBe(FAKE_HOSTNAME);
    expect(text(readFileInRoot(root, '/etc/os-release', 8))).toBe('ID=fake\n');
  });

  test('a missing file, a missing directory on the way, or a path through a file is null', () => {
    expect(readFileInRoot(root, '/etc/nothing', MiB)).toBeNull();
    expect(readFileInRoot(root, '/nothing/passwd', MiB)).toBeNull();
    expect(readFileInRoot(root, '/etc/passwd/x', MiB)).toBeNull();
    expect(readFileInRoot(root, '/etc/hostname/x', MiB)).toBeNull();
  });

  test('an absolute symlink to a host file reads the root\'s own file', () => {
    expect(text(readFileInRoot(root, '/etc/passwd', MiB))).toBe(FAKE_HOSTNAME);
  });

  test('a relative symlink climbing out with `..` reads the root\'s own file', () => {
    expect(text(readFileInRoot(root, '/etc/passwd-rel', MiB))).toBe(FAKE_HOSTNAME);
  });

  test('symlinks and `..` aimed at a host file the root does not have are null, never the host file', () => {
    expect(readFileSync(hostSecret, 'utf8')).toBe(HOST_SECRET);
    expect(readFileInRoot(root, '/etc/secret-abs', MiB)).toBeNull();
    expect(readFileInRoot(root, '/etc/secret-rel', MiB)).toBeNull();
    expect(readFileInRoot(root, '/etc/hostdir/host-secret', MiB)).toBeNull();
    expect(readFileInRoot(root, '../host-secret', MiB)).toBeNull();
    expect(readFileInRoot(root, '/../../../../../..' + hostSecret, MiB)).toBeNull();
  });

  test('a symlink through a /proc magic link is refused, never read', () => {
    if (!requireRoot()) return;
    for (const path of ['/etc/shadow', '/etc/shadow-hostname', `/proc/self/root${hostSecret}`, `/proc/${process.pid}/cwd`]) {
      const err = thrown(() => readFileInRoot(root, path, MiB));
      expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
      expect(String(err)).toContain('magic link');
      expect(causeErrno(err)).toBe('ELOOP');
    }
    // An fd of the host's file, reached through /proc/self/fd.
    const fd = openSync(hostSecret, 'r');
    try {
      const err = thrown(() => readFileInRoot(root, `/proc/self/fd/${fd}`, MiB));
      expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
      expect(causeErrno(err)).toBe('ELOOP');
    } finally {
      closeSync(fd);
    }
  });

  test('a mount inside the root is crossed (a container has /proc, /sys… mounted): no RESOLVE_NO_XDEV', () => {
    if (!requireRoot()) return;
    expect(text(readFileInRoot(root, '/proc/version', MiB))).toBe(readFileSync('/proc/version', 'utf8'));
  });

  test('a magic link is refused with /proc/PID/root as the root too', () => {
    const procRoot = `/proc/${process.pid}/root`;
    const err = thrown(() => readFileInRoot(procRoot, '/proc/self/root/etc/hostname', MiB));
    expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
    expect(causeErrno(err)).toBe('ELOOP');
    expect(text(readFileInRoot(procRoot, hostSecret, MiB))).toBe(HOST_SECRET);
  });

  test('a symlink loop is refused', () => {
    expect(hasCode(thrown(() => readFileInRoot(root, '/etc/loop-a', MiB)), 'CONTAINER_PATH_UNSAFE')).toBe(true);
  });

  test('a FIFO is refused without waiting for a writer', () => {
    // Should the read ever block on the FIFO, this writer frees it after 10 s so the test fails
    // instead of hanging; a refusal that does not open the FIFO returns long before.
    const valve = spawn('sh', ['-c', 'sleep 10 && exec 3>"$1"', 'sh', join(root, 'etc/group')], { stdio: 'ignore', detached: true });
    const started = Date.now();
    try {
      const err = thrown(() => readFileInRoot(root, '/etc/group', MiB));
      expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
      expect(String(err)).toContain('a FIFO, not a regular file');
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      // The valve's process group (sh and its sleep); already gone if the valve had to fire.
      try {
        if (valve.pid !== undefined) process.kill(-valve.pid, 'SIGKILL');
      } catch {
        // ESRCH
      }
    }
  });

  test('a directory is refused', () => {
    const err = thrown(() => readFileInRoot(root, '/etc', MiB));
    expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
    expect(String(err)).toContain('a directory, not a regular file');
    expect(hasCode(thrown(() => readFileInRoot(root, '/', MiB)), 'CONTAINER_PATH_UNSAFE')).toBe(true);
  });

  test('a device node is refused without being opened', () => {
    if (!requireRoot()) return;
    // Opening a 0:0 char device fails with ENXIO: a refusal that opened it first would say so.
    const err = thrown(() => readFileInRoot(root, '/etc/whiteout', MiB));
    expect(isSyscallError(err)).toBe(false);
    expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
    expect(String(err)).toContain('a character device');
  });

  test('a file larger than maxBytes is refused', () => {
    const err = thrown(() => readFileInRoot(root, '/big', MiB));
    expect(hasCode(err, 'CONTAINER_FILE_TOO_LARGE')).toBe(true);
    expect(String(err)).toContain(`larger than ${MiB} bytes`);
    expect(readFileInRoot(root, '/big', 2 * MiB)?.length).toBe(2 * MiB);
    expect(thrown(() => readFileInRoot(root, '/etc/hostname', FAKE_HOSTNAME.length - 1))).toBeDefined();
    expect(text(readFileInRoot(root, '/etc/hostname', FAKE_HOSTNAME.length))).toBe(FAKE_HOSTNAME);
  });

  test('the limit holds for a /proc file whose size fstat reports as 0', () => {
    const procRoot = `/proc/${process.pid}/root`;
    expect(String(thrown(() => readFileInRoot(procRoot, '/proc/self/status', 64)))).toContain('larger than 64 bytes');
    expect(text(readFileInRoot(procRoot, '/proc/self/status', MiB))).toContain('Name:');
  });

  test('a path with a NUL byte is refused, not cut short', () => {
    expect(hasCode(thrown(() => readFileInRoot(root, '/etc/hostname\0/x', MiB)), 'CONTAINER_PATH_UNSAFE')).toBe(true);
  });

  test('a missing root is an error, not null', () => {
    expect(isSyscallError(thrown(() => readFileInRoot(join(base, 'no-root'), '/etc/hostname', MiB)), 'ENOENT')).toBe(true);
  });
});

describe('readFileInRootFd', () => {
  test('an O_PATH fd of the root reached through /proc/self/root keeps every lookup inside it', () => {
    const rootFd = openRootFd(`/proc/self/root${root}`);
    try {
      expect(text(readFileInRootFd(rootFd, '/etc/hostname', MiB, 'fake'))).toBe(FAKE_HOSTNAME);
      expect(text(readFileInRootFd(rootFd, '/etc/passwd', MiB, 'fake'))).toBe(FAKE_HOSTNAME);
      expect(text(readFileInRootFd(rootFd, 'etc/passwd-rel', MiB, 'fake'))).toBe(FAKE_HOSTNAME);
      expect(readFileInRootFd(rootFd, '/etc/secret-abs', MiB, 'fake')).toBeNull();
      expect(readFileInRootFd(rootFd, '/etc/secret-rel', MiB, 'fake')).toBeNull();
      if (procMounted) {
        const err = thrown(() => readFileInRootFd(rootFd, '/etc/shadow', MiB, 'fake'));
        expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
        expect(String(err)).toContain('`/etc/shadow` in the container root `fake`');
      }
    } finally {
      closeSync(rootFd);
    }
  });

  test('an O_DIRECTORY fd of the root works too', () => {
    const rootFd = openSync(root, 'r');
    try {
      expect(text(readFileInRootFd(rootFd, '/etc/passwd', MiB, root))).toBe(FAKE_HOSTNAME);
    } finally {
      closeSync(rootFd);
    }
  });
});

describe('lstatInRoot', () => {
  test('tells files, directories and symlinks apart without following a final symlink', () => {
    expect(lstatInRoot(root, '/etc/hostname')).toEqual({ type: 'file', rdev: 0n });
    expect(lstatInRoot(root, '/etc')).toEqual({ type: 'directory', rdev: 0n });
    expect(lstatInRoot(root, '/')).toEqual({ type: 'directory', rdev: 0n });
    expect(lstatInRoot(root, '/etc/passwd')).toEqual({ type: 'symlink', rdev: 0n });
    expect(lstatInRoot(root, '/etc/secret-abs')).toEqual({ type: 'symlink', rdev: 0n });
    expect(lstatInRoot(root, '/etc/group')).toEqual({ type: 'other', rdev: 0n });
    expect(lstatInRoot(root, '/etc/nothing')).toBeNull();
    expect(lstatInRoot(root, '/etc/hostname/x')).toBeNull();
  });

  test('symlinks on the way resolve inside the root', () => {
    expect(lstatInRoot(root, '/etc/hostdir/host-secret')).toBeNull();
    expect(lstatInRoot(root, '/etc/hostdir')).toEqual({ type: 'symlink', rdev: 0n });
  });

  test('an overlay whiteout is a char device 0:0', () => {
    if (!requireRoot()) return;
    expect(lstatInRoot(root, '/etc/whiteout')).toEqual({ type: 'char', rdev: 0n });
    const rootFd = openRootFd(root);
    try {
      expect(lstatInRootFd(rootFd, 'etc/whiteout', root)).toEqual({ type: 'char', rdev: 0n });
    } finally {
      closeSync(rootFd);
    }
  });

  test('a final magic link is reported, not followed; one on the way is refused', () => {
    if (!requireRoot()) return;
    expect(lstatInRoot(root, '/proc/self/root')).toEqual({ type: 'symlink', rdev: 0n });
    const err = thrown(() => lstatInRoot(root, `/proc/self/root${hostSecret}`));
    expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
    expect(causeErrno(err)).toBe('ELOOP');
  });
});
