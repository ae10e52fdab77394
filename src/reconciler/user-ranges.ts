// Host id ranges for `namespaces.user: {enabled: true}` without maps (auto): each container gets
// its own range, above the ids a distribution hands out to people and services, never
// overlapping another container's. The range is kept in the record across restarts. Pure.

import type { ContainerRecord, UserRange } from '../state/record.js';

/** Ranges start here: far above /etc/subuid's usual 100000-165535 for the first login user. */
export const AUTO_RANGE_BASE = 1_000_000;
const LIMIT = 2 ** 32 - 2;

export function allocateRange(size: number, records: Iterable<ContainerRecord>): UserRange {
  const taken: Array<[number, number]> = [];
  for (const r of records) {
    if (r.userRange) taken.push([r.userRange.hostId, r.userRange.hostId + r.userRange.size]);
    const user = r.spec.namespaces.user;
    if (user?.kind === 'manual') for (const m of [...user.uidMap, ...user.gidMap]) taken.push([m.hostID, m.hostID + m.size]);
  }
  taken.sort((a, b) => a[0] - b[0]);
  let candidate = AUTO_RANGE_BASE;
  for (const [start, end] of taken) {
    if (end <= candidate) continue;
    if (start >= candidate + size) break;
    candidate = end;
  }
  if (candidate + size > LIMIT) throw new RangeError(`no free host id range of ${size} ids above ${AUTO_RANGE_BASE}`);
  return { hostId: candidate, size };
}
