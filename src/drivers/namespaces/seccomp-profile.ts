// A seccomp profile in OCI / Docker JSON form (`defaultAction`, `syscalls[].names`, `args`,
// Docker's `includes`/`excludes`), checked and turned into the few shapes seccomp-compile.ts turns
// into BPF. Every shape problem is collected, each naming the file and its JSON path, because a
// user fixing a profile wants them all in one run. Pure: the caller reads the file.

import { CorralError, diagnostic, type Diagnostic } from '../../errors.js';
import { PROFILE_FIELD, parseProfileJson } from './seccomp-json.js';

export type SeccompAction =
  | { readonly kind: 'allow' }
  | { readonly kind: 'log' }
  | { readonly kind: 'trap' }
  | { readonly kind: 'kill-thread' }
  | { readonly kind: 'kill-process' }
  | { readonly kind: 'errno'; readonly errno: number };

export type ArgOp = 'eq' | 'ne' | 'masked-eq';

/** One comparison of a 64-bit syscall argument; `masked-eq` is `(arg & value) == valueTwo`. */
export interface ArgCondition {
  readonly index: number;
  readonly op: ArgOp;
  readonly value: bigint;
  readonly valueTwo: bigint;
}

/** Docker's `includes`/`excludes`: capability names (`CAP_` form), arch names, a kernel `major.minor`. */
export interface RuleFilter {
  readonly caps: readonly string[];
  readonly arches: readonly string[];
  readonly minKernel: string | null;
}

export interface SeccompRule {
  /** The entry's JSON path, for messages: `syscalls[3]`. */
  readonly at: string;
  readonly names: readonly string[];
  readonly action: SeccompAction;
  readonly args: readonly ArgCondition[];
  readonly includes: RuleFilter | null;
  readonly excludes: RuleFilter | null;
}

export interface SeccompProfile {
  readonly file: string;
  readonly defaultAction: SeccompAction;
  readonly rules: readonly SeccompRule[];
  /** What corral ignores or does differently from runc; the profile still loads. */
  readonly warnings: readonly Diagnostic[];
}

export { PROFILE_FIELD };

/** errnoRet when a profile gives none, as runc does. */
export const DEFAULT_ERRNO = 1; // EPERM
/** The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO. */
const MAX_ERRNO = 4095;
const MAX_U64 = (1n << 64n) - 1n;

const ACTIONS: Readonly<Record<string, SeccompAction['kind']>> = {
  SCMP_ACT_ALLOW: 'allow', SCMP_ACT_LOG: 'log', SCMP_ACT_TRAP: 'trap', SCMP_ACT_ERRNO: 'errno',
  SCMP_ACT_KILL: 'kill-thread', SCMP_ACT_KILL_THREAD: 'kill-thread', SCMP_ACT_KILL_PROCESS: 'kill-process',
};
const REFUSED_ACTIONS: Readonly<Record<string, string>> = {
  SCMP_ACT_TRACE: 'it needs a ptrace(2) tracer attached to the container, and corral runs none',
  SCMP_ACT_NOTIFY: 'it needs a seccomp agent listening on `listenerPath`, and corral runs none',
};
const OPS: Readonly<Record<string, ArgOp>> = { SCMP_CMP_EQ: 'eq', SCMP_CMP_NE: 'ne', SCMP_CMP_MASKED_EQ: 'masked-eq' };
const REFUSED_OPS = ['SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GE', 'SCMP_CMP_GT'];
const SUPPORTED_OPS = 'SCMP_CMP_EQ, SCMP_CMP_NE and SCMP_CMP_MASKED_EQ';
/** TSYNC only matters to multithreaded loaders; the shim is single-threaded when it loads. */
const FLAGS_IGNORED_SILENTLY = ['SECCOMP_FILTER_FLAG_TSYNC'];
const FLAGS_IGNORED = ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'];
/** 32-bit ABIs that run on an x86-64 kernel: the filter kills them, as corral's default does. */
const FOREIGN_ABIS = ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'];

