// Rules for networks (`kind: Network`) that JSON Schema cannot say: the reserved name, a gateway
// inside its subnet; and across the set: a network defined twice, two networks on one bridge or on
// overlapping subnets, a container joining a network no manifest defines, fixed addresses outside
// their network or given twice. What only the host can tell (a subnet overlapping a host route, a
// bridge name taken) is the driver's plan-time check. Pure.

import { diagnostic, type Diagnostic } from '../../errors.js';
import type { FieldPath } from '../field-path.js';
import { parseNetworkSubnet, parseNetworkSubnet6 } from '../formats.js';
import { contains, formatSubnet, overlaps, parseIPv4, size, type Subnet } from '../ipv4.js';
import type { NetworkManifestV1 } from '../manifest-v1.js';
import { isIPv6Loopback, overlaps6, type Subnet6 } from '../ipv6.js';
import { DEFAULT_NETWORK, defaultBridgeName, defaultIPv6Subnet } from '../network.js';
import { didYouMean } from '../suggest.js';
import { reporter, type CheckedDocument } from './report.js';
import type { LoadedDocument } from '../load.js';

/** A `kind: Network` document that passed the schema, with its typed view. */
export interface CheckedNetwork {
  readonly doc: LoadedDocument;
  readonly manifest: NetworkManifestV1;
}

function subnetOf(m: NetworkManifestV1): Subnet | null {
  const parsed = parseNetworkSubnet(m.spec.subnet);
  return parsed.ok ? parsed.value : null;
}

function subnet6Of(m: NetworkManifestV1): Subnet6 | null {
  if (m.spec.ipv6?.enabled !== true) return null;
  const parsed = parseNetworkSubnet6(m.spec.ipv6.subnet ?? defaultIPv6Subnet(m.metadata.name));
  return parsed.ok ? parsed.value : null;
}

/** Why `address` cannot be a container's or the gateway's on `subnet`; null when it can. */
function outsideSubnet(address: string, subnet: Subnet): string | null {
  const value = parseIPv4(address);
  if (value === null) return `\`${address}\` is not an IPv4 address`;
  if (!contains(subnet, value)) return `${address} is outside the subnet ${formatSubnet(subnet)}`;
  if (value === subnet.base || value === subnet.base + size(subnet) - 1) return `${address} is the subnet's network or broadcast address`;
  return null;
}

export function runNetworkDocumentChecks(checked: CheckedNetwork): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporter(checked.doc, out);
  const { metadata, spec } = checked.manifest;
  if (metadata.name === DEFAULT_NETWORK) {
    report('error', 'MANIFEST_INVALID_VALUE', ['metadata', 'name'], '`default` is the name of the network corral makes by itself for `mode: bridge`', {
      hint: 'name your network otherwise; containers join it with `network.name`',
    });
  }
  const subnet = subnetOf(checked.manifest);
  if (subnet && spec.gateway !== undefined) {
    const problem = outsideSubnet(spec.gateway, subnet);
    if (problem) report('error', 'MANIFEST_INVALID_VALUE', ['spec', 'gateway'], `\`spec.gateway\`: ${problem}`, { hint: 'leave it out: the subnet\'s first address is the default' });
  }
  const subnet6 = subnet6Of(checked.manifest);
  // A container's IPv6 address has the host number of its IPv4 one: every one must fit.
  if (subnet && subnet6 && 128 - subnet6.prefix < 32 - subnet.prefix) {
    report('error', 'MANIFEST_INVALID_VALUE', ['spec', 'ipv6', 'subnet'], `\`spec.ipv6.subnet\` /${subnet6.prefix} has fewer addresses than the IPv4 subnet /${subnet.prefix}`, {
      hint: `use a prefix of /${96 + subnet.prefix} or shorter, such as /64`,
    });
  }
  return out;
}

function at(doc: LoadedDocument, path: FieldPath): string {
  const s = doc.locate(path);
  return `${s.file}:${s.line}:${s.column}`;
}

/**
 * @param declared every network a document names, valid or not: a container that joins one whose
 * manifest has errors is not blamed for it (the plan keeps such a network, or does not start the
 * container, and says why).
 */
