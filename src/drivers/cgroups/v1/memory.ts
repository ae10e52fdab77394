// v1 memory: limit, memory+swap, soft limit (reservation); usage, peak and OOM kills.
// `memory.failcnt` is not used: it counts reclaim attempts, not OOMs, and is unreliable here
// (docs/architecture.md, "cgroups"); `oom_kill` in `memory.oom_control` is the kernel's own count
// of kills.

import type { ResourcesSpec } from '../../../manifest/spec.js';
import { shouldWrite } from '../accumulate.js';
import { formatV1Limit, memorySwapToV2SwapMax, parseFlatKeyed, parseV1Limit } from '../convert.js';
import { readKnob, readOptionalKnob, writeKnob } from '../knob.js';
import type { V1Subsystem } from './subsystem.js';

const LIMIT = 'memory.limit_in_bytes';
const MEMSW = 'memory.memsw.limit_in_bytes';
const SOFT = 'memory.soft_limit_in_bytes';

const asNumber = (v: number | null): number => (v === null ? Number.POSITIVE_INFINITY : v);

/**
 * The kernel keeps memsw >= limit at every step, so the order of the two writes depends on the
 * direction: raise memsw first when the current limit already fits under the new memsw, otherwise
 * lower the limit first.
 */
async function setLimits(dir: string, r: ResourcesSpec, withSwap: boolean): Promise<void> {
  const limit = r.memoryBytes;
  if (!withSwap) {
    await writeKnob(dir, LIMIT, formatV1Limit(limit));
    return;
  }
  // Validates the combination (memsw below memory, memsw without memory) like the v2 path does.
  memorySwapToV2SwapMax(limit, r.memorySwapBytes);
  const memsw = r.memorySwapBytes === 'unlimited' ? null : r.memorySwapBytes;
  const currentLimit = parseV1Limit(await readKnob(dir, LIMIT));
  if (asNumber(currentLimit) <= asNumber(memsw)) {
    await writeKnob(dir, MEMSW, formatV1Limit(memsw));
    await writeKnob(dir, LIMIT, formatV1Limit(limit));
  } else {
    await writeKnob(dir, LIMIT, formatV1Limit(limit));
    await writeKnob(dir, MEMSW, formatV1Limit(memsw));
  }
}

/**
 * OOM kills in a v1 memory cgroup and the given ones below it: v1 counts a kill only in the
 * victim's own cgroup (the leaf it ran in), whichever cgroup's limit was hit. null when the first
 * has no counter.
 */
export async function oomKillsV1(dirs: readonly string[]): Promise<number | null> {
  let total: number | null = null;
  for (const [i, d] of dirs.entries()) {
    const text = await readOptionalKnob(d, 'memory.oom_control');
    if (text === null) {
      if (i === 0) return null;
      continue;
    }
    total = (total ?? 0) + (parseFlatKeyed(text).get('oom_kill') ?? 0);
  }
  return total;
}

export const memory: V1Subsystem = {
  name: 'memory',
  async set(dir, r, { caps }) {
    const swapDefault = r.memorySwapBytes === null || r.memorySwapBytes === r.memoryBytes || (r.memorySwapBytes === 'unlimited' && r.memoryBytes === null);
    const withSwap = shouldWrite(caps, 'memorySwap', swapDefault, String(r.memorySwapBytes));
    if (shouldWrite(caps, 'memory', r.memoryBytes === null, String(r.memoryBytes))) await setLimits(dir, r, withSwap);
    if (shouldWrite(caps, 'memoryReservation', r.memoryReservationBytes === null, String(r.memoryReservationBytes))) {
      await writeKnob(dir, SOFT, formatV1Limit(r.memoryReservationBytes));
    }
  },
  async read(dir, into) {
    into.memoryBytes = parseV1Limit(await readKnob(dir, LIMIT));
    const memsw = await readOptionalKnob(dir, MEMSW);
    into.memorySwapBytes = memsw === null ? null : parseV1Limit(memsw) ?? 'unlimited';
    const soft = await readOptionalKnob(dir, SOFT);
    into.memoryReservationBytes = soft === null ? null : parseV1Limit(soft);
  },
  async stats(dir, into, leaves, scope) {
    const usage = await readOptionalKnob(dir, 'memory.usage_in_bytes');
    into.memory.currentBytes = usage === null ? null : parseV1Limit(usage);
    if (scope === 'usage') return;
    const peak = await readOptionalKnob(dir, 'memory.max_usage_in_bytes');
    into.memory.peakBytes = peak === null ? null : parseV1Limit(peak);
    into.memory.oomKills = await oomKillsV1([dir, ...leaves]);
  },
};
