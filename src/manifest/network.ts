// A network (`kind: Network`) as corral applies it: the manifest's fields with every default
// written out, and the hash that tells the plan whether it changed. Containers join one with
// `network: {mode: bridge, name}`; without a name they join the default network, which corral
// makes by itself for each state root (src/drivers/network/bridge/default-network.ts). Pure.

import { canonicalJson, sameJsonValue, sha256Hex } from './hash.js';
import { formatIPv4, formatSubnet } from './ipv4.js';
import { addressAt6, formatIPv6, formatSubnet6, parseSubnet6, type Subnet6 } from './ipv6.js';
import { parseNetworkSubnet, parseNetworkSubnet6 } from './formats.js';
import type { NetworkManifestV1 } from './manifest-v1.js';
import type { ContainerSpec } from './spec.js';

/** The network a bridged container without `network.name` joins. No manifest may take the name. */
export const DEFAULT_NETWORK = 'default';

export const NETWORK_HASH_FORMAT = 'corral.network.v1';

export interface NetworkDefinition {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The bridge interface on the host. */
  readonly bridge: string;
  /** `10.90.0.0/24`. */
  readonly subnet: string;
  readonly gateway: string;
  /** IPv6 beside IPv4, or null (off). */
  readonly ipv6: { readonly subnet: string; readonly gateway: string } | null;
  readonly masquerade: boolean;
  readonly isolated: boolean;
  readonly mtu: number;
}

export const DEFAULT_MTU = 1500;

/** `cn-` and the name, cut to the 15 characters an interface name may have. */
export function defaultBridgeName(name: string): string {
  return `cn-${name}`.slice(0, 15);
}

/**
 * The default IPv6 subnet of a network: a /64 of unique local addresses (RFC 4193) whose 40-bit
 * global id is taken from a hash of the name, so that it is the same at every plan and on every
 * host, and unlikely to meet another network's (the host check refuses it when it does).
 */
export function defaultIPv6Subnet(name: string): string {
  const id = sha256Hex(`corral/network/${name}`).slice(0, 10);
  return formatSubnet6({ base: BigInt(`0xfd${id}`) << 80n, prefix: 64 });
}

/** The IPv6 address of the container whose IPv4 address is `offset` into the IPv4 subnet. */
export function ipv6AddressAt(subnet: string, offset: number): string {
  const parsed = parseSubnet6(subnet);
  if (parsed === null) throw new Error(`ipv6AddressAt: unchecked subnet ${subnet}`);
  return formatIPv6(addressAt6(parsed, offset));
}

function normalizeIPv6(spec: NetworkManifestV1['spec'], name: string): NetworkDefinition['ipv6'] {
  if (spec.ipv6?.enabled !== true) return null;
  const parsed = parseNetworkSubnet6(spec.ipv6.subnet ?? defaultIPv6Subnet(name));
  if (!parsed.ok) throw new Error(`normalizeNetwork: unchecked IPv6 subnet ${spec.ipv6.subnet ?? ''}`);
  const subnet: Subnet6 = parsed.value;
  return { subnet: formatSubnet6(subnet), gateway: formatIPv6(addressAt6(subnet, 1)) };
}

/** Only for manifests that passed the schema and the network checks (the subnet parses). */
export function normalizeNetwork(manifest: NetworkManifestV1): NetworkDefinition {
  const spec = manifest.spec;
  const parsed = parseNetworkSubnet(spec.subnet);
  if (!parsed.ok) throw new Error(`normalizeNetwork: unchecked subnet ${spec.subnet}`);
  return {
    name: manifest.metadata.name,
    labels: { ...(manifest.metadata.labels ?? {}) },
    bridge: spec.bridge ?? defaultBridgeName(manifest.metadata.name),
    subnet: formatSubnet(parsed.value),
    gateway: spec.gateway ?? formatIPv4(parsed.value.base + 1),
    ipv6: normalizeIPv6(spec, manifest.metadata.name),
    masquerade: spec.masquerade ?? true,
    isolated: spec.isolated ?? true,
    mtu: spec.mtu ?? DEFAULT_MTU,
  };
}

export function networkHash(def: NetworkDefinition): string {
  return `sha256:${sha256Hex(canonicalJson({ format: NETWORK_HASH_FORMAT, network: def }))}`;
}

/** The network a container joins: null unless it is bridged. */
export function networkOfSpec(spec: ContainerSpec): string | null {
  return spec.network.bridge === null ? null : spec.network.bridge.network ?? DEFAULT_NETWORK;
}

/** Whether two networks' containers may reach each other: only when neither is isolated. */
export function networksTalk(a: Pick<NetworkDefinition, 'isolated'>, b: Pick<NetworkDefinition, 'isolated'>): boolean {
  return !a.isolated && !b.isolated;
}

/** How a network changes: `recreate` rebuilds its bridge (and restarts its containers), `live` not. */
export function networkChangeEffect(before: NetworkDefinition, after: NetworkDefinition): 'none' | 'record' | 'live' | 'recreate' {
  if (before.bridge !== after.bridge || before.subnet !== after.subnet || before.gateway !== after.gateway || !sameJsonValue(before.ipv6, after.ipv6)) return 'recreate';
  if (before.masquerade !== after.masquerade || before.isolated !== after.isolated || before.mtu !== after.mtu) return 'live';
  return sameJsonValue(before, after) ? 'none' : 'record';
}

/** The fields that differ, for the plan's reasons. */
export function networkDiff(before: NetworkDefinition, after: NetworkDefinition): Array<{ field: string; before: unknown; after: unknown }> {
  return (Object.keys(after) as Array<keyof NetworkDefinition>)
    .filter((k) => !sameJsonValue(before[k], after[k]))
    .map((k) => ({ field: k, before: before[k], after: after[k] }));
}
