// Device allow-lists as the kernel keeps them, without a kernel: checking and merging rules, the
// v1 `devices.*` line format, and the order of writes that updates a live v1 cgroup without
// denying, even for a moment, a device that stays allowed. Pure.

import { BoundedMemo } from '../../bounded-memo.js';
import { CorralError } from '../../errors.js';
import type { DevicePolicy, DeviceRule } from './types.js';
import { compareText } from './compare-text.js';

const ACCESS_ORDER = ['r', 'w', 'm'] as const;

/** The kernel's largest device numbers (MINORBITS 20, majors 12 bits). */
export const MAX_MAJOR = 0xfff;
export const MAX_MINOR = 0xfffff;

/** Refuses a rule the kernel would refuse later with a bare EINVAL: the policy's maker has a bug. */
export function checkRule(rule: DeviceRule): void {
  const number = (n: number | null, max: number): boolean => n === null || (Number.isInteger(n) && n >= 0 && n <= max);
  const access = rule.access !== '' && [...rule.access].every((c, i, all) => ACCESS_ORDER.includes(c as 'r') && all.indexOf(c) === i);
  if ((rule.type !== 'c' && rule.type !== 'b') || !number(rule.major, MAX_MAJOR) || !number(rule.minor, MAX_MINOR) || !access) {
    throw new CorralError('INTERNAL', `device rule \`${JSON.stringify(rule)}\` is not valid`, {
      detail: `expected type \`c\` or \`b\`, major 0-${MAX_MAJOR} or null, minor 0-${MAX_MINOR} or null, access a non-empty subset of \`rwm\``,
    });
  }
}

function canonicalAccess(letters: Iterable<string>): string {
  const set = new Set(letters);
  return ACCESS_ORDER.filter((c) => set.has(c)).join('');
}

const key = (r: DeviceRule): string => `${r.type} ${r.major ?? '*'}:${r.minor ?? '*'}`;

/**
 * The rules as the kernel stores them: one entry per (type, major, minor), accesses merged (the
 * v1 controller ORs an `allow` into an existing entry of the same numbers), in a stable order.
 */
export function normalizeRules(rules: readonly DeviceRule[]): DeviceRule[] {
  const byKey = new Map<string, DeviceRule>();
  for (const r of rules) {
    checkRule(r);
    const had = byKey.get(key(r));
    byKey.set(key(r), { type: r.type, major: r.major, minor: r.minor, access: canonicalAccess([...(had?.access ?? ''), ...r.access]) });
  }
  const n = (x: number | null): number => (x === null ? -1 : x);
  return [...byKey.values()].sort((a, b) => compareText(a.type, b.type) || n(a.major) - n(b.major) || n(a.minor) - n(b.minor));
}

/** A v1 `devices.allow`/`devices.list` line: `c 1:3 rwm`, `c 136:* rwm`. */
export function formatV1Rule(rule: DeviceRule): string {
  return `${key(rule)} ${rule.access}`;
}

/**
 * A v1 `devices.list`. The kernel prints `a *:* rwm` alone while the cgroup allows everything by
 * default (any deny exceptions it holds then are not shown), and its allow exceptions otherwise.
 */
export function parseV1List(text: string): DevicePolicy {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const rules: DeviceRule[] = [];
  for (const line of lines) {
    const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line);
    if (!m) throw new CorralError('CGROUP_READ_FAILED', `\`devices.list\` line \`${line}\` is not \`TYPE MAJOR:MINOR ACCESS\``);
    if (m[1] === 'a') return { allowAll: true };
    const num = (s: string): number | null => (s === '*' ? null : Number(s));
    rules.push({ type: m[1] as 'c' | 'b', major: num(m[2]!), minor: num(m[3]!), access: m[4]! });
  }
  return { allowAll: false, rules };
}

/** The rules as the kernel stores them, one `devices.list` line each (equal texts allow the same), and how many. */
interface NormalizedRules {
  readonly text: string;
  readonly count: number;
}

/**
 * Normalized texts by the rules as given (their JSON): a resync compares the same few policies for
 * every container it reads, and normalizing them each time was a quarter of what an idle agent
 * allocated with 500 containers.
 */
const normalizedTexts = new BoundedMemo<string, NormalizedRules>(256);
/** The same, by the list itself: a spec's list and a parsed `devices.list` are kept from pass to pass. */
const textsByList = new WeakMap<readonly DeviceRule[], NormalizedRules>();

function normalized(rules: readonly DeviceRule[]): NormalizedRules {
  const known = textsByList.get(rules);
  if (known !== undefined) return known;
  const found = normalizedTexts.getOrMake(JSON.stringify(rules), () => {
    const lines = normalizeRules(rules).map(formatV1Rule);
    return { text: lines.join('\n'), count: lines.length };
  });
  textsByList.set(rules, found);
  return found;
}

/** Whether two policies allow exactly the same (rules compared as the kernel stores them). */
export function samePolicy(a: DevicePolicy, b: DevicePolicy): boolean {
  if (a.allowAll || b.allowAll) return a.allowAll === b.allowAll;
  return normalized(a.rules).text === normalized(b.rules).text;
}

/** A short summary for drift reports and messages: `a *:* rwm`, `8 rules`. */
export function describePolicy(p: DevicePolicy): string {
  if (p.allowAll) return 'a *:* rwm';
  const n = normalized(p.rules).count;
  return n === 0 ? 'no device allowed' : `${n} rule${n === 1 ? '' : 's'}`;
}

export interface V1Write {
  readonly file: 'devices.allow' | 'devices.deny';
  readonly value: string;
}

/**
 * The writes that take a v1 devices cgroup from `current` to `desired`, in order.
 * - To allow all: `devices.allow a` (clears every exception; the parent allows all).
 * - From allow-all to a list: `devices.deny a` first (it clears the list and denies everything),
 *   then one `allow` per rule. Everything is denied between the two: acceptable only here, where
 *   the cgroup enforced nothing before, and create does it before any process joins.
 * - From a list to a list: new allows first, then denies of what is no longer allowed (per access
 *   letter, exact numbers: a deny in allow-list mode removes bits from the matching exception), so
 *   a device allowed before and after is never denied in between.
 */
export function v1Writes(current: DevicePolicy, desired: DevicePolicy): V1Write[] {
  if (desired.allowAll) return current.allowAll ? [] : [{ file: 'devices.allow', value: 'a' }];
  const want = normalizeRules(desired.rules);
  const allows = (rules: readonly DeviceRule[]): V1Write[] => rules.map((r) => ({ file: 'devices.allow', value: formatV1Rule(r) }));
  if (current.allowAll) return [{ file: 'devices.deny', value: 'a' }, ...allows(want)];
  const have = new Map(normalizeRules(current.rules).map((r) => [key(r), r]));
  const wantByKey = new Map(want.map((r) => [key(r), r]));
  const added = want.filter((r) => canonicalAccess([...(have.get(key(r))?.access ?? ''), ...r.access]) !== (have.get(key(r))?.access ?? ''));
  const denies: V1Write[] = [];
  for (const [k, r] of have) {
    const keep = wantByKey.get(k)?.access ?? '';
    const drop = canonicalAccess([...r.access].filter((c) => !keep.includes(c)));
    if (drop !== '') denies.push({ file: 'devices.deny', value: formatV1Rule({ ...r, access: drop }) });
  }
  return [...allows(added), ...denies];
}