const TOP_KEYS = ['defaultAction', 'defaultErrnoRet', 'architectures', 'archMap', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls'];
const ENTRY_KEYS = ['names', 'name', 'action', 'errnoRet', 'args', 'comment', 'includes', 'excludes'];
const ARG_KEYS = ['index', 'value', 'valueTwo', 'op'];
const FILTER_KEYS = ['caps', 'arches', 'minKernel'];
const ARCHMAP_KEYS = ['architecture', 'subArchitectures'];

type Obj = Readonly<Record<string, unknown>>;

class Reader {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  constructor(readonly file: string) {}

  report(severity: 'error' | 'warning', at: string, what: string, extra: { detail?: string; hint?: string } = {}): void {
    const where = at ? `\`${at}\`: ` : '';
    (severity === 'error' ? this.errors : this.warnings).push(
      diagnostic(severity, 'SECCOMP_PROFILE_INVALID', `seccomp profile \`${this.file}\`: ${where}${what}`, { field: PROFILE_FIELD, ...extra }),
    );
  }

  object(v: unknown, at: string, keys: readonly string[]): Obj | null {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.report('error', at, `expected an object, found ${shown(v)}`);
      return null;
    }
    for (const k of Object.keys(v)) {
      if (!keys.includes(k)) this.report('error', join(at, k), 'unknown field', { detail: `expected one of ${keys.join(', ')}` });
    }
    return v as Obj;
  }

  /** `null` and absent both mean empty, as Go's JSON decoding leaves them. */
  list(v: unknown, at: string): readonly unknown[] {
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return v;
    this.report('error', at, `expected a list, found ${shown(v)}`);
    return [];
  }

  strings(v: unknown, at: string): string[] {
    return this.list(v, at).flatMap((s, i) => {
      if (typeof s === 'string' && s !== '') return [s];
      this.report('error', `${at}[${i}]`, `expected a non-empty string, found ${shown(s)}`);
      return [];
    });
  }

  integer(v: unknown, at: string, min: number, max: number): number | null {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    this.report('error', at, `expected an integer from ${min} to ${max}, found ${shown(v)}`);
    return null;
  }

  u64(v: unknown, at: string): bigint | null {
    const n = typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : typeof v === 'bigint' ? v : null;
    if (n !== null && n >= 0n && n <= MAX_U64) return n;
    this.report('error', at, `expected an unsigned 64-bit integer, found ${shown(v)}`);
    return null;
  }
}

function join(at: string, key: string): string {
  return at ? `${at}.${key}` : key;
}

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `\`${v.length > 40 ? `${v.slice(0, 40)}…` : v}\``;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `\`${String(v)}\``;
  return 'an object';
}

function action(r: Reader, name: unknown, errnoRet: unknown, at: string, errnoAt: string): SeccompAction | null {
  if (typeof name !== 'string') {
    r.report('error', at, `expected an action name (SCMP_ACT_…), found ${shown(name)}`);
    return null;
  }
  const reason = REFUSED_ACTIONS[name];
  if (reason !== undefined) {
    r.report('error', at, `action \`${name}\` is not supported: ${reason}`, { hint: 'use SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS or SCMP_ACT_LOG' });
    return null;
  }
  const kind = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
  if (kind === undefined) {
    r.report('error', at, `unknown action \`${name}\``, { detail: `expected one of ${Object.keys(ACTIONS).join(', ')}` });
    return null;
  }
  if (kind !== 'errno') {
    if (errnoRet !== undefined && errnoRet !== null) r.report('error', errnoAt, `is only allowed with SCMP_ACT_ERRNO, not with \`${name}\``);
    return { kind } as SeccompAction;
  }
  if (errnoRet === undefined || errnoRet === null) return { kind, errno: DEFAULT_ERRNO };
  const errno = r.integer(errnoRet, errnoAt, 0, MAX_ERRNO);
  return errno === null ? null : { kind, errno };
}

function ruleFilter(r: Reader, v: unknown, at: string): RuleFilter | null {
  if (v === undefined || v === null) return null;
  const o = r.object(v, at, FILTER_KEYS);
  if (!o) return null;
  const caps = r.strings(o['caps'], join(at, 'caps')).map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`));
  const arches = r.strings(o['arches'], join(at, 'arches'));
  let minKernel: string | null = null;
  if (o['minKernel'] !== undefined && o['minKernel'] !== null) {
    if (typeof o['minKernel'] === 'string' && /^\d+\.\d+(\.\d+)?$/.test(o['minKernel'])) minKernel = o['minKernel'];
    else r.report('error', join(at, 'minKernel'), `expected a kernel version like \`4.8\`, found ${shown(o['minKernel'])}`);
  }
  return { caps, arches, minKernel };
}

function argCondition(r: Reader, v: unknown, at: string, syscall: string): ArgCondition | null {
  const o = r.object(v, at, ARG_KEYS);
  if (!o) return null;
  const index = r.integer(o['index'], join(at, 'index'), 0, 5);
  const value = r.u64(o['value'], join(at, 'value'));
  const valueTwo = o['valueTwo'] === undefined || o['valueTwo'] === null ? 0n : r.u64(o['valueTwo'], join(at, 'valueTwo'));
  const opName = o['op'];
  const op = typeof opName === 'string' && Object.hasOwn(OPS, opName) ? OPS[opName] : undefined;
  if (op === undefined) {
    const what = typeof opName !== 'string' ? `expected a comparison (SCMP_CMP_…), found ${shown(opName)}`
      : REFUSED_OPS.includes(opName) ? `comparison \`${opName}\` (syscall \`${syscall}\`) is not supported`
        : `unknown comparison \`${opName}\` (syscall \`${syscall}\`)`;
    r.report('error', join(at, 'op'), what, { detail: `corral compiles ${SUPPORTED_OPS}` });
    return null;
  }
  return index === null || value === null || valueTwo === null ? null : { index, op, value, valueTwo };
}

