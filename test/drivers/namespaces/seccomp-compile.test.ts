// The BPF that seccomp-compile.ts emits, run through a small classic-BPF interpreter (bpf-run.ts):
// what a syscall with given arguments gets, without a kernel. The default profile has its own tests
// (seccomp-default.test.ts).

import { describe, expect, test } from '@jest/globals';
import { hasCode, isCorralError } from '../../../src/errors.js';
import { BPF, BPF_MAX_INSNS, RET } from '../../../src/drivers/namespaces/seccomp-bpf.js';
import { compileSeccompProfile, SHIM_CALLS_AFTER_FILTER, type SeccompContext } from '../../../src/drivers/namespaces/seccomp-compile.js';
import { parseSeccompProfile } from '../../../src/drivers/namespaces/seccomp-profile.js';
import { MAX_SYSCALL_X86_64, SYSCALLS_X86_64 } from '../../../src/drivers/namespaces/syscalls-x86_64.js';
import { AUDIT_ARCH_I386, decode, run } from './bpf-run.js';

const nr = (name: string): number => SYSCALLS_X86_64[name]!;
const errno = (e: number): number => (RET.ERRNO | e) >>> 0;
const ctx: SeccompContext = { capabilities: ['CAP_CHOWN', 'CAP_SETUID'], kernelRelease: '6.18.0-test' };
const ALLOW_SHIM = SHIM_CALLS_AFTER_FILTER;

function compile(profile: object, c: SeccompContext = ctx) {
  const compiled = compileSeccompProfile(parseSeccompProfile(JSON.stringify(profile), '/p/test.json'), c);
  return { ...compiled, prog: decode(compiled.program) };
}

/** Parses the raw text, for values JSON.stringify cannot write (u64 beyond 2^53). */
function compileText(text: string) {
  return decode(compileSeccompProfile(parseSeccompProfile(text, '/p/test.json'), ctx).program);
}

describe('syscall table', () => {
  test('well-known x86-64 numbers', () => {
    expect([nr('read'), nr('write'), nr('clone'), nr('execve'), nr('mkdir'), nr('openat'), nr('clone3')]).toEqual([0, 1, 56, 59, 83, 257, 435]);
    expect(MAX_SYSCALL_X86_64).toBeGreaterThanOrEqual(435);
    expect(Object.hasOwn(SYSCALLS_X86_64, 'toString')).toBe(false);
  });
});

