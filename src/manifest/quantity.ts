// Kubernetes-style quantities. Pure functions with documented ranges; no Node imports.
//
// Bytes: a plain integer, or a decimal number with a suffix. Binary suffixes Ki Mi Gi Ti Pi Ei are
// powers of 1024; decimal suffixes k (or K) M G T P E are powers of 1000, as in Kubernetes.
// A lower-case `m` means "milli" in Kubernetes, which makes `512m` of memory half a byte: Docker
// users mean 512 MiB by it, so it is refused with a hint instead of silently meaning either.

const BYTE_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const BYTES_RE = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$/;

/** Largest byte count corral accepts: 2^53 - 1, where a JS number stops being exact. */
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; expected: string; hint?: string };

const BYTES_EXPECTED = 'a byte quantity such as `256Mi`, `1G` or `1048576`';

/** Parses a byte quantity; fractions are rounded up to a whole byte. */
export function parseBytes(input: string | number): ParseResult<number> {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0
      ? { ok: true, value: input }
      : { ok: false, expected: `${BYTES_EXPECTED} (a whole number of bytes up to 2^53-1)` };
  }
  const m = BYTES_RE.exec(input.trim() === input ? input : '');
  if (!m) return { ok: false, expected: BYTES_EXPECTED, ...bytesHint(input) };
  const value = Math.ceil(Number(m[1]) * BYTE_SUFFIXES[m[2] ?? '']!);
  if (!Number.isSafeInteger(value)) return { ok: false, expected: `${BYTES_EXPECTED}, at most 8Pi` };
  return { ok: true, value };
}

function bytesHint(input: string): { hint?: string } {
  const docker = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgtpe])b?$/i.exec(input);
  if (docker && /^[mgtpe]$/.test(docker[2]!)) {
    return { hint: `\`${docker[2]}\` is not a byte suffix; did you mean \`${docker[1]}${docker[2]!.toUpperCase()}i\`?` };
  }
  const iec = /^([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE])i?B$/i.exec(input);
  if (iec) return { hint: `write \`${iec[1]}${iec[2]!.toUpperCase()}i\` (binary) or \`${iec[1]}${iec[2]!.toUpperCase()}\` (decimal)` };
  if (/\s/.test(input)) return { hint: 'remove the spaces' };
  return {};
}

/** Parses `bytes` or the word `unlimited`. */
export function parseBytesOrUnlimited(input: string | number): ParseResult<number | 'unlimited'> {
  return input === 'unlimited' ? { ok: true, value: 'unlimited' } : parseBytes(input);
}

const CPU_RE = /^(?:([0-9]+)m|([0-9]+(?:\.[0-9]+)?))$/;
const CPU_EXPECTED = 'a CPU amount such as `0.5`, `"500m"` or `2` (greater than 0, at most 1024)';

/**
 * Parses a CPU amount into millicores (1 core = 1000). Range: 1m to 1024 cores. Values finer than
 * a millicore are rounded up, so a tiny non-zero amount never becomes "no limit".
 */
export function parseCpuMillis(input: string | number): ParseResult<number> {
  let cores: number;
  if (typeof input === 'number') {
    cores = input;
  } else {
    const m = CPU_RE.exec(input);
    if (!m) {
      const hint = /^[0-9.]+\s*(cores?|cpus?)$/i.test(input) ? 'write the number alone: `cpus: 2`' : undefined;
      return { ok: false, expected: CPU_EXPECTED, ...(hint ? { hint } : {}) };
    }
    cores = m[1] !== undefined ? Number(m[1]) / 1000 : Number(m[2]);
  }
  if (!Number.isFinite(cores) || cores <= 0 || cores > 1024) return { ok: false, expected: CPU_EXPECTED };
  return { ok: true, value: Math.ceil(Math.round(cores * 1e6) / 1e3) };
}

/** Formats bytes the way a user would write them: the largest binary suffix that divides exactly. */
export function formatBytes(bytes: number): string {
  for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const unit = BYTE_SUFFIXES[suffix]!;
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** Parses a cpuset list (`0-3,6`) into sorted unique ids; refuses reversed ranges. */
export function parseCpuList(input: string): ParseResult<number[]> {
  const expected = 'a list such as `0-3` or `0,2,4-5`, ranges ascending';
  if (!/^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/.test(input)) return { ok: false, expected };
  const ids = new Set<number>();
  for (const part of input.split(',')) {
    const [lo, hi = lo] = part.split('-').map(Number) as [number, number?];
    if (hi! < lo || hi! > 8191) return { ok: false, expected: `${expected}, ids below 8192` };
    for (let i = lo; i <= hi!; i++) ids.add(i);
  }
  return { ok: true, value: [...ids].sort((a, b) => a - b) };
}

/** Canonical text of a cpu list: `0,1,2,5` → `0-2,5`. */
export function formatCpuList(ids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    parts.push(i === j ? `${ids[i]}` : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
