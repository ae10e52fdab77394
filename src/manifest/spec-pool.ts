// One object for each container spec in use, found by its hash. The agent holds a container's
// spec three times over otherwise: as its manifest made it, as the plan settled it (its user
// namespace), and in its state record, parsed from the record's JSON: about 4 kB each, 2 MB of a
// long-lived heap at 500 containers. corral computes a record's hash from the spec it writes with
// it (and its checksum shows the file is as written), so a record can take the object whose hash
// is its own.
//
// Only specs corral makes (normalized from a manifest, settled by the plan) are pooled: a record of
// an older corral may lack fields a fresh spec has (hash.ts, LATER_DEFAULTS), and a desired spec
// must never be swapped for one. Entries go with their spec (weak references, swept as the pool
// grows). Pure.

import { BoundedMemo } from '../bounded-memo.js';
import type { ContainerSpec } from './spec.js';

const pool = new Map<string, WeakRef<ContainerSpec>>();
/** Entries alive at the last sweep: the pool is swept when it has doubled since. */
let liveAtSweep = 0;

// No FinalizationRegistry: V8 refuses to build the CLI's startup snapshot (scripts/bundle.mjs)
// while one has work pending, and the build's warm-up makes a spec and drops it.
function sweep(): void {
  for (const [hash, ref] of pool) if (ref.deref() === undefined) pool.delete(hash);
  liveAtSweep = pool.size;
}

/** `spec`, or the equal one already in use: `hash` must be specHash of `spec` (with its references). */
export function poolSpec(hash: string, spec: ContainerSpec): ContainerSpec {
  const known = pool.get(hash)?.deref();
  if (known !== undefined) return known;
  if (pool.size >= 2 * liveAtSweep + 64) sweep();
  pool.set(hash, new WeakRef(spec));
  return spec;
}

/** The spec in use whose hash is `hash`, if any. */
export function pooledSpec(hash: string): ContainerSpec | undefined {
  return pool.get(hash)?.deref();
}

/** Parts most specs have alike, whatever else differs: the security defaults, the device list. */
const SHARED_PARTS = ['security', 'devices', 'logging', 'storage'] as const;
type SharedPart = (typeof SHARED_PARTS)[number];
const parts = new BoundedMemo<string, ContainerSpec[SharedPart]>(256);

/**
 * `spec` with each of SHARED_PARTS replaced by an equal one an earlier spec has: 500 containers
 * of default security carried 500 copies of the same capability and path lists. Specs are never
 * changed in place (their types are read-only), so sharing is safe. Normalize's output has one key
 * order, so its JSON text is the key.
 */
export function withSharedParts(spec: ContainerSpec): ContainerSpec {
  let out = spec;
  for (const part of SHARED_PARTS) {
    const mine = spec[part];
    const shared = parts.getOrMake(`${part} ${JSON.stringify(mine)}`, () => mine);
    if (shared !== mine) out = { ...out, [part]: shared };
  }
  return out;
}