describe('profile compiler', () => {
  test('allow-list: listed calls allowed, errno entries return their value, the rest the default errno', () => {
    const { prog } = compile({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38,
      syscalls: [
        { names: ['read', 'write', ...ALLOW_SHIM], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { name: 'unlink', action: 'SCMP_ACT_ERRNO' },
        { names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['getpid'], action: 'SCMP_ACT_TRAP' },
        { names: ['getppid'], action: 'SCMP_ACT_LOG' },
        { names: ['tkill'], action: 'SCMP_ACT_KILL' },
      ],
    });
    expect(run(prog, nr('read'))).toBe(RET.ALLOW);
    expect(run(prog, nr('execve'))).toBe(RET.ALLOW);
    expect(run(prog, nr('mkdir'))).toBe(errno(13));
    expect(run(prog, nr('unlink'))).toBe(errno(1));
    expect(run(prog, nr('kill'))).toBe(RET.KILL_PROCESS);
    expect(run(prog, nr('getpid'))).toBe(RET.TRAP);
    expect(run(prog, nr('getppid'))).toBe(RET.LOG);
    expect(run(prog, nr('tkill'))).toBe(RET.KILL_THREAD);
    expect(run(prog, nr('openat'))).toBe(errno(38));
  });

  test('arch check first: a foreign arch or an x32 call is killed whatever the profile says', () => {
    const { prog } = compile({ defaultAction: 'SCMP_ACT_ALLOW' });
    expect(prog[0]).toEqual({ code: BPF.LD_W_ABS, jt: 0, jf: 0, k: 4 });
    expect(run(prog, nr('read'), [], AUDIT_ARCH_I386)).toBe(RET.KILL_PROCESS);
    expect(run(prog, 0x40000000 | nr('read'))).toBe(RET.KILL_PROCESS);
    expect(run(prog, nr('read'))).toBe(RET.ALLOW);
  });

  test('calls newer than the table get ENOSYS under a refusing default, the default action otherwise', () => {
    const deny = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ALLOW_SHIM, action: 'SCMP_ACT_ALLOW' }] }).prog;
    expect(run(deny, MAX_SYSCALL_X86_64 + 1)).toBe(errno(38));
    expect(run(deny, 400)).toBe(errno(1));
    const allow = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }).prog;
    expect(run(allow, MAX_SYSCALL_X86_64 + 1)).toBe(RET.ALLOW);
  });

  test('SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo, on both 32-bit words', () => {
    const { prog } = compile({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }],
    });
    // Here the entry *errors* when no namespace flag is set: a plain clone is refused.
    expect(run(prog, nr('clone'), [0x11n])).toBe(errno(1));
    expect(run(prog, nr('clone'), [0x10000011n])).toBe(RET.ALLOW);
    expect(run(prog, nr('clone'), [0x1_0000_0011n])).toBe(errno(1));
    const high = compileText(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO","errnoRet":25,
      "args":[{"index":1,"value":18446744069414584320,"valueTwo":12884901888,"op":"SCMP_CMP_MASKED_EQ"}]}]}`);
    expect(run(high, nr('ioctl'), [0n, 0x3_0000_5401n])).toBe(errno(25));
    expect(run(high, nr('ioctl'), [0n, 0x5401n])).toBe(RET.ALLOW);
  });

  test('SCMP_CMP_EQ and SCMP_CMP_NE compare all 64 bits; conditions on different args all hold', () => {
    const prog = compileText(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
      {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":22,"args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]},
      {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,"args":[{"index":0,"value":2,"op":"SCMP_CMP_NE"},{"index":1,"value":1,"op":"SCMP_CMP_EQ"}]}]}`);
    expect(run(prog, nr('personality'), [0xffff_ffff_ffff_ffffn])).toBe(errno(22));
    expect(run(prog, nr('personality'), [0xffff_ffffn])).toBe(RET.ALLOW);
    expect(run(prog, nr('socket'), [10n, 1n])).toBe(errno(97));
    expect(run(prog, nr('socket'), [0x1_0000_0002n, 1n])).toBe(errno(97));
    expect(run(prog, nr('socket'), [2n, 1n])).toBe(RET.ALLOW);
    expect(run(prog, nr('socket'), [10n, 2n])).toBe(RET.ALLOW);
  });

  test('one argument index repeated in an entry means any of them (runc)', () => {
    const { prog } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ALLOW_SHIM, action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    expect(run(prog, nr('personality'), [0n])).toBe(RET.ALLOW);
    expect(run(prog, nr('personality'), [8n])).toBe(RET.ALLOW);
    expect(run(prog, nr('personality'), [9n])).toBe(errno(1));
  });

  test('the first matching entry wins; a later unconditional entry with another action is reported', () => {
    const { prog, warnings } = compile({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 30, args: [{ index: 1, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['chmod'], action: 'SCMP_ACT_ALLOW' },
      ],
    });
    expect(run(prog, nr('chmod'), [0n, 0o4755n])).toBe(errno(30));
    expect(run(prog, nr('chmod'), [0n, 0o755n])).toBe(errno(13));
    expect(warnings.map((w) => w.summary)).toEqual(['seccomp profile `/p/test.json`: `chmod` in `syscalls[2]` is ignored: `syscalls[1]` already decides it']);
  });

  test('Docker includes/excludes: capabilities, arches and minKernel', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ALLOW_SHIM, action: 'SCMP_ACT_ALLOW' },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['chown'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CHOWN'] } },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
        { names: ['sync_file_range2'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['ppc64le'] } },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
        { names: ['kcmp'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '99.1' } },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_SETUID'] } },
      ],
    };
    const { prog, warnings } = compile(profile);
    expect(run(prog, nr('mount'))).toBe(errno(1));
    expect(run(prog, nr('chown'))).toBe(RET.ALLOW);
    expect(run(prog, nr('arch_prctl'))).toBe(RET.ALLOW);
    expect(run(prog, nr('ptrace'))).toBe(RET.ALLOW);
    expect(run(prog, nr('kcmp'))).toBe(errno(1));
    expect(run(prog, nr('clone'))).toBe(errno(1));
    // sync_file_range2 is not an x86-64 call, but its entry does not apply here: no warning.
    expect(warnings).toEqual([]);
    const admin = compile(profile, { ...ctx, capabilities: ['CAP_SYS_ADMIN'] }).prog;
    expect(run(admin, nr('mount'))).toBe(RET.ALLOW);
    expect(run(admin, nr('clone'))).toBe(RET.ALLOW);
  });

  test('unknown syscall names are ignored and listed in one warning', () => {
    const { prog, warnings } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: [...ALLOW_SHIM, 'read', 'not_a_call', 'arm_fadvise64_64'], action: 'SCMP_ACT_ALLOW' }],
    });
    expect(run(prog, nr('read'))).toBe(RET.ALLOW);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ severity: 'warning', code: 'SECCOMP_PROFILE_INVALID', field: 'spec.security.seccomp.file' });
    expect(warnings[0]!.summary).toBe('seccomp profile `/p/test.json`: 2 system call names are unknown on x86-64 and ignored: `arm_fadvise64_64`, `not_a_call`');
    const many = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'], action: 'SCMP_ACT_ERRNO' }] }).warnings[0]!;
    expect(many.summary).toBe('seccomp profile `/p/test.json`: 7 system call names are unknown on x86-64 and ignored: `a1`, `a2`, `a3`, `a4`, `a5` and 2 more');
    expect(many.detail).toMatch(/^all of them: `a1`, `a2`, `a3`, `a4`, `a5`, `a6`, `a7`\. corral knows the \d+ x86-64 calls/);
  });

  test('every syscall of the table in its own entry with conditions: jumps stay in range', () => {
    const names = Object.keys(SYSCALLS_X86_64);
    const { prog, instructions } = compile({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: names.map((n, i) => ({ names: [n], action: 'SCMP_ACT_ERRNO', errnoRet: (i % 4000) + 1, args: [{ index: 1, value: 7, op: 'SCMP_CMP_EQ' }] })),
    });
    expect(instructions).toBeLessThanOrEqual(BPF_MAX_INSNS);
    names.forEach((n, i) => {
      expect(run(prog, nr(n), [0n, 7n])).toBe(errno((i % 4000) + 1));
      expect(run(prog, nr(n), [0n, 8n])).toBe(RET.ALLOW);
    });
  });

  test('a syscall block longer than 255 instructions is skipped with a long jump', () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({
      names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: i + 1,
      args: [{ index: 1, value: 0x5400 + i, op: 'SCMP_CMP_EQ' }, { index: 2, value: i, op: 'SCMP_CMP_NE' }],
    }));
    const { prog } = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [...entries, { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] });
    expect(prog.some((i) => i.code === BPF.JA)).toBe(true);
    expect(run(prog, nr('ioctl'), [0n, 0x5400n + 39n, 0n])).toBe(errno(40));
    expect(run(prog, nr('ioctl'), [0n, 0x5400n + 39n, 39n])).toBe(RET.ALLOW);
    expect(run(prog, nr('mkdir'))).toBe(errno(13));
  });

  test('a program over the kernel limit is refused with the count', () => {
    const six = [0, 1, 2, 3, 4, 5].map((index) => ({ index, value: 0x1_0000_0001 + index, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 }));
    const entries = Array.from({ length: 120 }, () => ({ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: six }));
    let err: unknown;
    try {
      compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: entries });
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'SECCOMP_PROFILE_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/^seccomp profile `\/p\/test.json`: compiles to \d+ BPF instructions, more than the kernel's limit of 4096$/);
  });

  test('a profile that refuses what the shim calls after loading it is refused', () => {
    let err: unknown;
    try {
      compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'execve'], action: 'SCMP_ACT_ALLOW' }] });
    } catch (e) {
      err = e;
    }
    expect(isCorralError(err) && err.code).toBe('SECCOMP_PROFILE_INVALID');
    expect((err as Error).message).toBe('seccomp profile `/p/test.json`: refuses `setgroups`, `setresgid`, `setresuid`, `capset`, `prctl`, `close_range`, which corral calls after loading the filter to start the container');
    // A conditional entry may or may not match the shim's arguments: not refused.
    expect(() => compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['prctl'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 22, op: 'SCMP_CMP_EQ' }] }] })).not.toThrow();
  });

  test('entries that repeat the default action cost nothing', () => {
    const base = compile({ defaultAction: 'SCMP_ACT_ALLOW' }).instructions;
    expect(compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }] }).instructions).toBe(base);
  });
});
