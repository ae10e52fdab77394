// The default network: what `network.mode: bridge` joins without a `network.name`. One per state
// root: its bridge and corral's nftables table are named after the root (`corral0` and `corral` for
// the default root), and its subnet is the first /24 of 10.89.0.0/16 that no route of the host
// covers, chosen once and kept in `<root>/network/default.json` (two roots on one host take two
// subnets). Named networks (`kind: Network`) have the same shape, from their manifest
// (network-records.ts).

import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../../state/atomic-write.js';
import { formatIPv4, formatSubnet, overlaps, parseIPv4, parseSubnet, type Subnet } from '../../../manifest/ipv4.js';
import { formatIPv6, parseIPv6, parseSubnet6, type Subnet6 } from '../../../manifest/ipv6.js';
import { DEFAULT_MTU, DEFAULT_NETWORK, type NetworkDefinition } from '../../../manifest/network.js';

export interface BridgeNetwork {
  readonly name: string;
  readonly bridge: string;
  readonly subnet: Subnet;
  readonly gateway: number;
  /** IPv6 beside IPv4 (named networks that ask for it), or null. */
  readonly ipv6: { readonly subnet: Subnet6; readonly gateway: bigint } | null;
  readonly mtu: number;
  readonly masquerade: boolean;
  readonly isolated: boolean;
}

export interface NetworkNames {
  readonly bridge: string;
  readonly table: string;
}

const POOL = { base: (10 << 24) + (89 << 16), prefix: 16 };

export interface Route {
  readonly dst: Subnet;
  readonly dev: string;
}

/** Routes of the host that a subnet must not overlap (the default route covers everything: skipped). */
export function firstFreeSubnet(routes: readonly Route[], bridge: string): Subnet | null {
  const others = routes.filter((r) => r.dev !== bridge && r.dst.prefix > 0);
  for (let i = 0; i < 256; i++) {
    const candidate = { base: POOL.base + i * 256, prefix: 24 };
    if (!others.some((r) => overlaps(r.dst, candidate))) return candidate;
  }
  return null;
}

export function routeConflict(routes: readonly Route[], bridge: string, subnet: Subnet): Route | null {
  return routes.find((r) => r.dev !== bridge && r.dst.prefix > 0 && overlaps(r.dst, subnet)) ?? null;
}

export function networkOf(names: NetworkNames, subnet: Subnet): BridgeNetwork {
  return { name: DEFAULT_NETWORK, bridge: names.bridge, subnet, gateway: subnet.base + 1, ipv6: null, mtu: DEFAULT_MTU, masquerade: true, isolated: true };
}

/** A named network as the driver wires it (its definition passed the manifest checks). */
export function bridgeOf(def: NetworkDefinition): BridgeNetwork {
  const subnet = parseSubnet(def.subnet);
  const gateway = parseIPv4(def.gateway);
  const subnet6 = def.ipv6 === null ? null : parseSubnet6(def.ipv6.subnet);
  const gateway6 = def.ipv6 === null ? null : parseIPv6(def.ipv6.gateway);
  if (subnet === null || gateway === null || (def.ipv6 !== null && (subnet6 === null || gateway6 === null))) {
    throw new Error(`network ${def.name}: unchecked subnet ${def.subnet} or gateway ${def.gateway}`);
  }
  const ipv6 = subnet6 !== null && gateway6 !== null ? { subnet: subnet6, gateway: gateway6 } : null;
  return { name: def.name, bridge: def.bridge, subnet, gateway, ipv6, mtu: def.mtu, masquerade: def.masquerade, isolated: def.isolated };
}

/** The container's IPv6 address on the network: the host number of its IPv4 address. */
export function ipv6For(net: BridgeNetwork, address: string): string | null {
  const value = parseIPv4(address);
  if (net.ipv6 === null || value === null) return null;
  return formatIPv6(net.ipv6.subnet.base + BigInt(value - net.subnet.base));
}

export function readChosenSubnet(file: string): Subnet | null {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as { subnet?: unknown };
    return typeof value.subnet === 'string' ? parseSubnet(value.subnet) : null;
  } catch {
    return null;
  }
}

export async function writeChosenSubnet(file: string, subnet: Subnet): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify({ format: 1, subnet: formatSubnet(subnet) }, null, 2)}\n`);
}

export function describe(net: BridgeNetwork): string {
  const v6 = net.ipv6 === null ? '' : `, ${formatIPv6(net.ipv6.subnet.base)}/${net.ipv6.subnet.prefix}`;
  return `bridge \`${net.bridge}\`, ${formatSubnet(net.subnet)}${v6}, gateway ${formatIPv4(net.gateway)}`;
}
