// `security.seccomp: {file}` against the kernel: the compiled profile is what the container runs
// under, checked from inside; a profile corral cannot compile stops everything before the shim.

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { hasCode } from '../../../src/errors.js';
import { SYSCALLS_X86_64 } from '../../../src/drivers/namespaces/syscalls-x86_64.js';
import { requireRoot } from '../../support/root.js';
import { makeHarness, mountsLeaked, specOf, type Harness } from './harness.js';

const root = requireRoot();
(root ? describe : describe.skip)('seccomp profile files, enforced by the kernel', () => {
  let h: Harness;
  let dir: string;

  beforeAll(() => {
    h = makeHarness('seccomp');
    dir = mkdtempSync(join(tmpdir(), 'corral-seccomp-'));
  });
  afterAll(async () => {
    await h?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(mountsLeaked(h)).toEqual([]);
  });

  function profile(name: string, body: object): string {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(body));
    return p;
  }

  const script = [
    'mkdir /tmp/x 2>&1; echo mkdir=$?',
    'touch /tmp/y && echo touch=ok',
    'echo ls=$(ls /tmp)',
    'grep Seccomp: /proc/self/status | tr -d "\\t" | tr ":" "="',
  ].join('\n');

  test('deny-list profile: mkdir fails with EACCES, other commands work', async () => {
    const p = profile('mkdir.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] });
    const spec = await specOf('scdeny', `security: {seccomp: {file: ${p}}}\ncommand: [/bin/sh, -c, ${JSON.stringify(script)}]`);
    const r = await h.run(spec);
    expect(r.status.state).toBe('exited');
    expect(r.status.state === 'exited' && r.status.exit.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^mkdir: can't create directory '\/tmp\/x': Permission denied$/m);
    expect(r.stdout).toMatch(/^mkdir=1$/m);
    expect(r.stdout).toMatch(/^touch=ok$/m);
    expect(r.stdout).toMatch(/^ls=y$/m);
    expect(r.stdout).toMatch(/^Seccomp=2$/m);
    expect(existsSync(join(h.fs.layout('scdeny').upper, 'tmp/x'))).toBe(false);
  });

  test('allow-list profile: the container starts, and an unlisted call gets the default errno', async () => {
    const names = Object.keys(SYSCALLS_X86_64).filter((n) => n !== 'mkdir');
    const p = profile('allow.json', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] });
    const spec = await specOf('scallow', `security: {seccomp: {file: ${p}}}\ncommand: [/bin/sh, -c, ${JSON.stringify(script)}]`);
    const r = await h.run(spec);
    expect(r.status.state === 'exited' && r.status.exit.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^mkdir: can't create directory '\/tmp\/x': Function not implemented$/m);
    expect(r.stdout).toMatch(/^touch=ok$/m);
  });

  test('a profile with an unsupported comparison is refused before anything starts', async () => {
    const p = profile('gt.json', {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_GT' }] }],
    });
    const spec = await specOf('scbad', `security: {seccomp: {file: ${p}}}\ncommand: [/bin/true]`);
    let err: unknown;
    try {
      await h.run(spec);
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'SECCOMP_PROFILE_INVALID')).toBe(true);
    expect((err as Error).message).toBe(`seccomp profile \`${p}\`: \`syscalls[0].args[0].op\`: comparison \`SCMP_CMP_GT\` (syscall \`personality\`) is not supported`);
    expect(err).toMatchObject({ container: 'scbad', detail: 'corral compiles SCMP_CMP_EQ, SCMP_CMP_NE and SCMP_CMP_MASKED_EQ' });
    // No shim ran: no state, no logs, nothing in the cgroup.
    const layout = h.fs.layout('scbad');
    expect(readdirSync(layout.shim)).toEqual([]);
    expect(readdirSync(layout.logs)).toEqual([]);
    expect(h.cg.pids()).toEqual([]);
  });
});
