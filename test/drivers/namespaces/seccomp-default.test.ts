// corral's default seccomp profile (src/drivers/namespaces/seccomp-default.json): every x86-64
// system call of this host's table has exactly one verdict in it, and the compiled program does
// what the file says. No kernel: the program runs in bpf-run.ts.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { hasCode } from '../../../src/errors.js';
import { DEFAULT_PROFILE_PATH, defaultSeccompProgram } from '../../../src/drivers/namespaces/seccomp.js';
import { BPF_MAX_INSNS, RET, X32_SYSCALL_BIT } from '../../../src/drivers/namespaces/seccomp-bpf.js';
import { compileSeccompProfile, SHIM_CALLS_AFTER_FILTER } from '../../../src/drivers/namespaces/seccomp-compile.js';
import { parseSeccompProfile, type SeccompAction, type SeccompRule } from '../../../src/drivers/namespaces/seccomp-profile.js';
import { MAX_SYSCALL_X86_64, SYSCALLS_X86_64 } from '../../../src/drivers/namespaces/syscalls-x86_64.js';
import { AUDIT_ARCH_I386, decode, run, trace } from './bpf-run.js';

const HEADER = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';

/** The host's table (linux-libc-dev), else the generated one; null when neither is there. */
function hostSyscallTable(): { source: string; table: ReadonlyMap<string, number> } | null {
  if (existsSync(HEADER)) {
    const table = new Map<string, number>();
    for (const m of readFileSync(HEADER, 'utf8').matchAll(/^#define __NR_([a-z0-9_]+)\s+(\d+)\s*$/gm)) table.set(m[1]!, Number(m[2]));
    return { source: HEADER, table };
  }
  const generated = new Map(Object.entries(SYSCALLS_X86_64));
  return generated.size > 0 ? { source: 'syscalls-x86_64.ts', table: generated } : null;
}

const host = hostSyscallTable();
if (!host && process.env['CI'] === 'true') throw new Error(`no x86-64 syscall table: neither ${HEADER} nor the generated syscalls-x86_64.ts, and CI=true forbids skipping`);
if (!host) process.stderr.write('skipped: no x86-64 syscall table on this host\n');

const text = readFileSync(DEFAULT_PROFILE_PATH, 'utf8');
const profile = parseSeccompProfile(text, DEFAULT_PROFILE_PATH);
const compiled = compileSeccompProfile(profile, { capabilities: [], kernelRelease: null });
const prog = decode(compiled.program);
const nr = (name: string): number => SYSCALLS_X86_64[name]!;
const errno = (e: number): number => (RET.ERRNO | e) >>> 0;
const ENOSYS = errno(38);
const EPERM = errno(1);
const EAFNOSUPPORT = errno(97);

const unconditional = profile.rules.filter((r) => r.args.length === 0);
const conditional = profile.rules.filter((r) => r.args.length > 0);
/** The one entry that decides `name` whatever its arguments. */
const verdictOf = (name: string): SeccompRule | undefined => unconditional.find((r) => r.names.includes(name));
const retOf = (a: SeccompAction): number => (a.kind === 'allow' ? RET.ALLOW : a.kind === 'errno' ? errno(a.errno) : -1);

/** Deterministic argument vectors: zeros, all ones, and a spread of 64-bit values. */
const ARGS: readonly (readonly bigint[])[] = [
  [],
  Array<bigint>(6).fill(0xffff_ffff_ffff_ffffn),
  [0x7e02_0080n, 1n, 10n, 0x1_0000_0002n, 0xdead_beefn, 42n],
  [0x8000_0000_0000_0001n, 0x40n, 0xffff_ffffn, 3n, 0n, 0x1234_5678_9abc_def0n],
];

(host ? describe : describe.skip)('default seccomp profile, the file', () => {
  const table = host!.table;

  test('refuses by default with ENOSYS, for x86-64 only', () => {
    expect(profile.defaultAction).toEqual({ kind: 'errno', errno: 38 });
    expect((JSON.parse(text) as { architectures: string[] }).architectures).toEqual(['SCMP_ARCH_X86_64']);
  });

  test(`names every system call of the host table in exactly one unconditional entry (${host?.source ?? 'none'})`, () => {
    const problems = [...table.keys()].flatMap((name) => {
      const n = unconditional.filter((r) => r.names.includes(name)).length;
      return n === 1 ? [] : [`${name}: ${n} unconditional entries`];
    });
    expect(problems).toEqual([]);
  });

  test('names nothing the host table does not know', () => {
    const unknown = profile.rules.flatMap((r) => r.names.filter((name) => !table.has(name)).map((name) => `${r.at}: ${name}`));
    expect(unknown).toEqual([]);
  });

  test('the generated table corral compiles with is current with the host header (else run `node scripts/gen-syscalls.mjs`)', () => {
    const stale = [...table].filter(([name, n]) => SYSCALLS_X86_64[name] !== n).map(([name, n]) => `${name}=${n}`);
    expect(stale).toEqual([]);
  });

  test('an entry with argument conditions comes before the entry that decides its calls otherwise', () => {
    const dead = conditional.flatMap((c) => c.names.filter((name) => {
      const decider = verdictOf(name);
      return !decider || profile.rules.indexOf(decider) < profile.rules.indexOf(c);
    }).map((name) => `${c.at}: ${name}`));
    expect(dead).toEqual([]);
  });

  test('every entry says why in a comment, and none depends on capabilities, architectures or the kernel', () => {
    const entries = (JSON.parse(text) as { syscalls: { comment?: string }[] }).syscalls;
    expect(entries.map((e, i) => (e.comment?.trim() ? null : `syscalls[${i}]`)).filter(Boolean)).toEqual([]);
    // The program is built once per process and shared by every container: nothing may vary.
    expect(profile.rules.filter((r) => r.includes || r.excludes).map((r) => r.at)).toEqual([]);
  });

  test('the calls corral\'s shim makes after loading the filter are allowed whatever their arguments', () => {
    for (const name of SHIM_CALLS_AFTER_FILTER) {
      expect(`${name}: ${verdictOf(name)?.action.kind}`).toBe(`${name}: allow`);
      expect(conditional.filter((r) => r.names.includes(name)).map((r) => r.at)).toEqual([]);
      for (const args of ARGS) expect(`${name}: ${run(prog, nr(name), args)}`).toBe(`${name}: ${RET.ALLOW}`);
    }
  });
});

describe('default seccomp profile, compiled', () => {
  test('compiles without warnings, far under the kernel limit, and decides any call in a few steps', () => {
    expect(compiled.warnings).toEqual([]);
    expect(compiled.instructions).toBeLessThan(BPF_MAX_INSNS / 8);
    const longest = Math.max(...Array.from({ length: MAX_SYSCALL_X86_64 + 40 }, (_, n) => Math.max(...ARGS.map((a) => trace(prog, n, a).steps))));
    // Prologue 6, ~7 comparisons of the search tree, then at most the 5 clauses of `personality`.
    expect(longest).toBeLessThanOrEqual(36);
  });

  test('every call without argument conditions gets the verdict of its entry, whatever its arguments', () => {
    const wrong = Object.keys(SYSCALLS_X86_64).filter((name) => !conditional.some((r) => r.names.includes(name))).flatMap((name) => {
      const want = retOf(verdictOf(name)!.action);
      return ARGS.filter((a) => run(prog, nr(name), a) !== want).map((a) => `${name}(${a.join(', ')})`);
    });
    expect(wrong).toEqual([]);
  });

  test('numbers above the table, and gaps in it, get ENOSYS', () => {
    for (let n = MAX_SYSCALL_X86_64 + 1; n <= MAX_SYSCALL_X86_64 + 64; n++) expect(`${n}: ${run(prog, n)}`).toBe(`${n}: ${ENOSYS}`);
    // statmount, listmount and open_tree_attr on the kernels of 2025.
    expect([457, 458, 467].map((n) => run(prog, n))).toEqual([ENOSYS, ENOSYS, ENOSYS]);
    expect([335, 400, 423, 0x3fff_ffff, X32_SYSCALL_BIT - 1].map((n) => run(prog, n))).toEqual(Array(5).fill(ENOSYS));
    expect(run(prog, nr('clone3'))).toBe(ENOSYS);
  });

  test('x32 calls and foreign architectures kill the process', () => {
    expect(run(prog, X32_SYSCALL_BIT | nr('read'))).toBe(RET.KILL_PROCESS);
    expect(run(prog, 0xffff_ffff)).toBe(RET.KILL_PROCESS);
    expect(run(prog, nr('read'), [], AUDIT_ARCH_I386)).toBe(RET.KILL_PROCESS);
  });

  test('clone: allowed without namespace flags, EPERM with any of them', () => {
    const threads = 0x3d0f00n; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
    expect(run(prog, nr('clone'), [threads])).toBe(RET.ALLOW);
    expect(run(prog, nr('clone'), [0x11n])).toBe(RET.ALLOW); // fork(): SIGCHLD
    expect(run(prog, nr('clone'), [0x1_0000_0011n])).toBe(RET.ALLOW); // the kernel reads 32 bits
    for (const flag of [0x00020000n, 0x02000000n, 0x04000000n, 0x08000000n, 0x10000000n, 0x20000000n, 0x40000000n, 0x80n]) {
      expect(`${flag.toString(16)}: ${run(prog, nr('clone'), [flag | 0x11n])}`).toBe(`${flag.toString(16)}: ${EPERM}`);
    }
  });

  test('socket: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK and AF_PACKET; EAFNOSUPPORT for every other family', () => {
    for (const family of [1n, 2n, 10n, 16n, 17n, 0x1_0000_0002n]) expect(run(prog, nr('socket'), [family, 1n])).toBe(RET.ALLOW);
    // AF_UNSPEC, AX25, IPX, KEY, RDS, TIPC, ALG, VSOCK, XDP, MCTP, and beyond AF_MAX.
    for (const family of [0n, 3n, 4n, 15n, 21n, 30n, 38n, 40n, 44n, 45n, 46n, 255n, 0xffff_ffffn]) {
      expect(`${family}: ${run(prog, nr('socket'), [family, 1n])}`).toBe(`${family}: ${EAFNOSUPPORT}`);
    }
    expect(run(prog, nr('socketpair'), [1n, 1n, 0n])).toBe(RET.ALLOW);
    expect(run(prog, nr('socketpair'), [30n, 5n, 0n])).toBe(EAFNOSUPPORT);
  });

  test('personality: the usual values and the query are allowed, anything else is EPERM', () => {
    for (const v of [0n, 0x8n, 0x20000n, 0x20008n, 0xffff_ffffn, 0xffff_ffff_ffff_ffffn]) expect(run(prog, nr('personality'), [v])).toBe(RET.ALLOW);
    for (const v of [0x0400000n, 0x0040000n, 0x1n, 0x0020001n]) expect(run(prog, nr('personality'), [v])).toBe(EPERM);
  });

  test('the known-dangerous calls get EPERM', () => {
    const refused = ['mount', 'umount2', 'pivot_root', 'fsopen', 'open_tree', 'move_mount', 'mount_setattr', 'unshare', 'setns', 'keyctl', 'add_key',
      'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'init_module', 'finit_module', 'kexec_load', 'reboot', 'swapon', 'clock_settime',
      'settimeofday', 'open_by_handle_at', 'process_vm_writev', 'iopl', 'acct', 'syslog'];
    expect(refused.filter((name) => run(prog, nr(name)) !== EPERM)).toEqual([]);
  });
});

describe('defaultSeccompProgram', () => {
  test('is the compiled profile, built once, and every caller gets its own copy', () => {
    const first = defaultSeccompProgram('x64');
    expect(Buffer.from(first)).toEqual(Buffer.from(compiled.program));
    first.fill(0);
    expect(Buffer.from(defaultSeccompProgram('x64'))).toEqual(Buffer.from(compiled.program));
  });

  test('refuses other architectures', () => {
    let err: unknown;
    try {
      defaultSeccompProgram('arm64');
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'HOST_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toBe('the default seccomp filter knows x86-64 syscall numbers only, not `arm64`');
  });
});
