// A parsed seccomp profile → classic BPF for x86-64, the program the shim loads as-is. Pure.
//
// Layout (every jump forward, every offset within 8 bits, or a JA for long blocks):
//   arch != x86-64 → kill; nr has the x32 bit → kill      (as corral's default filter)
//   dispatch on nr (seccomp-dispatch.ts: a binary search over intervals of numbers)
//     a number no entry names → ret default action
//     a number beyond the syscall table → ENOSYS          (deny-by-default profiles only)
//     a syscall the profile names → its code:
//       clause 1: argument tests ─fail─► clause 2 …; all pass → ret action
//       … ret default action (when the last clause had tests)
// Semantics follow runc: the first matching entry in file order wins; the conditions of one entry
// must all hold, except that conditions repeating an argument index are alternatives (runc adds
// one libseccomp rule per condition then).

import { CorralError, diagnostic, type Diagnostic } from '../../errors.js';
import { BPF, BPF_MAX_INSNS, RET, SECCOMP_DATA, encodeProgram, insn, x86_64Prologue, type Insn } from './seccomp-bpf.js';
import { linearDispatch, searchTreeDispatch, type Fallbacks, type SyscallCode } from './seccomp-dispatch.js';
import { PROFILE_FIELD, type ArgCondition, type RuleFilter, type SeccompAction, type SeccompProfile, type SeccompRule } from './seccomp-profile.js';
import { MAX_SYSCALL_X86_64, SYSCALLS_X86_64 } from './syscalls-x86_64.js';

const ENOSYS = 38;
/** Names in Docker's `includes.arches`/`excludes.arches` that mean this host. */
const OUR_ARCH_NAMES = ['amd64', 'x86_64', 'SCMP_ARCH_X86_64'];
/**
 * What the shim calls after loading the filter (shim/exec.c › process_exec): a profile that
 * refuses one of them unconditionally can never start a container.
 */
export const SHIM_CALLS_AFTER_FILTER = ['setgroups', 'setresgid', 'setresuid', 'capset', 'prctl', 'close_range', 'execve'];

export interface SeccompContext {
  /** The container's capabilities (`CAP_` names), for `includes.caps`/`excludes.caps`. */
  readonly capabilities: readonly string[];
  /** The host's `uname -r`, for `minKernel`; null counts every `minKernel` as met. */
  readonly kernelRelease: string | null;
  readonly container?: string;
}

export interface CompileOptions {
  /** `linear` is the chain of `jeq` corral first emitted, kept to check the search tree against. */
  readonly dispatch?: 'search-tree' | 'linear';
}

export interface CompiledSeccomp {
  /** sock_filter array, 8 bytes per instruction. */
  readonly program: Uint8Array;
  readonly instructions: number;
  /** The profile's own warnings, then unknown syscall names and conflicting entries. */
  readonly warnings: readonly Diagnostic[];
}

interface Clause {
  readonly action: SeccompAction;
  readonly conditions: readonly ArgCondition[];
}

/** Returns a negative, zero or positive number as `release` is below, at or above `min` (major.minor). */
function compareKernel(release: string, min: string): number {
  const [a = 0, b = 0] = release.split(/[.-]/).map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a !== c ? a - c : b - d;
}

function filterMatches(f: RuleFilter, ctx: SeccompContext): boolean {
  return f.caps.every((c) => ctx.capabilities.includes(c))
    && (f.arches.length === 0 || f.arches.some((a) => OUR_ARCH_NAMES.includes(a)))
    && (f.minKernel === null || ctx.kernelRelease === null || compareKernel(ctx.kernelRelease, f.minKernel) >= 0);
}

/** Docker's rule: every `includes` condition holds, and no `excludes` condition does. */
function applies(rule: SeccompRule, ctx: SeccompContext): boolean {
  if (rule.includes && !filterMatches(rule.includes, ctx)) return false;
  const ex = rule.excludes;
  if (!ex) return true;
  return !(ex.caps.some((c) => ctx.capabilities.includes(c))
    || ex.arches.some((a) => OUR_ARCH_NAMES.includes(a))
    || (ex.minKernel !== null && ctx.kernelRelease !== null && compareKernel(ctx.kernelRelease, ex.minKernel) >= 0));
}

