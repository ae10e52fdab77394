// Profile files on disk: the plan-time check, the digest for the spec hash, and the wiring into
// the spawn spec (start and exec). No kernel needed.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { hasCode } from '../../../src/errors.js';
import { checkSeccompProfile, seccompProfileDigest, seccompProgramFromFile } from '../../../src/drivers/namespaces/seccomp-file.js';
import { defaultSeccompProgram } from '../../../src/drivers/namespaces/seccomp.js';
import { buildExecSpec, buildSpawnSpec } from '../../../src/drivers/namespaces/spec.js';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { specOf } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-seccomp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const GOOD = JSON.stringify({
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdir_v2'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
});

describe('checkSeccompProfile (plan time)', () => {
  test('a good profile: only warnings, naming the container', () => {
    const p = file('good.json', GOOD);
    expect(checkSeccompProfile(p, { container: 'web', arch: 'x64' })).toEqual([{
      severity: 'warning', code: 'SECCOMP_PROFILE_INVALID', container: 'web', field: 'spec.security.seccomp.file',
      summary: `seccomp profile \`${p}\`: 1 system call name is unknown on x86-64 and ignored: \`mkdir_v2\``, detail: expect.stringMatching(/^corral knows the \d+ x86-64 calls/),
    }]);
  });

  test('missing, a directory, not UTF-8', () => {
    const missing = join(dir, 'nope.json');
    expect(checkSeccompProfile(missing)).toEqual([{ severity: 'error', code: 'SECCOMP_PROFILE_INVALID', field: 'spec.security.seccomp.file', summary: `seccomp profile \`${missing}\` does not exist` }]);
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(checkSeccompProfile(sub).map((d) => d.summary)).toEqual([`seccomp profile \`${sub}\` is a directory, not a file`]);
    const latin1 = file('latin1.json', Buffer.from([0x7b, 0xe9, 0x7d]));
    expect(checkSeccompProfile(latin1).map((d) => d.summary)).toEqual([`seccomp profile \`${latin1}\` is not UTF-8 text`]);
  });

  test('every shape problem, and the JSON position of a syntax error', () => {
    const bad = file('bad.json', JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_TRACE' }, { names: ['y'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_LT' }] }] }));
    const diags = checkSeccompProfile(bad, { container: 'web' });
    expect(diags.map((d) => [d.severity, d.container, d.summary.replace(`seccomp profile \`${bad}\`: `, '')])).toEqual([
      ['error', 'web', '`syscalls[0].action`: action `SCMP_ACT_TRACE` is not supported: it needs a ptrace(2) tracer attached to the container, and corral runs none'],
      ['error', 'web', '`syscalls[1].args[0].op`: comparison `SCMP_CMP_LT` (syscall `y`) is not supported'],
    ]);
    const broken = file('broken.json', '{\n  "defaultAction": SCMP_ACT_ALLOW\n}');
    expect(checkSeccompProfile(broken)).toEqual([expect.objectContaining({
      severity: 'error', code: 'SECCOMP_PROFILE_INVALID', summary: `seccomp profile \`${broken}\` is not valid JSON (line 2, column 20)`,
      source: { file: broken, line: 2, column: 20 }, detail: 'expected a value, found `S`',
    })]);
  });

  test('a host that is not x86-64', () => {
    expect(checkSeccompProfile(file('arm.json', GOOD), { arch: 'arm64' })).toEqual([expect.objectContaining({
      severity: 'error', code: 'HOST_UNSUPPORTED', hint: 'set `security.seccomp: unconfined` on this host',
    })]);
  });
});

describe('seccompProfileDigest', () => {
  test('sha256 of the bytes; changes with the file; unreadable is SECCOMP_PROFILE_INVALID', () => {
    const p = file('digest.json', GOOD);
    expect(seccompProfileDigest(p)).toBe(`sha256:${createHash('sha256').update(GOOD).digest('hex')}`);
    writeFileSync(p, `${GOOD}\n`);
    expect(seccompProfileDigest(p)).not.toBe(`sha256:${createHash('sha256').update(GOOD).digest('hex')}`);
    expect(() => seccompProfileDigest(join(dir, 'gone.json'))).toThrow(expect.objectContaining({ code: 'SECCOMP_PROFILE_INVALID' }));
  });
});

describe('spawn spec wiring', () => {
  const rootfs = { lower: ['/l'], upper: '/u', work: '/w', target: '/t', binds: [], readOnly: false };
  const inputs = (spec: ContainerSpec) => ({ spec, rootfs, image: null, cgroupProcs: [], shimDir: '/s', logDir: '/l', volumes: {}, arch: 'x64' });
  const withProfile = (path: string, extra = '') => specOf('sc', `security: {seccomp: {file: ${path}}${extra}}\ncommand: [/bin/true]`);

  test('a file profile replaces the default filter, for start and exec', async () => {
    const p = file('wired.json', GOOD);
    const spec = await withProfile(p);
    const compiled = seccompProgramFromFile(p, { arch: 'x64', capabilities: spec.security.capabilities });
    const run = buildSpawnSpec(inputs(spec));
    expect(Buffer.from(run.process.seccomp!)).toEqual(Buffer.from(compiled));
    expect(Buffer.from(run.process.seccomp!)).not.toEqual(Buffer.from(defaultSeccompProgram('x64')));
    expect(run.process.noNewPrivileges).toBe(true);
    expect(Buffer.from(buildExecSpec(spec, null, [], { argv: ['/bin/sh'] }, 'x64').process.seccomp!)).toEqual(Buffer.from(compiled));
  });

  test('privileged runs without a filter, as with the default profile', async () => {
    const spec = await withProfile(file('priv.json', GOOD), ', privileged: true');
    expect(buildSpawnSpec(inputs(spec)).process.seccomp).toBeNull();
  });

  test('a bad profile stops the spawn spec with the container and file named', async () => {
    const p = file('refused.json', JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_GE' }] }] }));
    const spec = await withProfile(p);
    let err: unknown;
    try {
      buildSpawnSpec(inputs(spec));
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'SECCOMP_PROFILE_INVALID')).toBe(true);
    expect(err).toMatchObject({ container: 'sc', summary: `seccomp profile \`${p}\`: \`syscalls[0].args[0].op\`: comparison \`SCMP_CMP_GE\` (syscall \`mkdir\`) is not supported` });
    const missing = await withProfile(join(dir, 'absent.json'));
    expect(() => buildSpawnSpec(inputs(missing))).toThrow(/seccomp profile `.*absent.json` does not exist/);
  });
});
