// Unit conversions between ResourcesSpec and the kernel's cgroup files, as named pure functions with
// their ranges written down (runc keeps the same ones in utils.go). No kernel access: unit-tested.

import { formatCpuList, parseCpuList } from '../../manifest/quantity.js';
import { CorralError } from '../../errors.js';
import type { Unlimited } from '../../manifest/spec.js';

/** cgroup v2 `cpu.weight`: 1..10000, kernel default 100. */
export const CPU_WEIGHT = { min: 1, max: 10_000, default: 100 } as const;
/** cgroup v1 `cpu.shares`: 2..262144, kernel default 1024. */
export const CPU_SHARES = { min: 2, max: 262_144, default: 1024 } as const;
/** cgroup v1 `blkio.weight`: 10..1000 (CFQ), default 500. v2 `io.weight` uses the cpu.weight scale. */
export const BLKIO_WEIGHT = { min: 10, max: 1000, default: 500 } as const;
export const IO_WEIGHT = { min: 1, max: 10_000, default: 100 } as const;
/** CFS bandwidth period corral writes (the kernel default), and the kernel's smallest quota. */
export const CFS_PERIOD_US = 100_000;
export const CFS_QUOTA_MIN_US = 1000;

/**
 * The smallest cpus a container may ask for: 1 ms of quota per 100 ms period. The kernel refuses
 * a smaller `cfs_quota_us` / `cpu.max` quota with EINVAL.
 */
export const CPU_MILLIS_MIN = (CFS_QUOTA_MIN_US * 1000) / CFS_PERIOD_US;

function checkRange(what: string, value: number, range: { min: number; max: number }): void {
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new CorralError('MANIFEST_OUT_OF_RANGE', `${what} \`${value}\` is outside ${range.min}..${range.max}`);
  }
}

/**
 * v1 shares → v2 weight: the formula runc, crun, systemd and Kubernetes share, so a host that moves
 * from v1 to v2 keeps the same relative weights: 2 → 1, 1024 → 39, 262144 → 10000.
 */
export function sharesToCpuWeight(shares: number): number {
  checkRange('cpu.shares', shares, CPU_SHARES);
  return 1 + Math.floor(((shares - 2) * 9999) / 262_142);
}

/**
 * v2 weight → v1 shares, the inverse of sharesToCpuWeight. It rounds up so that
 * `sharesToCpuWeight(cpuWeightToShares(w)) === w` for every weight (read-back compares equal):
 * 1 → 2, 100 → 2598, 10000 → 262144.
 */
export function cpuWeightToShares(weight: number): number {
  checkRange('cpuWeight', weight, CPU_WEIGHT);
  return 2 + Math.ceil(((weight - 1) * 262_142) / 9999);
}

/** v2 io weight (1..10000) → v1 `blkio.weight` (10..1000), rounding up so the inverse round-trips. */
export function ioWeightToBlkioWeight(weight: number): number {
  checkRange('io.weight', weight, IO_WEIGHT);
  return 10 + Math.ceil(((weight - 1) * 990) / 9999);
}

/** v1 `blkio.weight` → v2 io weight: runc's ConvertBlkIOToIOWeightValue (10 → 1, 1000 → 10000). */
export function blkioWeightToIoWeight(blkio: number): number {
  checkRange('blkio.weight', blkio, BLKIO_WEIGHT);
  return 1 + Math.floor(((blkio - 10) * 9999) / 990);
}

export interface CfsBandwidth {
  /** Microseconds of CPU time per period; null: no limit (`-1` on v1, `max` on v2). */
  readonly quotaUs: number | null;
  readonly periodUs: number;
}

/** `cpus: 1.5` (1500 millicores) → 150000 us per 100000 us. Needs at least CPU_MILLIS_MIN. */
export function cpuMillisToBandwidth(millis: number | null): CfsBandwidth {
  if (millis === null) return { quotaUs: null, periodUs: CFS_PERIOD_US };
  const quotaUs = Math.round((millis * CFS_PERIOD_US) / 1000);
  if (!Number.isInteger(millis) || quotaUs < CFS_QUOTA_MIN_US) {
    throw new CorralError('MANIFEST_OUT_OF_RANGE', `cpus \`${millis}m\` is below the kernel's smallest quota (${CPU_MILLIS_MIN}m, 1 ms per 100 ms)`);
  }
  return { quotaUs, periodUs: CFS_PERIOD_US };
}

/** The inverse: null for no quota. Rounds to whole millicores when the period is not ours. */
export function bandwidthToCpuMillis(bw: CfsBandwidth): number | null {
  if (bw.quotaUs === null || bw.quotaUs < 0) return null;
  return Math.round((bw.quotaUs * 1000) / bw.periodUs);
}

/** v2 `cpu.max`: "150000 100000" or "max 100000". */
export function formatCpuMax(bw: CfsBandwidth): string {
  return `${bw.quotaUs === null ? 'max' : bw.quotaUs} ${bw.periodUs}`;
}

export function parseCpuMax(text: string): CfsBandwidth {
  const [quota, period] = text.trim().split(/\s+/);
  const periodUs = Number(period);
  if (quota === undefined || !Number.isInteger(periodUs) || (quota !== 'max' && !/^\d+$/.test(quota))) {
    throw new CorralError('CGROUP_READ_FAILED', `\`cpu.max\` holds \`${text}\`, expected "<quota|max> <period>"`);
  }
  return { quotaUs: quota === 'max' ? null : Number(quota), periodUs };
}