function clausesOf(rule: SeccompRule): Clause[] {
  const indexes = rule.args.map((a) => a.index);
  const repeats = new Set(indexes).size !== indexes.length;
  return repeats ? rule.args.map((a) => ({ action: rule.action, conditions: [a] })) : [{ action: rule.action, conditions: rule.args }];
}

function retValue(a: SeccompAction): number {
  switch (a.kind) {
    case 'allow': return RET.ALLOW;
    case 'log': return RET.LOG;
    case 'trap': return RET.TRAP;
    case 'kill-thread': return RET.KILL_THREAD;
    case 'kill-process': return RET.KILL_PROCESS;
    case 'errno': return (RET.ERRNO | a.errno) >>> 0;
  }
}

const sameAction = (a: SeccompAction, b: SeccompAction): boolean => retValue(a) === retValue(b);
const words = (v: bigint): [hi: number, lo: number] => [Number(v >> 32n), Number(v & 0xffffffffn)];

/** One clause: tests whose failure jumps past its RET. At most 6 tests of 6 insns: offsets fit. */
function clauseCode(c: Clause): Insn[] {
  const code: { i: Insn; failOn?: 'jt' | 'jf' }[] = [];
  const ld = (off: number): void => void code.push({ i: insn(BPF.LD_W_ABS, off) });
  for (const cond of c.conditions) {
    const [hi, lo] = words(cond.value);
    const hiOff = SECCOMP_DATA.argHigh(cond.index);
    const loOff = SECCOMP_DATA.argLow(cond.index);
    if (cond.op === 'eq') {
      ld(hiOff); code.push({ i: insn(BPF.JEQ_K, hi), failOn: 'jf' });
      ld(loOff); code.push({ i: insn(BPF.JEQ_K, lo), failOn: 'jf' });
    } else if (cond.op === 'ne') {
      // Either word differing is enough: a differing high word skips the low-word test.
      ld(hiOff); code.push({ i: insn(BPF.JEQ_K, hi, 0, 2) });
      ld(loOff); code.push({ i: insn(BPF.JEQ_K, lo), failOn: 'jt' });
    } else {
      const [mhi, mlo] = [hi, lo];
      const [dhi, dlo] = words(cond.valueTwo);
      if (mhi !== 0 || dhi !== 0) {
        ld(hiOff); code.push({ i: insn(BPF.AND_K, mhi) }, { i: insn(BPF.JEQ_K, dhi), failOn: 'jf' });
      }
      if (mlo !== 0 || dlo !== 0) {
        ld(loOff); code.push({ i: insn(BPF.AND_K, mlo) }, { i: insn(BPF.JEQ_K, dlo), failOn: 'jf' });
      }
    }
  }
  code.push({ i: insn(BPF.RET_K, retValue(c.action)) });
  return code.map(({ i, failOn }, n) => (failOn ? { ...i, [failOn]: code.length - n - 1 } : i));
}

/** A syscall's code: its clauses, then the default action if the last one could fail. */
function syscallBody(clauses: readonly Clause[], fallback: SeccompAction): Insn[] {
  const body = clauses.flatMap(clauseCode);
  if ((clauses.at(-1)?.conditions.length ?? 0) > 0) body.push(insn(BPF.RET_K, retValue(fallback)));
  return body;
}

function warn(p: SeccompProfile, ctx: SeccompContext, summary: string, detail?: string): Diagnostic {
  return diagnostic('warning', 'SECCOMP_PROFILE_INVALID', `seccomp profile \`${p.file}\`: ${summary}`, {
    field: PROFILE_FIELD, ...(detail ? { detail } : {}), ...(ctx.container ? { container: ctx.container } : {}),
  });
}

function refuse(p: SeccompProfile, ctx: SeccompContext, summary: string, hint: string): CorralError {
  return new CorralError('SECCOMP_PROFILE_INVALID', `seccomp profile \`${p.file}\`: ${summary}`, {
    field: PROFILE_FIELD, hint, ...(ctx.container ? { container: ctx.container } : {}),
  });
}

