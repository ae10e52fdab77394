// Which cgroups a resync reads (src/reconciler/inspect.ts): reading every knob and ownership mark
// of 1,000 containers took over a second, and with 500 the knobs and processes read at each
// resync were most of what an idle agent cost, so a large host spreads them over its resyncs.

import type { InspectBatch } from '../reconciler/inspect.js';

/** Up to this many containers, every resync reads them all. */
const FULL_UP_TO = 50;
/**
 * Beyond, a round of this many resyncs reads each container once: a knob written behind corral's
 * back is put right within five minutes at the default resync of 30 s, whatever the host's size,
 * and a resync reads a tenth of the containers.
 */
const ROUND = 10;

/** What a resync reads of the cgroups: everything, or its batch of the round (by a stable hash of the name), orphans with the first. */
export function resyncBatch(resync: number, containers: number): 'full' | InspectBatch {
  if (containers <= FULL_UP_TO) return 'full';
  const batch = resync % ROUND;
  return { drift: (name) => nameBucket(name, ROUND) === batch, orphans: batch === 0 };
}

/** FNV-1a of the name, modulo n: the same batch for a name from pass to pass. */
export function nameBucket(name: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h % n;
}