/**
 * What cgroup v2 `memory.swap.max` must be for Docker's `memorySwap` (memory *plus* swap).
 * - unlimited or null (no swap limit asked) → `max`;
 * - equal to memory → 0: no swap at all (the ResourcesSpec default);
 * - memory+swap below memory, or without a memory limit → refused, one case per invalid combination
 *   as runc does.
 */
export function memorySwapToV2SwapMax(memoryBytes: number | null, memorySwapBytes: number | Unlimited | null): number | 'max' {
  if (memorySwapBytes === 'unlimited' || memorySwapBytes === null) return 'max';
  if (memoryBytes === null) {
    throw new CorralError('MANIFEST_CONFLICT', `memorySwap \`${memorySwapBytes}\` needs a memory limit (memorySwap is memory plus swap)`);
  }
  if (memorySwapBytes < memoryBytes) {
    throw new CorralError('MANIFEST_CONFLICT', `memorySwap \`${memorySwapBytes}\` is below memory \`${memoryBytes}\` (memorySwap is memory plus swap)`);
  }
  return memorySwapBytes - memoryBytes;
}

/** Read-back of memory+swap from v2 limits: unbounded when either is unlimited. */
export function v2SwapMaxToMemorySwap(memoryBytes: number | null, swapMax: number | null): number | Unlimited {
  return memoryBytes === null || swapMax === null ? 'unlimited' : memoryBytes + swapMax;
}

/**
 * v1 reads "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages) and some
 * kernels as 2^63-1. Any value past Number.MAX_SAFE_INTEGER (8 PiB) is no real limit: null.
 */
export function parseV1Limit(text: string): number | null {
  const t = text.trim();
  if (t === '-1' || t === 'max') return null;
  if (!/^\d+$/.test(t)) throw new CorralError('CGROUP_READ_FAILED', `expected a byte count, read \`${t}\``);
  const n = BigInt(t);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(n);
}

/** v2 `max` or a number. */
export function parseV2Max(text: string): number | null {
  const t = text.trim();
  if (t === 'max') return null;
  if (!/^\d+$/.test(t)) throw new CorralError('CGROUP_READ_FAILED', `expected a number or \`max\`, read \`${t}\``);
  return Number(t);
}

export function formatV2Max(value: number | Unlimited | null): string {
  return value === null || value === 'unlimited' ? 'max' : String(value);
}

/** v1 limits take -1 for "no limit". */
export function formatV1Limit(value: number | Unlimited | null): string {
  return value === null || value === 'unlimited' ? '-1' : String(value);
}

/** "key value" lines (memory.events, cpu.stat, pids.events, memory.oom_control) → numbers. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

/** One device's v2 `io.max` line, parsed: "254:0 rbps=1048576 wbps=max riops=max wiops=max". */
export interface IoMaxEntry {
  readonly device: string;
  readonly rbps: number | null;
  readonly wbps: number | null;
  readonly riops: number | null;
  readonly wiops: number | null;
}

export function parseIoMax(text: string): IoMaxEntry[] {
  const out: IoMaxEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, ...pairs] = line.trim().split(/\s+/);
    if (!device || !/^\d+:\d+$/.test(device)) continue;
    const v: Record<string, number | null> = { rbps: null, wbps: null, riops: null, wiops: null };
    for (const pair of pairs) {
      const [k, val] = pair.split('=');
      if (k && k in v && val !== undefined) v[k] = val === 'max' ? null : Number(val);
    }
    out.push({ device, rbps: v['rbps']!, wbps: v['wbps']!, riops: v['riops']!, wiops: v['wiops']! });
  }
  return out;
}

export function formatIoMax(e: IoMaxEntry): string {
  return `${e.device} rbps=${formatV2Max(e.rbps)} wbps=${formatV2Max(e.wbps)} riops=${formatV2Max(e.riops)} wiops=${formatV2Max(e.wiops)}`;
}

/** v1 `blkio.throttle.*_device` lines: "254:0 1048576" → device → value. */
export function parseV1Throttle(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [device, value] = line.trim().split(/\s+/);
    if (device && /^\d+:\d+$/.test(device) && value !== undefined) out.set(device, Number(value));
  }
  return out;
}

/** Device number → "major:minor", with Linux's split of dev_t (the glibc gnu_dev_major/minor layout). */
export function deviceNumber(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/** Parses a cpu/mem list (`0-2,5`) into sorted ids; null when malformed. The kernel writes an
 * empty list for an unset cpuset, which the manifest format does not allow. */
export function parseIdList(text: string): number[] | null {
  const t = text.trim();
  if (t === '') return [];
  const r = parseCpuList(t);
  return r.ok ? r.value : null;
}

export { formatCpuList as formatIdList };

/** Canonical form of a list read from the kernel, so `0-1` and `0,1` compare equal. */
export function canonicalIdList(text: string): string {
  const ids = parseIdList(text);
  return ids === null ? text.trim() : formatCpuList(ids);
}

/** The ids in either list, canonical (`0-1` ∪ `3` → `0-1,3`); a malformed list is kept as the kernel wrote it. */
export function unionIdList(a: string, b: string): string {
  const x = parseIdList(a);
  const y = parseIdList(b);
  if (x === null || y === null) return canonicalIdList(a);
  return formatCpuList([...new Set([...x, ...y])].sort((p, q) => p - q));
}
