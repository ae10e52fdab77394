// IPv6 addresses and subnets as 128-bit integers: parsing (with `::` and an embedded IPv4 tail),
// the canonical text form (RFC 5952: lower case, the longest run of zero groups as `::`),
// containment and overlap, and the address at an offset of a subnet. Pure.

export interface Subnet6 {
  readonly base: bigint;
  readonly prefix: number;
}

const GROUPS = 8;
const MAX = (1n << 128n) - 1n;

function parseGroups(part: string): bigint[] | null {
  if (part === '') return [];
  const out: bigint[] = [];
  const items = part.split(':');
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (i === items.length - 1 && item.includes('.')) {
      const v4 = item.split('.');
      if (v4.length !== 4 || v4.some((b) => !/^(0|[1-9][0-9]{0,2})$/.test(b) || Number(b) > 255)) return null;
      out.push(BigInt(Number(v4[0]) * 256 + Number(v4[1])), BigInt(Number(v4[2]) * 256 + Number(v4[3])));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
    out.push(BigInt(parseInt(item, 16)));
  }
  return out;
}

export function parseIPv6(text: string): bigint | null {
  if (text.length > 45 || text.includes('%')) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const missing = GROUPS - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<bigint>(halves.length === 2 ? missing : 0).fill(0n), ...tail];
  return groups.reduce((value, g) => (value << 16n) | g, 0n);
}

export function formatIPv6(value: bigint): string {
  const groups = Array.from({ length: GROUPS }, (_, i) => Number((value >> BigInt(16 * (GROUPS - 1 - i))) & 0xffffn));
  // The longest run of two or more zero groups (the first one on a tie) becomes `::`.
  let best = { at: -1, length: 1 };
  for (let i = 0; i < GROUPS;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < GROUPS && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}

function mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (MAX >> BigInt(128 - prefix)) << BigInt(128 - prefix);
}

/** `fd00:1::/64` → a subnet; null for a malformed one or one with host bits set. */
export function parseSubnet6(text: string): Subnet6 | null {
  const [address, bits, ...rest] = text.split('/');
  const base = parseIPv6(address ?? '');
  const prefix = Number(bits);
  if (base === null || rest.length > 0 || !/^[0-9]{1,3}$/.test(bits ?? '') || prefix > 128) return null;
  return (base & mask(prefix)) === base ? { base, prefix } : null;
}

/** The subnet `address/prefix` lies in (host bits cleared). */
export function subnetOf6(address: bigint, prefix: number): Subnet6 {
  return { base: address & mask(prefix), prefix };
}

export function formatSubnet6(s: Subnet6): string {
  return `${formatIPv6(s.base)}/${s.prefix}`;
}

export function size6(s: Subnet6): bigint {
  return 1n << BigInt(128 - s.prefix);
}

export function contains6(s: Subnet6, address: bigint): boolean {
  return address >= s.base && address < s.base + size6(s);
}

export function overlaps6(a: Subnet6, b: Subnet6): boolean {
  return a.base < b.base + size6(b) && b.base < a.base + size6(a);
}

/** `::1`, or an IPv4-mapped loopback address (`::ffff:127.0.0.1`): never routed out of `lo`. */
export function isIPv6Loopback(address: string): boolean {
  const value = parseIPv6(address);
  return value !== null && (value === 1n || value >> 24n === 0xffff7fn);
}

/** The address `offset` into the subnet (`offset` 1 is the first host address). */
export function addressAt6(s: Subnet6, offset: number | bigint): bigint {
  return s.base + BigInt(offset);
}
