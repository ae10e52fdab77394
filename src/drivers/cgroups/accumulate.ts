// Mutable builders for stats and read-back, filled controller by controller and frozen at the end.
// Also the one rule for knobs the host lacks while a manifest's value is applied.

import { CorralError } from '../../errors.js';
import type { AppliedFields, AppliedIoLimit, AppliedResources, CgroupFeature, CgroupStats, HostCgroupCapabilities } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? (T[K] extends readonly unknown[] ? T[K] : Mutable<T[K]>) : T[K] };

export type StatsBuilder = Mutable<CgroupStats>;
export type AppliedBuilder = Mutable<Omit<AppliedResources, 'ioLimits'>> & { ioLimits: AppliedIoLimit[] };

export function emptyStats(): StatsBuilder {
  return {
    memory: { currentBytes: null, peakBytes: null, oomKills: null },
    cpu: { usageUsec: null, userUsec: null, systemUsec: null, periods: null, throttledPeriods: null, throttledUsec: null },
    pids: { current: null, limitHits: null },
  };
}

/** A read-back of every field. */
export const ALL_FIELDS: AppliedFields = () => true;

export function emptyApplied(): AppliedBuilder {
  return {
    memoryBytes: null, memorySwapBytes: null, memoryReservationBytes: null, cpuMillis: null, cpuWeight: null,
    cpusetCpus: null, cpusetMems: null, pids: null, ioWeight: null, ioLimits: [],
  };
}

/**
 * Whether to write a knob. A knob this host lacks is skipped while the value is the kernel default
 * (nothing to enforce), and refused otherwise: the plan-time check should have caught it, and
 * applying the rest while silently dropping one limit would lie to the user.
 */
export function shouldWrite(caps: HostCgroupCapabilities, feature: CgroupFeature, isDefault: boolean, asked: string): boolean {
  const support = caps.features[feature];
  if (support.available) return true;
  if (isDefault) return false;
  throw new CorralError('CGROUP_KNOB_UNAVAILABLE', `${feature} (${asked}) cannot be enforced on this host`, { detail: support.reason });
}

export const nsToUs = (ns: number | undefined): number | null => (ns === undefined ? null : Math.floor(ns / 1000));
export const orNull = (n: number | undefined): number | null => (n === undefined ? null : n);
