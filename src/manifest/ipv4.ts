// IPv4 addresses and subnets as numbers: parsing, formatting, containment, overlap. Pure.

export interface Subnet {
  /** The network address, as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
}

export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1));
}

/** `10.89.0.0/24` → a subnet; null for a malformed one or one with host bits set. */
export function parseSubnet(text: string): Subnet | null {
  const [address, bits, ...rest] = text.split('/');
  const base = parseIPv4(address ?? '');
  const prefix = Number(bits);
  if (base === null || rest.length > 0 || !/^[0-9]{1,2}$/.test(bits ?? '') || prefix > 32) return null;
  return (base & mask(prefix)) >>> 0 === base ? { base, prefix } : null;
}

export function formatSubnet(s: Subnet): string {
  return `${formatIPv4(s.base)}/${s.prefix}`;
}

export function size(s: Subnet): number {
  return 2 ** (32 - s.prefix);
}

export function contains(s: Subnet, address: number): boolean {
  return address >= s.base && address < s.base + size(s);
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}
