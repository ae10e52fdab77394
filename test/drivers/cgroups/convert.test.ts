// Unit conversions, without a kernel.

import { describe, expect, test } from '@jest/globals';
import {
  bandwidthToCpuMillis, blkioWeightToIoWeight, canonicalIdList, cpuMillisToBandwidth, cpuWeightToShares, deviceNumber, formatCpuMax,
  formatIoMax, ioWeightToBlkioWeight, memorySwapToV2SwapMax, parseCpuMax, parseFlatKeyed, parseIoMax, parseV1Limit, parseV1Throttle,
  sharesToCpuWeight, v2SwapMaxToMemorySwap,
} from '../../../src/drivers/cgroups/convert.js';
import { hasCode } from '../../../src/errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return hasCode(err, 'MANIFEST_OUT_OF_RANGE') || hasCode(err, 'MANIFEST_CONFLICT') || hasCode(err, 'CGROUP_READ_FAILED') ? err.code : 'other';
  }
  return undefined;
}

describe('cpu weight and shares', () => {
  test('the standard shares → weight points', () => {
    expect(sharesToCpuWeight(2)).toBe(1);
    expect(sharesToCpuWeight(1024)).toBe(39);
    expect(sharesToCpuWeight(262144)).toBe(10000);
  });

  test('weight → shares hits the ends of the v1 range', () => {
    expect(cpuWeightToShares(1)).toBe(2);
    expect(cpuWeightToShares(10000)).toBe(262144);
    expect(cpuWeightToShares(100)).toBe(2598);
  });

  test('every weight survives the round trip through shares (read-back compares equal)', () => {
    for (let w = 1; w <= 10000; w++) if (sharesToCpuWeight(cpuWeightToShares(w)) !== w) throw new Error(`weight ${w} does not round-trip`);
  });

  test('out of range values are refused with a stable code', () => {
    expect(codeOf(() => cpuWeightToShares(0))).toBe('MANIFEST_OUT_OF_RANGE');
    expect(codeOf(() => cpuWeightToShares(10001))).toBe('MANIFEST_OUT_OF_RANGE');
    expect(codeOf(() => sharesToCpuWeight(1))).toBe('MANIFEST_OUT_OF_RANGE');
  });
});

describe('io weight', () => {
  test('v1 blkio range ends and round trip', () => {
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
    expect(ioWeightToBlkioWeight(1)).toBe(10);
    expect(ioWeightToBlkioWeight(10000)).toBe(1000);
    for (let b = 10; b <= 1000; b++) expect(ioWeightToBlkioWeight(blkioWeightToIoWeight(b))).toBe(b);
  });
});

describe('cpu bandwidth', () => {
  test('millicores to quota per 100 ms period and back', () => {
    expect(cpuMillisToBandwidth(1500)).toEqual({ quotaUs: 150000, periodUs: 100000 });
    expect(cpuMillisToBandwidth(null)).toEqual({ quotaUs: null, periodUs: 100000 });
    expect(bandwidthToCpuMillis({ quotaUs: 150000, periodUs: 100000 })).toBe(1500);
    expect(bandwidthToCpuMillis({ quotaUs: 50000, periodUs: 50000 })).toBe(1000);
    expect(bandwidthToCpuMillis({ quotaUs: null, periodUs: 100000 })).toBeNull();
  });

  test('below the kernel minimum of 1 ms per period is refused', () => {
    expect(cpuMillisToBandwidth(10).quotaUs).toBe(1000);
    expect(codeOf(() => cpuMillisToBandwidth(9))).toBe('MANIFEST_OUT_OF_RANGE');
  });

  test('cpu.max text', () => {
    expect(formatCpuMax({ quotaUs: null, periodUs: 100000 })).toBe('max 100000');
    expect(parseCpuMax('max 100000\n')).toEqual({ quotaUs: null, periodUs: 100000 });
    expect(parseCpuMax('25000 100000')).toEqual({ quotaUs: 25000, periodUs: 100000 });
    expect(codeOf(() => parseCpuMax('oops'))).toBe('CGROUP_READ_FAILED');
  });
});

describe('memory and swap', () => {
  test('Docker memorySwap (memory plus swap) to v2 swap.max', () => {
    expect(memorySwapToV2SwapMax(100, 100)).toBe(0);
    expect(memorySwapToV2SwapMax(100, 300)).toBe(200);
    expect(memorySwapToV2SwapMax(100, 'unlimited')).toBe('max');
    expect(memorySwapToV2SwapMax(null, null)).toBe('max');
    expect(memorySwapToV2SwapMax(100, null)).toBe('max');
  });

  test('one refusal per invalid combination', () => {
    expect(codeOf(() => memorySwapToV2SwapMax(100, 50))).toBe('MANIFEST_CONFLICT');
    expect(codeOf(() => memorySwapToV2SwapMax(null, 50))).toBe('MANIFEST_CONFLICT');
  });

  test('read-back of memory plus swap', () => {
    expect(v2SwapMaxToMemorySwap(100, 0)).toBe(100);
    expect(v2SwapMaxToMemorySwap(100, null)).toBe('unlimited');
    expect(v2SwapMaxToMemorySwap(null, 0)).toBe('unlimited');
  });

  test('v1 "no limit" values read as null', () => {
    expect(parseV1Limit('9223372036854771712\n')).toBeNull();
    expect(parseV1Limit('9223372036854775807')).toBeNull();
    expect(parseV1Limit('-1')).toBeNull();
    expect(parseV1Limit('33554432')).toBe(33554432);
    expect(codeOf(() => parseV1Limit('lots'))).toBe('CGROUP_READ_FAILED');
  });
});

describe('file formats', () => {
  test('flat keyed files', () => {
    expect(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n').get('oom_kill')).toBe(3);
    expect(parseFlatKeyed('low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n').get('max')).toBe(12);
  });

  test('io.max lines', () => {
    const entries = parseIoMax('254:0 rbps=1048576 wbps=max riops=max wiops=100\n8:16 rbps=max wbps=2 riops=max wiops=max\n');
    expect(entries).toEqual([
      { device: '254:0', rbps: 1048576, wbps: null, riops: null, wiops: 100 },
      { device: '8:16', rbps: null, wbps: 2, riops: null, wiops: null },
    ]);
    expect(formatIoMax(entries[0]!)).toBe('254:0 rbps=1048576 wbps=max riops=max wiops=100');
  });

  test('v1 throttle lines', () => {
    expect([...parseV1Throttle('254:0 1048576\n8:0 5\n')]).toEqual([['254:0', 1048576], ['8:0', 5]]);
  });

  test('device numbers split like glibc', () => {
    expect(deviceNumber(0xfe00n)).toBe('254:0');
    expect(deviceNumber(0x810n)).toBe('8:16');
    // Large majors and minors use the high bits (makedev layout).
    expect(deviceNumber((259n << 8n) | (65536n << 12n))).toBe('259:65536');
    expect(deviceNumber((4096n << 32n) | 1n)).toBe('4096:1');
  });

  test('cpu lists compare in canonical form', () => {
    expect(canonicalIdList('0,1,2,5\n')).toBe('0-2,5');
    expect(canonicalIdList('')).toBe('');
  });
});
