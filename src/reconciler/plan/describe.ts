// Words for the plan: reasons built from field diffs and exits, and the code of an exit. Pure.

import { formatDuration } from '../../manifest/duration.js';
import { formatBytes } from '../../manifest/quantity.js';
import type { ExitRecord } from '../../state/record.js';
import type { ReasonCode } from './reasons.js';
import type { FieldDiff } from './types.js';

export function describeValue(path: string, value: unknown): string {
  // No user namespace is a setting of its own, not a missing value.
  if (path === 'namespaces.user' && value === null) return 'none (root inside is root on the host)';
  if (value === null || value === undefined) return 'unset';
  if (typeof value === 'number' && /Bytes$/.test(path)) return formatBytes(value);
  if (typeof value === 'number' && /Ms$/.test(path)) return formatDuration(value);
  if (typeof value === 'number' && path.endsWith('cpuMillis')) return `${value / 1000} CPU`;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function describeDiff(d: FieldDiff): string {
  return `${d.path}: ${describeValue(d.path, d.before)} → ${describeValue(d.path, d.after)}`;
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
