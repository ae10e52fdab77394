// The custom string formats the schema names (`format: corral-bytes`…). Each one is backed by the
// parser normalize uses, so "valid" means exactly "normalize can read it", and each knows how to
// tell the user what it expected. Pure.

import { fullFormats } from 'ajv-formats/dist/formats.js';
import { parseDurationMs } from './duration.js';
import { parseBytes, parseBytesOrUnlimited, parseCpuList, parseCpuMillis, type ParseResult } from './quantity.js';
import { parseSignal } from './signal.js';

export interface FormatSpec {
  readonly check: (value: string) => ParseResult<unknown>;
}

const ipv4 = fullFormats.ipv4 as RegExp;
const ipv6 = fullFormats.ipv6 as RegExp;

export const FORMATS: Readonly<Record<string, FormatSpec>> = {
  'corral-bytes': { check: parseBytes },
  'corral-bytes-or-unlimited': { check: parseBytesOrUnlimited },
  'corral-cpu': { check: parseCpuMillis },
  'corral-cpu-list': { check: parseCpuList },
  'corral-duration': { check: parseDurationMs },
  'corral-signal': { check: parseSignal },
  'corral-ipv4': {
    check: (v) => (ipv4.test(v) ? { ok: true, value: v } : { ok: false, expected: 'an IPv4 address such as `10.89.0.20`' }),
  },
  'corral-ip': {
    check: (v) => (ipv4.test(v) || ipv6.test(v) ? { ok: true, value: v } : { ok: false, expected: 'an IPv4 or IPv6 address such as `127.0.0.1` or `::1`' }),
  },
};

/**
 * Every format the schema names, as ajv takes them: ajv-formats' `hostname`, and each of ours
 * backed by its parser. One object, so the validator compiled at build time (ajv standalone code,
 * scripts/gen-validator.mjs) reaches the very same functions by name.
 */
export const FORMAT_DEFINITIONS: Readonly<Record<string, RegExp | { type: 'string'; validate: (value: string) => boolean }>> = {
  hostname: fullFormats.hostname as RegExp,
  ...Object.fromEntries(Object.entries(FORMATS).map(([name, spec]) => [name, { type: 'string' as const, validate: (v: string) => spec.check(v).ok }])),
};