/** Syscall number → its clauses, in the order the profile first names each call. */
function groupBySyscall(p: SeccompProfile, ctx: SeccompContext, warnings: Diagnostic[]): Map<number, Clause[]> {
  const groups = new Map<number, Clause[]>();
  const unknown = new Set<string>();
  /** The entry whose unconditional clause decides a call: later entries never run for it. */
  const decidedBy = new Map<number, SeccompRule>();
  for (const rule of p.rules) {
    if (!applies(rule, ctx)) continue;
    for (const name of rule.names) {
      if (!Object.hasOwn(SYSCALLS_X86_64, name)) {
        unknown.add(name);
        continue;
      }
      const nr = SYSCALLS_X86_64[name]!;
      const decided = decidedBy.get(nr);
      if (decided) {
        if (!sameAction(decided.action, rule.action)) {
          warnings.push(warn(p, ctx, `\`${name}\` in \`${rule.at}\` is ignored: \`${decided.at}\` already decides it`, 'the first matching entry wins'));
        }
        continue;
      }
      const clauses = groups.get(nr) ?? [];
      groups.set(nr, clauses);
      clauses.push(...clausesOf(rule));
      if (rule.args.length === 0) decidedBy.set(nr, rule);
    }
  }
  if (unknown.size > 0) {
    // Usually names of other ABIs (`stat64`, `socketcall`) in a profile written for several.
    const names = [...unknown].sort().map((n) => `\`${n}\``);
    const shownNames = names.length > 6 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    warnings.push(warn(p, ctx, `${names.length} system call name${names.length > 1 ? 's are' : ' is'} unknown on x86-64 and ignored: ${shownNames}`,
      `${names.length > 6 ? `all of them: ${names.join(', ')}. ` : ''}corral knows the ${Object.keys(SYSCALLS_X86_64).length} x86-64 calls up to number ${MAX_SYSCALL_X86_64}; `
      + 'a newer call gets ENOSYS when the default action refuses, the default action otherwise'));
  }
  // Trailing clauses that do what the default does anyway cost instructions and change nothing.
  for (const [nr, clauses] of groups) {
    while (clauses.length > 0 && sameAction(clauses.at(-1)!.action, p.defaultAction)) clauses.pop();
    if (clauses.length === 0) groups.delete(nr);
  }
  return groups;
}

/** What a call made with any arguments gets, or null when that depends on the arguments. */
function unconditionalAction(groups: Map<number, Clause[]>, nr: number, fallback: SeccompAction): SeccompAction | null {
  const clauses = groups.get(nr);
  if (!clauses) return fallback;
  return clauses[0]!.conditions.length === 0 ? clauses[0]!.action : null;
}

/** Throws SECCOMP_PROFILE_INVALID when the program would be refused or could not start anything. */
export function compileSeccompProfile(p: SeccompProfile, ctx: SeccompContext, opts: CompileOptions = {}): CompiledSeccomp {
  const warnings: Diagnostic[] = [...p.warnings.map((w) => (ctx.container ? { ...w, container: ctx.container } : w))];
  const groups = groupBySyscall(p, ctx, warnings);
  const blocked = SHIM_CALLS_AFTER_FILTER.filter((name) => {
    const a = unconditionalAction(groups, SYSCALLS_X86_64[name]!, p.defaultAction);
    return a !== null && a.kind !== 'allow' && a.kind !== 'log';
  });
  if (blocked.length > 0) {
    throw refuse(p, ctx, `refuses ${blocked.map((n) => `\`${n}\``).join(', ')}, which corral calls after loading the filter to start the container`,
      `allow ${SHIM_CALLS_AFTER_FILTER.join(', ')} (Docker's default profile does)`);
  }
  const calls: SyscallCode[] = [...groups].map(([nr, clauses]) => ({ nr, body: syscallBody(clauses, p.defaultAction) }));
  const refusing = p.defaultAction.kind !== 'allow' && p.defaultAction.kind !== 'log';
  const fallbacks: Fallbacks = {
    unnamed: retValue(p.defaultAction),
    maxKnown: MAX_SYSCALL_X86_64,
    // As runc does: calls newer than the table may be ones the profile allows by a name corral
    // cannot map; ENOSYS (not EPERM) lets libc fall back to the older call it replaced.
    newer: refusing ? (RET.ERRNO | ENOSYS) >>> 0 : null,
  };
  const dispatch = opts.dispatch === 'linear' ? linearDispatch : searchTreeDispatch;
  const program: Insn[] = [...x86_64Prologue(), ...dispatch(calls, fallbacks)];
  if (program.length > BPF_MAX_INSNS) {
    throw refuse(p, ctx, `compiles to ${program.length} BPF instructions, more than the kernel's limit of ${BPF_MAX_INSNS}`,
      'merge entries that share an action, or drop argument conditions');
  }
  return { program: encodeProgram(program), instructions: program.length, warnings };
}
