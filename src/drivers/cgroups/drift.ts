// Drift: where the kernel's limits differ from what the spec asks, after a live `set` or because
// something else wrote the cgroup. Pure: compares a ResourcesSpec with a read-back, treating the
// kernel default and "not asked" as equal, and skipping knobs this host does not have.

import type { ResourcesSpec } from '../../manifest/spec.js';
import { RESOURCE_FIELDS } from './check.js';
import { canonicalIdList, CPU_WEIGHT, IO_WEIGHT } from './convert.js';
import type { AppliedFields, AppliedResources } from './types.js';
import { compareText } from './compare-text.js';

export interface ResourceDrift {
  readonly field: keyof ResourcesSpec;
  /** The manifest field, for messages (`spec.resources.memory`). */
  readonly manifestField: string;
  readonly desired: unknown;
  readonly applied: unknown;
}

/**
 * The fields resourcesDrift compares for `desired`, so that a read-back for it can skip the rest:
 * a cpuset the spec does not pin follows corral's parent, and I/O limits are compared only with
 * their devices resolved (`withIoLimits`; the cgroup port does for a spec that sets some, so a
 * throttle written by hand on a container without I/O limits is not seen). Six of a v1
 * container's thirteen knob reads, for a spec without either.
 */
export function comparedFields(desired: ResourcesSpec, withIoLimits: boolean): AppliedFields {
  return (field) => {
    if (field === 'cpusetCpus' || field === 'cpusetMems') return desired[field] !== null;
    return field !== 'ioLimits' || withIoLimits;
  };
}

export function resourcesDrift(desired: ResourcesSpec, applied: AppliedResources, resolveDevice?: (path: string) => string): ResourceDrift[] {
  const out: ResourceDrift[] = [];
  const differ = (field: keyof ResourcesSpec, want: unknown, have: unknown, shown: unknown = desired[field], seen: unknown = applied[field]): void => {
    if (JSON.stringify(want) !== JSON.stringify(have)) out.push({ field, manifestField: RESOURCE_FIELDS[field], desired: shown, applied: seen });
  };
  differ('memoryBytes', desired.memoryBytes, applied.memoryBytes);
  if (applied.memorySwapBytes !== null) {
    const want = desired.memoryBytes === null || desired.memorySwapBytes === null ? 'unlimited' : desired.memorySwapBytes;
    differ('memorySwapBytes', want, applied.memorySwapBytes);
  }
  differ('memoryReservationBytes', desired.memoryReservationBytes, applied.memoryReservationBytes);
  differ('cpuMillis', desired.cpuMillis, applied.cpuMillis);
  differ('cpuWeight', desired.cpuWeight ?? CPU_WEIGHT.default, applied.cpuWeight ?? CPU_WEIGHT.default);
  if (desired.cpusetCpus !== null) differ('cpusetCpus', canonicalIdList(desired.cpusetCpus), applied.cpusetCpus === null ? null : canonicalIdList(applied.cpusetCpus));
  if (desired.cpusetMems !== null) differ('cpusetMems', canonicalIdList(desired.cpusetMems), applied.cpusetMems === null ? null : canonicalIdList(applied.cpusetMems));
  if (applied.pids !== null || desired.pids !== 'unlimited') differ('pids', desired.pids, applied.pids);
  differ('ioWeight', desired.ioWeight ?? IO_WEIGHT.default, applied.ioWeight ?? IO_WEIGHT.default);
  if (resolveDevice) {
    const want = desired.ioLimits
      .map((l) => ({ device: resolveDevice(l.device), readBps: l.readBps, writeBps: l.writeBps, readIops: l.readIops, writeIops: l.writeIops }))
      .sort((a, b) => compareText(a.device, b.device));
    differ('ioLimits', want, applied.ioLimits);
  }
  return out;
}
