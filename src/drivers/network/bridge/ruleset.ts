// corral's nftables table, rendered whole from the networks and the leases (docs/network.md,
// "Published ports", "Named networks"). The file deletes and recreates the table in one
// transaction (`table` + `delete table` + the new table), so the kernel holds either the old
// ruleset or the new one, never a half; rendering is deterministic, so the same networks and
// leases give the same bytes. Pure.

import { networksTalk } from '../../../manifest/network.js';
import type { PortMapping } from '../../../manifest/spec.js';

export interface RulesetNetwork {
  readonly name: string;
  readonly bridge: string;
  /** `10.89.0.0/24`. */
  readonly subnet: string;
  /** `fd12:3456:789a::/64`, on a network with IPv6. */
  readonly subnet6?: string | null;
  readonly masquerade: boolean;
  readonly isolated: boolean;
}

export interface RulesetLease {
  readonly name: string;
  readonly address: string;
  readonly address6?: string | undefined;
  readonly ports: readonly PortMapping[];
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function publishRule(lease: RulesetLease, p: PortMapping): string[] {
  if (p.hostIP.includes(':')) {
    // IPv6: to the container's IPv6 address (the manifest checks made sure its network has one).
    if (lease.address6 === undefined) return [];
    const daddr = p.hostIP === '::' ? 'meta nfproto ipv6 ' : `ip6 daddr ${p.hostIP} `;
    return [`    ${daddr}${p.protocol} dport ${p.hostPort} dnat ip6 to [${lease.address6}]:${p.containerPort} comment "${lease.name}"`];
  }
  const daddr = p.hostIP === '0.0.0.0' ? '' : `ip daddr ${p.hostIP} `;
  return [`    ${daddr}${p.protocol} dport ${p.hostPort} dnat ip to ${lease.address}:${p.containerPort} comment "${lease.name}"`];
}

const set = (items: readonly string[]): string => (items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`);

export function renderRuleset(table: string, networks: readonly RulesetNetwork[], leases: readonly RulesetLease[]): string {
  const nets = [...networks].sort(byName);
  const publish = [...leases].sort(byName).flatMap((l) => l.ports.flatMap((p) => publishRule(l, p)));
  const bridges = nets.map((n) => `"${n.bridge}"`);
  // Two networks' containers reach each other only when neither is isolated (published ports,
  // DNATed, always pass).
  const isolate = nets.flatMap((a) => nets.filter((b) => b !== a && !networksTalk(a, b)).map((b) => `    iifname "${a.bridge}" oifname "${b.bridge}" drop`));
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    // Published ports: a connection to one of this host's own addresses (including 127.0.0.1,
    // which needs route_localnet on the bridge) is sent to the container.
    '  chain publish {',
    ...publish,
    '  }',
    // route_localnet (for 127.0.0.1 ports) would also let a container with CAP_NET_RAW hand the
    // host a frame addressed to 127.0.0.1 (CVE-2020-8558): anything arriving from a bridge, or
    // from a bridge port when br_netfilter runs the hooks there, with a loopback destination on
    // the wire is dropped before routing. Replies to the host's own 127.0.0.1 connections carry
    // the gateway's address on the wire and are not touched.
    '  chain guard {',
    '    type filter hook prerouting priority -300; policy accept;',
    ...(bridges.length > 0 ? [`    iifname ${set(bridges)} ip daddr 127.0.0.0/8 drop`] : []),
    '    iifname "cv*" ip daddr 127.0.0.0/8 drop',
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    '    fib daddr type local jump publish',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    fib daddr type local jump publish',
    '  }',
    ...(isolate.length > 0 ? [
      '  chain isolate {',
      '    type filter hook forward priority 0; policy accept;',
      '    ct status dnat accept',
      ...isolate,
      '  }',
    ] : []),
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    ...nets.flatMap((n) => [
      // From the host's loopback: the container must answer a routable address.
      `    ip saddr 127.0.0.0/8 ip daddr ${n.subnet} masquerade`,
      // Hairpin: a container reaching its own (or a neighbour's) published port through the host.
      `    ct status dnat ip saddr ${n.subnet} ip daddr ${n.subnet} masquerade`,
      // Outbound: beyond the host's corral bridges, with the host's address.
      ...(n.masquerade ? [`    ip saddr ${n.subnet} ip daddr != ${n.subnet} oifname != ${set(bridges)} masquerade`] : []),
      ...(n.subnet6 ? [
        `    ct status dnat ip6 saddr ${n.subnet6} ip6 daddr ${n.subnet6} masquerade`,
        ...(n.masquerade ? [`    ip6 saddr ${n.subnet6} ip6 daddr != ${n.subnet6} oifname != ${set(bridges)} masquerade`] : []),
      ] : []),
    ]),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Removes the table (and nothing else): `table` first, so a missing table is no error. */
export function renderDeletion(table: string): string {
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}
