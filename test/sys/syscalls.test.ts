// The koffi syscall layer against the real kernel. Needs root for mount; runs unprivileged parts
// everywhere.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { isSyscallError } from '../../src/errors.js';
import { MS, mount, mountFlagNames, mountWithFsApi, umount2 } from '../../src/sys/mount.js';
import { closeFd, pidfdAlive, pidfdOpen, pidfdSendSignal } from '../../src/sys/pidfd.js';
import { FS_MAGIC, statfsType } from '../../src/sys/statfs.js';
import { requireRoot } from '../support/root.js';

describe('syscall layer', () => {
  test('a failed mount names the call, its arguments and errno', () => {
    let caught: unknown;
    try {
      mount({ source: 'none', target: '/nonexistent/corral-test', fstype: 'tmpfs', flags: MS.NODEV | MS.NOSUID, data: 'size=1m' });
    } catch (err) {
      caught = err;
    }
    expect(isSyscallError(caught, 'ENOENT')).toBe(true);
    expect((caught as Error).message).toBe('mount (source `none`, target `/nonexistent/corral-test`, fstype `tmpfs`, flags `MS_NOSUID|MS_NODEV`, data `size=1m`): ENOENT (no such file or directory)');
  });

  test('flags are named', () => expect(mountFlagNames(MS.BIND | MS.REC | MS.RDONLY)).toBe('MS_RDONLY|MS_BIND|MS_REC'));

  test('statfs tells proc from tmpfs', () => {
    expect(statfsType('/proc')).toBe(FS_MAGIC.PROC);
    expect(() => statfsType('/nonexistent')).toThrow(/statfs \(path `\/nonexistent`\): ENOENT/);
  });

  test('a pidfd follows one process and refuses a dead one', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const fd = pidfdOpen(child.pid!);
    try {
      expect(pidfdAlive(fd)).toBe(true);
      pidfdSendSignal(fd, 9);
      await new Promise((r) => child.once('exit', r));
      expect(pidfdAlive(fd)).toBe(false);
    } finally {
      closeFd(fd);
    }
    expect(() => pidfdOpen(2 ** 22 + 1)).toThrow(/pidfd_open .*ESRCH|pidfd_open .*EINVAL/);
  });

  test('mount and unmount a tmpfs, with mount(2) and with the new mount API', () => {
    if (!requireRoot()) return;
    const dir = mkdtempSync(join(tmpdir(), 'corral-sys-'));
    try {
      mount({ source: 'corral-test', target: dir, fstype: 'tmpfs', flags: MS.NODEV | MS.NOSUID, data: 'size=1m' });
      expect(statfsType(dir)).toBe(FS_MAGIC.TMPFS);
      writeFileSync(join(dir, 'f'), 'x');
      umount2(dir);
      expect(statfsType(dir)).not.toBe(FS_MAGIC.TMPFS);
      mountWithFsApi('tmpfs', dir, [['size', '1m'], ['mode', '0700']]);
      expect(statfsType(dir)).toBe(FS_MAGIC.TMPFS);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(dir);
      umount2(dir);
    } finally {
      try { umount2(dir, 2); } catch { /* not mounted */ }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
