// posix_spawn for the shim's `run` (src/sys/posix-spawn.ts): the child gets exactly the fds it is
// handed, default signal actions and an empty mask (as Node's own spawn gives), and a program
// that cannot be executed is an error at the call, not a child that vanishes.

import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from '@jest/globals';
import { isSyscallError } from '../../src/errors.js';
import { closeFd, waitPidfd, type ChildExit } from '../../src/sys/pidfd.js';
import { pipe, posixSpawn, type ChildFd } from '../../src/sys/posix-spawn.js';

/** Runs `script` under sh with stdout on a pipe and `extra` fds from 3 on; its output and exit. */
async function run(script: string, extra: ChildFd[] = []): Promise<{ out: string; exit: ChildExit }> {
  const [read, write] = pipe();
  const child = posixSpawn('/bin/sh', ['sh', '-c', script], { PATH: '/usr/bin:/bin', ONLY: 'this' }, ['null', write, write, ...extra]);
  closeFd(write);
  const socket = new Socket({ fd: read, readable: true, writable: false });
  let out = '';
  socket.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => socket.once('close', resolve));
  for (;;) {
    const exit = waitPidfd(child.pidfd);
    if (exit) {
      closeFd(child.pidfd);
      return { out, exit };
    }
    await sleep(2);
  }
}

describe('posixSpawn', () => {
  test('fd 0 is /dev/null, fd 3 the pipe handed in, and no other fd of ours crosses', async () => {
    const [r, w] = pipe();
    // The pipe ends are low numbers: the spawn moves them above fd 63 before dup2 into 0-3.
    const { out, exit } = await run('readlink /proc/self/fd/0; echo through-3 >&3; ls /proc/self/fd | sort -n | tr "\\n" " "', [w]);
    closeFd(w);
    const got = new Socket({ fd: r, readable: true, writable: false });
    let three = '';
    got.on('data', (d: Buffer) => (three += d.toString()));
    await new Promise((resolve) => got.once('close', resolve));
    expect(exit).toMatchObject({ code: 0, signal: null });
    const [devNull, fds] = out.trim().split('\n');
    expect(devNull).toBe('/dev/null');
    expect(three).toBe('through-3\n');
    // 0-3 and the fd `ls` opens on /proc/self/fd; an fd the test runner left open without
    // close-on-exec would show here too, as with Node's spawn, so only ours are checked.
    const listed = fds!.trim().split(' ').map(Number);
    expect(listed.slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(listed).not.toContain(r);
    expect(listed).not.toContain(w);
  });

  test('the child has default signal actions, an empty mask and only the environment given', async () => {
    const { out, exit } = await run('grep -E "^Sig(Blk|Ign)" /proc/self/status; env | sort');
    expect(exit.code).toBe(0);
    expect(out).toMatch(/SigBlk:\s+0+\n/);
    // Node ignores SIGPIPE; the child must not inherit that.
    expect(out).toMatch(/SigIgn:\s+0+\n/);
    expect(out).toContain('ONLY=this');
    expect(out).not.toContain('JEST_WORKER_ID');
  });

  test('an exit code and a signal come back through the pidfd', async () => {
    expect((await run('exit 7')).exit).toMatchObject({ code: 7, signal: null });
    expect((await run('kill -TERM $$')).exit).toMatchObject({ code: null, signal: 15 });
  });

  test('a program that cannot be executed is a SyscallError at the call', () => {
    let caught: unknown;
    try {
      posixSpawn('/nonexistent/corral-shim', ['x'], {}, ['null', 'null', 'null']);
    } catch (err) {
      caught = err;
    }
    expect(isSyscallError(caught, 'ENOENT')).toBe(true);
  });
});
