// Published ports as the manifest writes them: one port (`8080`) or a range (`"8080-8089"`) on
// each side. Parsing, overlap (two forwards that would take the same host connections) and the
// expansion into one mapping per port that normalize stores. Pure.

import { DEFAULTS } from './defaults.js';
import type { PortV1 } from './manifest-v1.js';
import { formatIPv6, parseIPv6 } from './ipv6.js';
import type { PortMapping } from './spec.js';

export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/** Most ports one manifest may publish, ranges expanded (each is one rule of the nftables table). */
export const MAX_PUBLISHED_PORTS = 4096;

export function parsePortRange(value: number | string): PortRange | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 1 && value <= 65535 ? { first: value, last: value } : null;
  const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(value);
  if (!m) return null;
  const first = Number(m[1]);
  const last = Number(m[2]);
  return first >= 1 && last <= 65535 && first <= last ? { first, last } : null;
}

export function portCount(r: PortRange): number {
  return r.last - r.first + 1;
}

/** The host ports of a forward (`host`, or the container's when it has none). */
export function hostPorts(p: PortV1): PortRange | null {
  return parsePortRange(p.host ?? p.container);
}

/** What is wrong with a forward's ports, or null. */
export function portRangeProblem(p: PortV1): string | null {
  const container = parsePortRange(p.container);
  if (!container) return `\`${p.container}\` is not a port (1-65535) or a range \`FIRST-LAST\` with FIRST ≤ LAST`;
  if (p.host === undefined) return null;
  const host = parsePortRange(p.host);
  if (!host) return `\`${p.host}\` is not a port (1-65535) or a range \`FIRST-LAST\` with FIRST ≤ LAST`;
  if (portCount(host) !== portCount(container)) {
    return `host ports \`${p.host}\` (${portCount(host)}) and container ports \`${p.container}\` (${portCount(container)}) must be the same number of ports`;
  }
  return null;
}

/** Two forwards would take the same host connections: same protocol, ports that overlap, and the same address or a wildcard. */
export function forwardsOverlap(a: PortV1, b: PortV1): boolean {
  const ra = hostPorts(a);
  const rb = hostPorts(b);
  if (!ra || !rb || (a.protocol ?? 'tcp') !== (b.protocol ?? 'tcp')) return false;
  const ipa = canonicalHostIP(a.hostIP ?? DEFAULTS.portHostIP);
  const ipb = canonicalHostIP(b.hostIP ?? DEFAULTS.portHostIP);
  // IPv4 and IPv6 listen apart: a wildcard covers its own family only.
  const sameFamily = ipa.includes(':') === ipb.includes(':');
  const sameAddress = sameFamily && (ipa === ipb || WILDCARDS.has(ipa) || WILDCARDS.has(ipb));
  return sameAddress && ra.first <= rb.last && rb.first <= ra.last;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** An IPv6 address in its one canonical form (`::0` is `::`), an IPv4 one as written. */
export function canonicalHostIP(ip: string): string {
  if (!ip.includes(':')) return ip;
  const value = parseIPv6(ip);
  return value === null ? ip : formatIPv6(value);
}

/** `127.0.0.1:8080/tcp`, `[::]:8080/tcp`. */
export function hostAddressText(ip: string, port: number | string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function describeForward(p: PortV1): string {
  return `${hostAddressText(p.hostIP ?? DEFAULTS.portHostIP, p.host ?? p.container)}/${p.protocol ?? 'tcp'}`;
}

/** One mapping per port; a forward whose ports are invalid (refused by the checks) maps to none. */
export function expandForward(p: PortV1): PortMapping[] {
  const container = parsePortRange(p.container);
  const host = hostPorts(p);
  if (!container || !host || portCount(host) !== portCount(container)) return [];
  return Array.from({ length: portCount(host) }, (_, i) => ({
    hostIP: canonicalHostIP(p.hostIP ?? DEFAULTS.portHostIP), hostPort: host.first + i, containerPort: container.first + i, protocol: p.protocol ?? 'tcp',
  }));
}
