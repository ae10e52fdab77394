// The custom string formats the schema names (`format: corral-bytes`…). Each one is backed by the
// parser normalize uses, so "valid" means exactly "normalize can read it", and each knows how to
// tell the user what it expected. Pure.

import { fullFormats } from 'ajv-formats/dist/formats.js';
import { parseDurationMs } from './duration.js';
import { formatSubnet, parseIPv4, type Subnet } from './ipv4.js';
import { formatSubnet6, parseIPv6, subnetOf6, type Subnet6 } from './ipv6.js';
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
  'corral-ipv4-subnet': { check: parseNetworkSubnet },
  'corral-ipv6-subnet': { check: parseNetworkSubnet6 },
  'corral-ip': {
    check: (v) => (ipv4.test(v) || ipv6.test(v) ? { ok: true, value: v } : { ok: false, expected: 'an IPv4 or IPv6 address such as `127.0.0.1` or `::1`' }),
  },
};

const SUBNET_EXPECTED = 'an IPv4 subnet in CIDR form with a prefix of /8 to /29, such as `10.90.0.0/24`';

/** A network's subnet: `10.90.0.0/24`, /8 to /29 (a /30 leaves one address beside the gateway). */
export function parseNetworkSubnet(text: string): ParseResult<Subnet> {
  const [address, bits, ...rest] = text.split('/');
  const value = parseIPv4(address ?? '');
  const prefix = Number(bits);
  if (value === null || rest.length > 0 || !/^[0-9]{1,2}$/.test(bits ?? '') || prefix < 8 || prefix > 29) return { ok: false, expected: SUBNET_EXPECTED };
  const base = prefix === 0 ? 0 : (value - (value % 2 ** (32 - prefix)));
  if (base !== value) return { ok: false, expected: SUBNET_EXPECTED, hint: `host bits are set: the subnet is \`${formatSubnet({ base, prefix })}\`` };
  return { ok: true, value: { base, prefix } };
}

const SUBNET6_EXPECTED = 'an IPv6 subnet in CIDR form with a prefix of /48 to /120, such as `fd12:3456:789a::/64`';

/** A network's IPv6 subnet: `fd12:3456:789a::/64`, /48 to /120. */
export function parseNetworkSubnet6(text: string): ParseResult<Subnet6> {
  const [address, bits, ...rest] = text.split('/');
  const value = parseIPv6(address ?? '');
  const prefix = Number(bits);
  if (value === null || rest.length > 0 || !/^[0-9]{1,3}$/.test(bits ?? '') || prefix < 48 || prefix > 120) return { ok: false, expected: SUBNET6_EXPECTED };
  const subnet = subnetOf6(value, prefix);
  if (subnet.base !== value) return { ok: false, expected: SUBNET6_EXPECTED, hint: `host bits are set: the subnet is \`${formatSubnet6(subnet)}\`` };
  return { ok: true, value: subnet };
}

/**
 * Every format the schema names, as ajv takes them: ajv-formats' `hostname`, and each of ours
 * backed by its parser. One object, so the validator compiled at build time (ajv standalone code,
 * scripts/gen-validator.mjs) reaches the very same functions by name.
 */
export const FORMAT_DEFINITIONS: Readonly<Record<string, RegExp | { type: 'string'; validate: (value: string) => boolean }>> = {
  hostname: fullFormats.hostname as RegExp,
  ...Object.fromEntries(Object.entries(FORMATS).map(([name, spec]) => [name, { type: 'string' as const, validate: (v: string) => spec.check(v).ok }])),
};
