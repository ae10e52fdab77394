// v1 pids: the process/thread limit that stops fork bombs. `pids.events` counts a refused fork in
// the cgroup of the task that forked (v1 keeps no hierarchical count), so a container's refusals
// are the sum over its directory and its leaves.

import { shouldWrite, orNull } from '../accumulate.js';
import { formatV2Max, parseFlatKeyed, parseV2Max } from '../convert.js';
import { readOptionalKnob, writeKnob } from '../knob.js';
import type { V1Subsystem } from './subsystem.js';

export const pids: V1Subsystem = {
  name: 'pids',
  async set(dir, r, { caps }) {
    if (shouldWrite(caps, 'pids', r.pids === 'unlimited', String(r.pids))) await writeKnob(dir, 'pids.max', formatV2Max(r.pids));
  },
  async read(dir, into) {
    const max = await readOptionalKnob(dir, 'pids.max');
    if (max !== null) into.pids = parseV2Max(max) ?? 'unlimited';
  },
  async stats(dir, into, leaves, scope) {
    if (scope === 'usage') return;
    const current = await readOptionalKnob(dir, 'pids.current');
    into.pids.current = current === null ? null : Number(current);
    const events = await readOptionalKnob(dir, 'pids.events');
    let hits = events === null ? null : orNull(parseFlatKeyed(events).get('max'));
    for (const leaf of leaves) {
      const text = await readOptionalKnob(leaf, 'pids.events');
      if (hits !== null && text !== null) hits += parseFlatKeyed(text).get('max') ?? 0;
    }
    into.pids.limitHits = hits;
  },
};
