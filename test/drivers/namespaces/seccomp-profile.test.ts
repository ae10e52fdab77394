// Reading OCI / Docker seccomp JSON: accepted shapes, and errors that name the file, the JSON
// path and what was expected.

import { describe, expect, test } from '@jest/globals';
import { isCorralError, type CorralError } from '../../../src/errors.js';
import { parseSeccompProfile } from '../../../src/drivers/namespaces/seccomp-profile.js';

const FILE = '/etc/corral/p.json';
const parse = (v: unknown) => parseSeccompProfile(typeof v === 'string' ? v : JSON.stringify(v), FILE);

function failure(v: unknown): CorralError {
  try {
    parse(v);
  } catch (e) {
    if (isCorralError(e)) return e;
    throw e;
  }
  throw new Error('the profile was accepted');
}

/** Every error summary, without the common `seccomp profile `FILE`: ` prefix. */
function problems(v: unknown): string[] {
  const e = failure(v);
  expect(e.code).toBe('SECCOMP_PROFILE_INVALID');
  const all = e.diagnostics.length > 0 ? e.diagnostics : [e.toDiagnostic()];
  for (const d of all) expect(d).toMatchObject({ severity: 'error', code: 'SECCOMP_PROFILE_INVALID', field: 'spec.security.seccomp.file' });
  return all.map((d) => d.summary.replace(`seccomp profile \`${FILE}\`: `, ''));
}

const ok = { defaultAction: 'SCMP_ACT_ALLOW' };

