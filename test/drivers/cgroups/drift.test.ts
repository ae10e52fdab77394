// Drift between a spec and a read-back, without a kernel.

import { describe, expect, test } from '@jest/globals';
import { resourcesDrift } from '../../../src/drivers/cgroups/drift.js';
import type { AppliedResources } from '../../../src/drivers/cgroups/types.js';
import { limits } from './support.js';

const applied = (a: Partial<AppliedResources>): AppliedResources => ({
  memoryBytes: null, memorySwapBytes: 'unlimited', memoryReservationBytes: null, cpuMillis: null, cpuWeight: null,
  cpusetCpus: '0-1', cpusetMems: '0', pids: 'unlimited', ioWeight: null, ioLimits: [], ...a,
});

describe('resourcesDrift', () => {
  test('defaults and "not asked" compare equal', () => {
    expect(resourcesDrift(limits({}), applied({}))).toEqual([]);
    expect(resourcesDrift(limits({ cpuWeight: 100 }), applied({}))).toEqual([]);
  });

  test('a changed limit is reported with its manifest field', () => {
    expect(resourcesDrift(limits({ memoryBytes: 100, memorySwapBytes: 100, pids: 5 }), applied({ memoryBytes: 200, memorySwapBytes: 200, pids: 5 }))).toEqual([
      { field: 'memoryBytes', manifestField: 'spec.resources.memory', desired: 100, applied: 200 },
      { field: 'memorySwapBytes', manifestField: 'spec.resources.memorySwap', desired: 100, applied: 200 },
    ]);
  });

  test('cpusets compare in canonical form; a knob the host lacks (null) is not drift', () => {
    expect(resourcesDrift(limits({ cpusetCpus: '0,1' }), applied({ cpusetCpus: '0-1' }))).toEqual([]);
    expect(resourcesDrift(limits({ memoryBytes: 100, memorySwapBytes: 100 }), applied({ memoryBytes: 100, memorySwapBytes: null }))).toEqual([]);
  });

  test('io limits compare by device number', () => {
    const r = limits({ ioLimits: [{ device: '/dev/vda', readBps: 1000, writeBps: null, readIops: null, writeIops: null }] });
    const have = applied({ ioLimits: [{ device: '254:0', readBps: 1000, writeBps: null, readIops: null, writeIops: null }] });
    expect(resourcesDrift(r, have, () => '254:0')).toEqual([]);
    expect(resourcesDrift(r, applied({}), () => '254:0').map((d) => d.field)).toEqual(['ioLimits']);
  });
});
