// Words for the plan: reasons built from field diffs and exits, and the code of an exit. Pure.

import { FILE_REFERENCE } from '../../manifest/spec.js';
import { formatDuration } from '../../manifest/duration.js';
import { formatBytes } from '../../manifest/quantity.js';
import type { ExitRecord } from '../../state/record.js';
import type { ReasonCode } from './reasons.js';
import type { FieldDiff } from './types.js';

/** Longer values are cut, and say so with their length: a cut value never passes for a whole one. */
const SHOWN_CHARS = 80;
/** How much of a cut value is shown. */
const EXCERPT_CHARS = 60;
/** Context kept before the first difference when two long values differ further on. */
const CONTEXT_CHARS = 20;
/** Variables named in one env reason; the rest are counted. */
const ENV_CHANGES_SHOWN = 8;

export function describeValue(path: string, value: unknown): string {
  // No user namespace is a setting of its own, not a missing value.
  if (path === 'namespaces.user' && value === null) return 'none (root inside is root on the host)';
  if (value === null || value === undefined) return 'unset';
  if (typeof value === 'number' && /Bytes$/.test(path)) return formatBytes(value);
  if (typeof value === 'number' && /Ms$/.test(path)) return formatDuration(value);
  if (typeof value === 'number' && path.endsWith('cpuMillis')) return `${value / 1000} CPU`;
  return clip(typeof value === 'string' ? value : JSON.stringify(value));
}

export function describeDiff(d: FieldDiff): string {
  // A secret's content: that it changed, nothing of either version (not even its keyed digest).
  if (d.path.startsWith(`references.${FILE_REFERENCE}secret/`)) return `${d.path}: the secret's content changed`;
  return describeEnvDiff(d) ?? `${d.path}: ${describeValue(d.path, d.before)} → ${describeValue(d.path, d.after)}`;
}

/**
 * `text` whole when short; otherwise EXCERPT_CHARS of it from `from` (code points, so no
 * character is split), with `…` where text is left out and the full length.
 */
function clip(text: string, from = 0): string {
  const chars = Array.from(text);
  if (chars.length <= SHOWN_CHARS) return text;
  const start = Math.max(0, Math.min(from, chars.length - EXCERPT_CHARS));
  const end = start + EXCERPT_CHARS;
  return `${start > 0 ? '…' : ''}${chars.slice(start, end).join('')}${end < chars.length ? '…' : ''} (${chars.length} chars)`;
}

/** A variable's value, or the secret it is read from (whose content is never shown). */
interface EnvEntry {
  readonly value: string;
  readonly secret: string | null;
}

function envValue(entry: EnvEntry | undefined, from: number): string {
  if (entry === undefined) return 'unset';
  if (entry.secret !== null) return `from secret \`${entry.secret}\``;
  return entry.value === '' ? '""' : clip(entry.value, from);
}

/** Where two strings first differ, in code points. */
function firstDifference(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i;
}

function envMap(value: unknown): Map<string, EnvEntry> | null {
  if (value === null || value === undefined) return new Map();
  if (!Array.isArray(value)) return null;
  const out = new Map<string, EnvEntry>();
  for (const v of value as unknown[]) {
    if (typeof v !== 'object' || v === null) return null;
    const { name, value: text, secret } = v as { name?: unknown; value?: unknown; secret?: unknown };
    if (typeof name !== 'string' || typeof text !== 'string') return null;
    out.set(name, { value: text, secret: typeof secret === 'string' ? secret : null });
  }
  return out;
}

/**
 * A changed environment, one variable at a time (`process.env.MODE: one → two`): the list as one
 * JSON value hid the variable that changed behind the ones before it. Two long values that
 * differ far in are both shown from a little before their first difference.
 */
function describeEnvDiff(d: FieldDiff): string | null {
  if (d.path !== 'process.env') return null;
  const before = envMap(d.before);
  const after = envMap(d.after);
  if (before === null || after === null) return null;
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: string[] = [];
  for (const name of names) {
    const a = before.get(name);
    const b = after.get(name);
    if (a?.value === b?.value && a?.secret === b?.secret) continue;
    const from = a?.secret === null && b?.secret === null ? Math.max(0, firstDifference(a.value, b.value) - CONTEXT_CHARS) : 0;
    changes.push(`${d.path}.${name}: ${envValue(a, from)} → ${envValue(b, from)}`);
  }
  if (changes.length === 0) return null;
  const more = changes.length - ENV_CHANGES_SHOWN;
  return more > 0 ? `${changes.slice(0, ENV_CHANGES_SHOWN).join('; ')}; and ${more} more variable${more === 1 ? '' : 's'}` : changes.join('; ');
}

/** The code of an exit, as describeExit words it. */
export function exitReasonCode(exit: ExitRecord | null): ReasonCode {
  if (!exit) return 'exited';
  if (exit.unknown) return 'exit-unknown';
  if (exit.oomKilled) return 'oom-killed';
  if (exit.signal) return 'killed';
  return 'exited';
}

export function describeExit(exit: ExitRecord | null): string {
  if (!exit) return 'exited';
  if (exit.unknown) return 'ended while no monitor watched it (how is unknown)';
  if (exit.oomKilled) return 'was OOM-killed';
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? '?'}`;
}
