// v1 cpu: CFS bandwidth (quota/period) from `cpus`, and shares from the v2-scale weight.

import { shouldWrite, nsToUs, orNull } from '../accumulate.js';
import { bandwidthToCpuMillis, cpuMillisToBandwidth, CPU_SHARES, cpuWeightToShares, parseFlatKeyed, sharesToCpuWeight } from '../convert.js';
import { readOptionalKnob, writeKnob } from '../knob.js';
import type { V1Subsystem } from './subsystem.js';

export const cpu: V1Subsystem = {
  name: 'cpu',
  async set(dir, r, { caps }) {
    if (shouldWrite(caps, 'cpuQuota', r.cpuMillis === null, `${r.cpuMillis}m`)) {
      const bw = cpuMillisToBandwidth(r.cpuMillis);
      if (bw.quotaUs === null) {
        // Lift the quota before touching the period: a period change is checked against the quota.
        await writeKnob(dir, 'cpu.cfs_quota_us', '-1');
        await writeKnob(dir, 'cpu.cfs_period_us', String(bw.periodUs));
      } else {
        await writeKnob(dir, 'cpu.cfs_period_us', String(bw.periodUs));
        await writeKnob(dir, 'cpu.cfs_quota_us', String(bw.quotaUs));
      }
    }
    if (shouldWrite(caps, 'cpuWeight', r.cpuWeight === null, String(r.cpuWeight))) {
      await writeKnob(dir, 'cpu.shares', String(r.cpuWeight === null ? CPU_SHARES.default : cpuWeightToShares(r.cpuWeight)));
    }
  },
  async read(dir, into) {
    const quota = await readOptionalKnob(dir, 'cpu.cfs_quota_us');
    const period = await readOptionalKnob(dir, 'cpu.cfs_period_us');
    if (quota !== null && period !== null) {
      const q = Number(quota);
      into.cpuMillis = bandwidthToCpuMillis({ quotaUs: q < 0 ? null : q, periodUs: Number(period) });
    }
    const shares = await readOptionalKnob(dir, 'cpu.shares');
    if (shares !== null) {
      const s = Math.min(Math.max(Number(shares), CPU_SHARES.min), CPU_SHARES.max);
      into.cpuWeight = s === CPU_SHARES.default ? null : sharesToCpuWeight(s);
    }
  },
  async stats(dir, into, _leaves, scope) {
    if (scope === 'usage') return;
    const text = await readOptionalKnob(dir, 'cpu.stat');
    if (text === null) return;
    const s = parseFlatKeyed(text);
    into.cpu.periods = orNull(s.get('nr_periods'));
    into.cpu.throttledPeriods = orNull(s.get('nr_throttled'));
    into.cpu.throttledUsec = nsToUs(s.get('throttled_time'));
  },
};
