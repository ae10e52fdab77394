// The default seccomp filter against the kernel: a static C program (seccomp-probe.c) runs in a
// container with `security.seccomp: default` and makes the calls the filter refuses, and the
// ordinary ones it must leave alone. The container also gets CAP_SYS_ADMIN, so mount, unshare,
// setns and the like are refused by the filter, not merely by a missing capability.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireRoot } from '../../support/root.js';
import { makeHarness, mountsLeaked, specOf, type Harness } from './harness.js';

/** What each probe must report; the first group must never be `ok`. */
const REFUSED: Readonly<Record<string, string>> = {
  statmount: 'ENOSYS',
  listmount: 'ENOSYS',
  open_tree_attr: 'ENOSYS',
  clone3: 'ENOSYS',
  mount: 'EPERM',
  unshare: 'EPERM',
  setns: 'EPERM',
  keyctl: 'EPERM',
  bpf: 'EPERM',
  init_module: 'EPERM',
  reboot: 'EPERM',
  clock_settime: 'EPERM',
  perf_event_open: 'EPERM',
  io_uring_setup: 'EPERM',
  clone_newuser: 'EPERM',
  socket_vsock: 'EAFNOSUPPORT',
  socket_alg: 'EAFNOSUPPORT',
  personality_read_implies_exec: 'EPERM',
};
const WORKS = ['socket_inet', 'socket_unix', 'socketpair_unix', 'personality_query', 'fork_exec', 'posix_spawn', 'thread', 'files', 'pipe'];

const root = requireRoot();
(root ? describe : describe.skip)('the default seccomp filter, enforced by the kernel', () => {
  let h: Harness;
  let dir: string;
  let probe: Record<string, string> = {};

  beforeAll(async () => {
    h = makeHarness('scdefault');
    dir = mkdtempSync(join(tmpdir(), 'corral-seccomp-probe-'));
    chmodSync(dir, 0o755);
    // Static: the busybox root has no libc. glibc warns about nothing this program uses.
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-Werror', '-pthread', '-o', join(dir, 'probe'), join(import.meta.dirname, 'seccomp-probe.c')]);
    const spec = await specOf('scdefault', [
      'security: {seccomp: default, capabilities: {add: [SYS_ADMIN]}}',
      `mounts: [{type: bind, source: ${dir}, target: /probe, readOnly: true}]`,
      'command: [/probe/probe]',
    ].join('\n'));
    const r = await h.run(spec);
    if (r.status.state !== 'exited' || r.status.exit.exitCode !== 0) throw new Error(`probe failed: ${JSON.stringify(r.status)}\n${r.stdout}${r.stderr}`);
    probe = Object.fromEntries(r.stdout.split('\n').filter(Boolean).map((l) => l.split('=') as [string, string]));
  }, 120_000);
  afterAll(async () => {
    await h?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('the filter is on', () => {
    expect(probe['seccomp_mode']).toBe('2');
  });

  test('no refused call succeeds', () => {
    const leaked = Object.keys(REFUSED).filter((name) => probe[name] === 'ok');
    if (leaked.length > 0) throw new Error(`the default seccomp filter let these through: ${leaked.join(', ')}`);
  });

  test('each refused call fails with its errno: ENOSYS for calls newer than the list, EPERM, EAFNOSUPPORT', () => {
    expect(Object.fromEntries(Object.keys(REFUSED).map((name) => [name, probe[name]]))).toEqual(REFUSED);
  });

  test('ordinary work goes on: sockets, fork and exec, posix_spawn and threads (through the clone3 fallback), files, pipes', () => {
    expect(Object.fromEntries(WORKS.map((name) => [name, probe[name]]))).toEqual(Object.fromEntries(WORKS.map((name) => [name, 'ok'])));
  });
});