describe('accepted profiles', () => {
  test('OCI form: actions, errno values, args with u64 values beyond 2^53', () => {
    const p = parse(`{
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": null, "comment": "io"},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"name": "unlink", "action": "SCMP_ACT_ERRNO"},
        {"names": ["ioctl"], "action": "SCMP_ACT_KILL_PROCESS",
         "args": [{"index": 1, "value": 18446744073709551615, "valueTwo": 9007199254740993, "op": "SCMP_CMP_MASKED_EQ"}]}
      ]}`);
    expect(p.defaultAction).toEqual({ kind: 'errno', errno: 38 });
    expect(p.rules.map((r) => [r.at, r.names, r.action])).toEqual([
      ['syscalls[0]', ['read', 'write'], { kind: 'allow' }],
      ['syscalls[1]', ['mkdir'], { kind: 'errno', errno: 13 }],
      ['syscalls[2]', ['unlink'], { kind: 'errno', errno: 1 }],
      ['syscalls[3]', ['ioctl'], { kind: 'kill-process' }],
    ]);
    expect(p.rules[3]!.args).toEqual([{ index: 1, op: 'masked-eq', value: 0xffff_ffff_ffff_ffffn, valueTwo: 9007199254740993n }]);
    expect(p.warnings).toEqual([]);
  });

  test('Docker form: archMap, includes/excludes, flags; what is ignored is a warning', () => {
    const p = parse({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [{ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8', caps: ['sys_ptrace'] }, excludes: {} }],
    });
    expect(p.rules[0]!.includes).toEqual({ caps: ['CAP_SYS_PTRACE'], arches: [], minKernel: '4.8' });
    expect(p.warnings.map((w) => w.summary)).toEqual([
      `seccomp profile \`${FILE}\`: \`architectures\`: SCMP_ARCH_X86, SCMP_ARCH_X32 calls are not filtered by name: corral's filter kills any process that makes them`,
      `seccomp profile \`${FILE}\`: \`flags[1]\`: \`SECCOMP_FILTER_FLAG_SPEC_ALLOW\` is ignored: the shim loads the filter without flags`,
    ]);
  });

  test('KILL is KILL_THREAD, and a profile may have no syscalls at all', () => {
    expect(parse({ defaultAction: 'SCMP_ACT_KILL' }).defaultAction).toEqual({ kind: 'kill-thread' });
    expect(parse({ defaultAction: 'SCMP_ACT_LOG', syscalls: null }).rules).toEqual([]);
  });
});

describe('refused profiles', () => {
  test('invalid JSON names the file, line and column', () => {
    const e = failure('{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [}\n}');
    expect(e.code).toBe('SECCOMP_PROFILE_INVALID');
    expect(e.summary).toBe(`seccomp profile \`${FILE}\` is not valid JSON (line 3, column 16)`);
    expect(e.source).toEqual({ file: FILE, line: 3, column: 16 });
    expect(e.detail).toBe('expected a value, found `}`');
    const at = (text: string) => { const f = failure(text); return [f.source?.line, f.source?.column, f.detail]; };
    expect(at('')).toEqual([1, 1, 'expected a value, found the end of the file']);
    expect(at('{"defaultAction": "SCMP_ACT_ALLOW",}')).toEqual([1, 36, 'expected a property name in double quotes, found `}`']);
    expect(at('{"defaultAction": "SCMP_ACT_ALLOW"\n"syscalls": []}')).toEqual([2, 1, 'expected `,` or `}`, found `"`']);
    expect(at('{"defaultAction": "SCMP_ACT_ALLOW}')).toEqual([1, 35, 'expected a closing `"`, found the end of the file']);
    expect(at('{"defaultAction": "SCMP_ACT_ALLOW"} x')).toEqual([1, 37, 'expected the end of the document, found `x`']);
  });

  test('wrong top-level shapes', () => {
    expect(problems([])).toEqual(['expected an object, found a list']);
    expect(problems({})).toEqual(['`defaultAction`: expected an action name (SCMP_ACT_…), found nothing']);
    expect(problems({ ...ok, syscall: [] })).toEqual(['`syscall`: unknown field']);
    expect(failure({ ...ok, syscall: [] }).detail).toMatch(/^expected one of defaultAction, defaultErrnoRet, /);
    expect(problems({ ...ok, syscalls: {} })).toEqual(['`syscalls`: expected a list, found an object']);
    expect(problems({ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 })).toEqual(['`defaultErrnoRet`: is only allowed with SCMP_ACT_ERRNO, not with `SCMP_ACT_ALLOW`']);
  });

  test('actions: unknown, TRACE and NOTIFY, errno out of range', () => {
    expect(problems({ defaultAction: 'SCMP_ACT_DENY' })).toEqual(['`defaultAction`: unknown action `SCMP_ACT_DENY`']);
    expect(problems({ ...ok, syscalls: [{ names: ['ptrace'], action: 'SCMP_ACT_TRACE' }] }))
      .toEqual(['`syscalls[0].action`: action `SCMP_ACT_TRACE` is not supported: it needs a ptrace(2) tracer attached to the container, and corral runs none']);
    expect(problems({ ...ok, listenerPath: '/run/agent.sock', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] })).toEqual([
      '`listenerPath`: seccomp user notification is not supported: corral runs no seccomp agent',
      '`syscalls[0].action`: action `SCMP_ACT_NOTIFY` is not supported: it needs a seccomp agent listening on `listenerPath`, and corral runs none',
    ]);
    expect(problems({ ...ok, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 5000 }] }))
      .toEqual(['`syscalls[0].errnoRet`: expected an integer from 0 to 4095, found `5000`']);
  });

  test('an unsupported comparison names the syscall, the op and what is supported', () => {
    const e = failure({ ...ok, syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_GT' }] }] });
    expect(e.summary).toBe(`seccomp profile \`${FILE}\`: \`syscalls[0].args[0].op\`: comparison \`SCMP_CMP_GT\` (syscall \`personality\`) is not supported`);
    expect(e.detail).toBe('corral compiles SCMP_CMP_EQ, SCMP_CMP_NE and SCMP_CMP_MASKED_EQ');
    expect(problems({ ...ok, syscalls: [{ names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_ABOUT' }] }] }))
      .toEqual(['`syscalls[0].args[0].op`: unknown comparison `SCMP_CMP_ABOUT` (syscall `socket`)']);
  });

  test('argument shapes: index, value, unknown fields', () => {
    expect(problems({ ...ok, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: -1, op: 'SCMP_CMP_EQ', mask: 1 }] }] })).toEqual([
      '`syscalls[0].args[0].mask`: unknown field',
      '`syscalls[0].args[0].index`: expected an integer from 0 to 5, found `6`',
      '`syscalls[0].args[0].value`: expected an unsigned 64-bit integer, found `-1`',
    ]);
    expect(problems('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}'))
      .toEqual(['`syscalls[0].args[0].value`: expected an unsigned 64-bit integer, found `18446744073709551616`']);
  });

  test('entry shapes: names, name, includes', () => {
    expect(problems({ ...ok, syscalls: [{ action: 'SCMP_ACT_ERRNO' }] })).toEqual(['`syscalls[0].names`: expected a non-empty list of system call names, found nothing']);
    expect(problems({ ...ok, syscalls: [{ names: ['a'], name: 'b', action: 'SCMP_ACT_ERRNO' }] })).toEqual(['`syscalls[0]`: sets both `names` and `name`']);
    expect(problems({ ...ok, syscalls: [{ names: ['read', 7], action: 'SCMP_ACT_ERRNO' }] })).toEqual(['`syscalls[0].names[1]`: expected a non-empty string, found `7`']);
    expect(problems({ ...ok, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: 'new' } }] }))
      .toEqual(['`syscalls[0].includes.minKernel`: expected a kernel version like `4.8`, found `new`']);
  });

  test('a profile for other architectures', () => {
    expect(problems({ ...ok, architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'] }))
      .toEqual(['`architectures`: lists `SCMP_ARCH_AARCH64`, `SCMP_ARCH_ARM` but not SCMP_ARCH_X86_64, the only architecture corral compiles profiles for']);
  });

  test('every problem is collected; the error summary is the first and says how many more', () => {
    const e = failure({ defaultAction: 'SCMP_ACT_NOPE', flags: ['SECCOMP_FILTER_FLAG_WHAT'], syscalls: [{ names: [], action: 'SCMP_ACT_ALLOW' }, 3] });
    expect(e.diagnostics.map((d) => d.summary.replace(`seccomp profile \`${FILE}\`: `, ''))).toEqual([
      '`defaultAction`: unknown action `SCMP_ACT_NOPE`',
      '`flags[0]`: unknown filter flag `SECCOMP_FILTER_FLAG_WHAT`',
      '`syscalls[0].names`: expected a non-empty list of system call names, found a list',
      '`syscalls[1]`: expected an object, found `3`',
    ]);
    expect(e.summary).toBe(e.diagnostics[0]!.summary);
    expect(e.hint).toBe('and 3 more problems in the same file');
  });
});
