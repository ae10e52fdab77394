// Address management of a bridge network: which address a container gets. A lease is kept per
// container name (leases.ts), so an address is stable across restarts and recreates; a fixed
// address is checked here against the subnet and the other leases. Pure.

import { contains, formatIPv4, parseIPv4, size, type Subnet } from '../../../manifest/ipv4.js';

export interface AddressRequest {
  /** `auto`, or a fixed address from the manifest. */
  readonly wanted: string;
  /** The address this container holds already (its lease), if any. */
  readonly held: string | null;
}

export type AddressChoice = { readonly ok: true; readonly address: string } | { readonly ok: false; readonly reason: string };

/** The addresses of the subnet a container can never have: network, gateway, broadcast. */
function reserved(subnet: Subnet, gateway: number): Set<number> {
  return new Set([subnet.base, gateway, subnet.base + size(subnet) - 1]);
}

/** Why `address` cannot be given to a container, or null when it can. */
export function refuseAddress(subnet: Subnet, gateway: number, address: string, takenBy: ReadonlyMap<string, string>): string | null {
  const value = parseIPv4(address);
  if (value === null) return `\`${address}\` is not an IPv4 address`;
  if (!contains(subnet, value)) return `${address} is outside the network's subnet ${formatIPv4(subnet.base)}/${subnet.prefix}`;
  if (reserved(subnet, gateway).has(value)) return `${address} is the network's own address, its gateway or its broadcast address`;
  const owner = takenBy.get(address);
  if (owner !== undefined) return `${address} is leased to container \`${owner}\``;
  return null;
}

/**
 * The address for a container: its fixed one, else the one it holds, else the lowest free one.
 * `takenBy` maps the other containers' leased addresses to their names.
 */
export function chooseAddress(subnet: Subnet, gateway: number, request: AddressRequest, takenBy: ReadonlyMap<string, string>): AddressChoice {
  if (request.wanted !== 'auto') {
    const refused = refuseAddress(subnet, gateway, request.wanted, takenBy);
    return refused === null ? { ok: true, address: request.wanted } : { ok: false, reason: refused };
  }
  if (request.held !== null && refuseAddress(subnet, gateway, request.held, takenBy) === null) return { ok: true, address: request.held };
  const skip = reserved(subnet, gateway);
  for (let value = subnet.base + 1; value < subnet.base + size(subnet) - 1; value++) {
    if (skip.has(value)) continue;
    const address = formatIPv4(value);
    if (!takenBy.has(address)) return { ok: true, address };
  }
  return { ok: false, reason: `every address of ${formatIPv4(subnet.base)}/${subnet.prefix} is leased` };
}
