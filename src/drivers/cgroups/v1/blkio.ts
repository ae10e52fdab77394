// v1 blkio: the proportional weight (`blkio.weight`, only with the CFQ scheduler, gone since 5.0)
// and per-device throttles. A throttle file holds one line per device; writing "maj:min 0" removes
// a device's rule, which is how a limit dropped from the manifest is lifted live. v1 throttles are
// per cgroup, not hierarchical (cgroup2's io.max is): the container's leaves get the same writes.

import type { ResourcesSpec } from '../../../manifest/spec.js';
import { shouldWrite } from '../accumulate.js';
import { BLKIO_WEIGHT, blkioWeightToIoWeight, ioWeightToBlkioWeight, parseV1Throttle } from '../convert.js';
import { readOptionalKnob, writeKnob } from '../knob.js';
import type { AppliedIoLimit } from '../types.js';
import type { V1Context, V1Subsystem } from './subsystem.js';
import { compareText } from '../compare-text.js';

const THROTTLES = [
  ['readBps', 'blkio.throttle.read_bps_device'],
  ['writeBps', 'blkio.throttle.write_bps_device'],
  ['readIops', 'blkio.throttle.read_iops_device'],
  ['writeIops', 'blkio.throttle.write_iops_device'],
] as const;

async function setOne(dir: string, r: ResourcesSpec, { caps, resolveDevice }: V1Context): Promise<void> {
  if (shouldWrite(caps, 'ioWeight', r.ioWeight === null, String(r.ioWeight))) {
    await writeKnob(dir, 'blkio.weight', String(r.ioWeight === null ? BLKIO_WEIGHT.default : ioWeightToBlkioWeight(r.ioWeight)));
  }
  if (!shouldWrite(caps, 'ioLimits', r.ioLimits.length === 0, `${r.ioLimits.length} devices`)) return;
  const wanted = r.ioLimits.map((l) => ({ ...l, number: resolveDevice(l.device) }));
  for (const [field, file] of THROTTLES) {
    const current = parseV1Throttle((await readOptionalKnob(dir, file)) ?? '');
    for (const l of wanted) {
      const value = l[field];
      if (value !== null) await writeKnob(dir, file, `${l.number} ${value}`);
      else if (current.has(l.number)) await writeKnob(dir, file, `${l.number} 0`);
    }
    for (const device of current.keys()) {
      if (!wanted.some((l) => l.number === device)) await writeKnob(dir, file, `${device} 0`);
    }
  }
}

export const blkio: V1Subsystem = {
  name: 'blkio',
  async set(dir, r, ctx, _parentDir, leaves) {
    for (const d of [dir, ...leaves]) await setOne(d, r, ctx);
  },
  async read(dir, into, wanted) {
    const weight = await readOptionalKnob(dir, 'blkio.weight');
    if (weight !== null) {
      const w = Number(weight);
      into.ioWeight = w === BLKIO_WEIGHT.default ? null : blkioWeightToIoWeight(Math.min(Math.max(w, BLKIO_WEIGHT.min), BLKIO_WEIGHT.max));
    }
    if (!wanted('ioLimits')) return;
    const byDevice = new Map<string, { -readonly [K in keyof AppliedIoLimit]: AppliedIoLimit[K] }>();
    for (const [field, file] of THROTTLES) {
      for (const [device, value] of parseV1Throttle((await readOptionalKnob(dir, file)) ?? '')) {
        const entry = byDevice.get(device) ?? { device, readBps: null, writeBps: null, readIops: null, writeIops: null };
        entry[field] = value;
        byDevice.set(device, entry);
      }
    }
    into.ioLimits = [...byDevice.values()].sort((a, b) => compareText(a.device, b.device));
  },
};
