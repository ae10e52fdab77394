// Which cgroups a resync reads (src/reconciler/inspect.ts): reading every knob and ownership mark
// of 1,000 containers took over a second, so a large host spreads them over its resyncs.

import type { InspectBatch } from '../reconciler/inspect.js';

/**
 * What a resync reads of the cgroups: all of them up to RESYNC_BATCH containers; beyond, one of
 * ceil(n / RESYNC_BATCH) batches in turn (by a stable hash of the name), orphans with the first.
 * With 1,000 containers and a 30 s resync, every container's knobs are read every 5 minutes.
 */
const RESYNC_BATCH = 100;

export function resyncBatch(resync: number, containers: number): 'full' | InspectBatch {
  const batches = Math.max(1, Math.ceil(containers / RESYNC_BATCH));
  if (batches === 1) return 'full';
  const batch = resync % batches;
  return { drift: (name) => nameBucket(name, batches) === batch, orphans: batch === 0 };
}

/** FNV-1a of the name, modulo n: the same batch for a name from pass to pass. */
export function nameBucket(name: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h % n;
}