export function runNetworkSetChecks(networks: readonly CheckedNetwork[], containers: readonly CheckedDocument[], declared: ReadonlySet<string> = new Set()): Diagnostic[] {
  const out: Diagnostic[] = [];
  const onNetwork = (n: CheckedNetwork, path: FieldPath, code: Diagnostic['code'], summary: string, hint?: string): void => {
    out.push(diagnostic('error', code, summary, { network: n.manifest.metadata.name, field: path.join('.'), source: n.doc.locate(path), ...(hint ? { hint } : {}) }));
  };
  const kept: CheckedNetwork[] = [];
  for (const n of networks) {
    const name = n.manifest.metadata.name;
    const twin = kept.find((k) => k.manifest.metadata.name === name);
    if (twin) {
      onNetwork(n, ['metadata', 'name'], 'MANIFEST_DUPLICATE_NAME', `network \`${name}\` is defined twice: here and at ${at(twin.doc, ['metadata', 'name'])}`, 'rename one of them');
      continue;
    }
    const bridge = n.manifest.spec.bridge ?? defaultBridgeName(name);
    const sameBridge = kept.find((k) => (k.manifest.spec.bridge ?? defaultBridgeName(k.manifest.metadata.name)) === bridge);
    if (sameBridge) {
      onNetwork(n, n.manifest.spec.bridge ? ['spec', 'bridge'] : ['metadata', 'name'], 'MANIFEST_CONFLICT', `bridge \`${bridge}\` is also network \`${sameBridge.manifest.metadata.name}\`'s`, 'give one of them another `spec.bridge`');
    }
    const subnet = subnetOf(n.manifest);
    const overlapping = subnet && kept.find((k) => {
      const other = subnetOf(k.manifest);
      return other !== null && overlaps(other, subnet);
    });
    if (overlapping) {
      onNetwork(n, ['spec', 'subnet'], 'NETWORK_SUBNET_CONFLICT', `subnet ${n.manifest.spec.subnet} overlaps network \`${overlapping.manifest.metadata.name}\`'s (${overlapping.manifest.spec.subnet})`, 'give each network a subnet of its own');
    }
    const subnet6 = subnet6Of(n.manifest);
    const overlapping6 = subnet6 && kept.find((k) => {
      const other = subnet6Of(k.manifest);
      return other !== null && overlaps6(other, subnet6);
    });
    if (overlapping6) {
      onNetwork(n, n.manifest.spec.ipv6?.subnet ? ['spec', 'ipv6', 'subnet'] : ['spec', 'ipv6'], 'NETWORK_SUBNET_CONFLICT', `its IPv6 subnet overlaps network \`${overlapping6.manifest.metadata.name}\`'s`, 'give each network an IPv6 subnet of its own');
    }
    kept.push(n);
  }

  const byName = new Map(kept.map((n) => [n.manifest.metadata.name, n]));
  const fixed = new Map<string, { name: string; doc: LoadedDocument }>();
  for (const c of containers) {
    const net = c.manifest.spec.network;
    if (net?.mode !== 'bridge') continue;
    const container = c.manifest.metadata.name;
    const joined = net.name ?? DEFAULT_NETWORK;
    const network = byName.get(joined);
    if (joined !== DEFAULT_NETWORK && !network && !declared.has(joined)) {
      out.push(diagnostic('error', 'MANIFEST_UNKNOWN_REFERENCE', `\`network.name\` joins network \`${joined}\`, which no manifest defines`, {
        container, field: 'spec.network.name', source: c.doc.locate(['spec', 'network', 'name']),
        hint: didYouMean(joined, byName.keys()) ?? `define it with a \`kind: Network\` manifest named \`${joined}\`, or leave \`network.name\` out for the default network`,
      }));
      continue;
    }
    (net.ports ?? []).forEach((p, i) => {
      // `::1` is refused on every network (NOT_SUPPORTED, src/drivers/network/port.ts): said once.
      if (p.hostIP === undefined || !p.hostIP.includes(':') || isIPv6Loopback(p.hostIP) || (network && subnet6Of(network.manifest) !== null)) return;
      out.push(diagnostic('error', 'MANIFEST_CONFLICT', `\`hostIP: ${p.hostIP}\` publishes on IPv6, but network \`${joined}\` has no IPv6`, {
        container, field: `spec.network.ports[${i}].hostIP`, source: c.doc.locate(['spec', 'network', 'ports', i, 'hostIP']),
        hint: joined === DEFAULT_NETWORK ? 'join a network with `ipv6: {enabled: true}` (`network.name`); the default network is IPv4 only' : `set \`ipv6: {enabled: true}\` on network \`${joined}\``,
      }));
    });
    if (net.address === undefined) continue;
    const subnet = network ? subnetOf(network.manifest) : null;
    const problem = subnet ? outsideSubnet(net.address, subnet) : null;
    if (problem) {
      out.push(diagnostic('error', 'NETWORK_ADDRESS_CONFLICT', `network.address ${net.address}: ${problem} of network \`${joined}\``, {
        container, field: 'spec.network.address', source: c.doc.locate(['spec', 'network', 'address']),
      }));
      continue;
    }
    const key = `${joined}/${net.address}`;
    const owner = fixed.get(key);
    if (owner && owner.name !== container) {
      out.push(diagnostic('error', 'MANIFEST_DUPLICATE_ENTRY', `network.address ${net.address} is also \`${owner.name}\`'s fixed address (${at(owner.doc, ['spec', 'network', 'address'])})`, {
        container, field: 'spec.network.address', source: c.doc.locate(['spec', 'network', 'address']), hint: 'give each container its own address, or leave it out to have one leased',
      }));
    } else {
      fixed.set(key, { name: container, doc: c.doc });
    }
  }
  return out;
}