function rule(r: Reader, v: unknown, at: string): SeccompRule | null {
  const o = r.object(v, at, ENTRY_KEYS);
  if (!o) return null;
  let names: string[] = [];
  if (o['names'] !== undefined && o['name'] !== undefined) {
    r.report('error', at, 'sets both `names` and `name`', { hint: 'keep `names`; `name` is the older single-call form' });
  } else if (o['name'] !== undefined) {
    names = r.strings([o['name']], join(at, 'name'));
  } else if (Array.isArray(o['names']) && o['names'].length > 0) {
    names = r.strings(o['names'], join(at, 'names'));
  } else {
    r.report('error', join(at, 'names'), `expected a non-empty list of system call names, found ${shown(o['names'])}`);
  }
  const first = names[0] ?? '?';
  const act = action(r, o['action'], o['errnoRet'], join(at, 'action'), join(at, 'errnoRet'));
  const args = r.list(o['args'], join(at, 'args')).map((a, i) => argCondition(r, a, `${at}.args[${i}]`, first));
  const includes = ruleFilter(r, o['includes'], join(at, 'includes'));
  const excludes = ruleFilter(r, o['excludes'], join(at, 'excludes'));
  if (o['comment'] !== undefined && typeof o['comment'] !== 'string') r.report('error', join(at, 'comment'), `expected a string, found ${shown(o['comment'])}`);
  if (!act || args.some((a) => a === null)) return null;
  return { at, names, action: act, args: args as ArgCondition[], includes, excludes };
}

function architectures(r: Reader, top: Obj): void {
  const arches = r.strings(top['architectures'], 'architectures');
  for (const [i, m] of r.list(top['archMap'], 'archMap').entries()) {
    const o = r.object(m, `archMap[${i}]`, ARCHMAP_KEYS);
    if (!o) continue;
    if (typeof o['architecture'] !== 'string') r.report('error', `archMap[${i}].architecture`, `expected an architecture name, found ${shown(o['architecture'])}`);
    r.strings(o['subArchitectures'], `archMap[${i}].subArchitectures`);
  }
  if (arches.length > 0 && !arches.includes('SCMP_ARCH_X86_64')) {
    r.report('error', 'architectures', `lists ${arches.map((a) => `\`${a}\``).join(', ')} but not SCMP_ARCH_X86_64, the only architecture corral compiles profiles for`, {
      hint: 'add SCMP_ARCH_X86_64, or leave `architectures` out',
    });
  }
  const foreign = arches.filter((a) => FOREIGN_ABIS.includes(a));
  if (foreign.length > 0) {
    r.report('warning', 'architectures', `${foreign.join(', ')} calls are not filtered by name: corral's filter kills any process that makes them`, {
      detail: 'only the x86-64 ABI is compiled, as in corral\'s default filter',
    });
  }
}

function flags(r: Reader, top: Obj): void {
  r.strings(top['flags'], 'flags').forEach((f, i) => {
    if (FLAGS_IGNORED_SILENTLY.includes(f)) return;
    if (FLAGS_IGNORED.includes(f)) r.report('warning', `flags[${i}]`, `\`${f}\` is ignored: the shim loads the filter without flags`);
    else r.report('error', `flags[${i}]`, `unknown filter flag \`${f}\``, { detail: `expected one of ${[...FLAGS_IGNORED_SILENTLY, ...FLAGS_IGNORED].join(', ')}` });
  });
  const listener = top['listenerPath'];
  if (listener !== undefined && listener !== null && listener !== '') {
    r.report('error', 'listenerPath', 'seccomp user notification is not supported: corral runs no seccomp agent');
  }
}

/**
 * Checks and converts a profile. Throws a SECCOMP_PROFILE_INVALID CorralError holding every
 * problem found (`diagnostics`) when the profile cannot be used as written.
 * @param file the profile's path, for messages only
 */
export function parseSeccompProfile(text: string, file: string): SeccompProfile {
  const r = new Reader(file);
  const top = r.object(parseProfileJson(text, file), '', TOP_KEYS);
  if (!top) throw invalid(r);
  const defaultAction = action(r, top['defaultAction'], top['defaultErrnoRet'], 'defaultAction', 'defaultErrnoRet');
  architectures(r, top);
  flags(r, top);
  const rules = r.list(top['syscalls'], 'syscalls').map((e, i) => rule(r, e, `syscalls[${i}]`));
  if (r.errors.length > 0 || !defaultAction) throw invalid(r);
  return { file, defaultAction, rules: rules as SeccompRule[], warnings: r.warnings };
}

function invalid(r: Reader): CorralError {
  const [first, ...rest] = r.errors;
  const summary = first ? first.summary : `seccomp profile \`${r.file}\` is not valid`;
  return new CorralError('SECCOMP_PROFILE_INVALID', summary, {
    field: PROFILE_FIELD,
    ...(first?.detail ? { detail: first.detail } : {}),
    ...(rest.length > 0 ? { hint: `and ${rest.length} more problem${rest.length > 1 ? 's' : ''} in the same file` } : {}),
    diagnostics: r.errors,
  });
}
