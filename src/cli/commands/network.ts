// corral network ls: the networks this state root has: the default one (once a container used
// it) and every `kind: Network` that was applied, with the containers that join each. Networks
// are made and removed by `reconcile` from their manifests, never by hand.

import { Command } from 'commander';
import { join } from 'node:path';
import { readChosenSubnet } from '../../drivers/network/bridge/default-network.js';
import { CorralError } from '../../errors.js';
import { formatIPv4, formatSubnet } from '../../manifest/ipv4.js';
import { DEFAULT_MTU, DEFAULT_NETWORK, networkOfSpec } from '../../manifest/network.js';
import { contextFrom, outputFormat } from '../context.js';
import { networkNamesFor, openHost } from '../open-host.js';

export const NETWORK_FORMAT_VERSION = 1;

export interface NetworkRow {
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly gateway: string;
  /** The IPv6 subnet, or null (IPv4 only). */
  readonly ipv6: string | null;
  readonly masquerade: boolean;
  readonly isolated: boolean;
  readonly mtu: number;
  /** The containers whose applied spec joins it, sorted. */
  readonly containers: readonly string[];
}

export function networkCommand(): Command {
  const command = new Command('network').description('list the networks (the default one and `kind: Network` manifests applied)');
  command.addCommand(new Command('ls')
    .description('list networks: bridge, subnet, gateway, isolation, masquerade, MTU and the containers on each')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output?: string }, sub: Command) => {
      const ctx = contextFrom(sub);
      const host = await openHost(ctx);
      const [named, loaded] = await Promise.all([host.ports.network.networks(), host.store.load()]);
      const members = new Map<string, string[]>();
      for (const r of loaded.records) {
        const joins = networkOfSpec(r.spec);
        if (joins !== null) members.set(joins, [...(members.get(joins) ?? []), r.name].sort());
      }
      const rows: NetworkRow[] = named.map(({ definition: d }) => ({
        name: d.name, bridge: d.bridge, subnet: d.subnet, gateway: d.gateway, ipv6: d.ipv6?.subnet ?? null, masquerade: d.masquerade, isolated: d.isolated, mtu: d.mtu, containers: members.get(d.name) ?? [],
      }));
      const chosen = readChosenSubnet(join(host.layout.root, 'network', 'default.json'));
      if (chosen !== null) {
        rows.unshift({
          name: DEFAULT_NETWORK, bridge: networkNamesFor(ctx.root, host.rootId).bridge, subnet: formatSubnet(chosen), gateway: formatIPv4(chosen.base + 1), ipv6: null,
          masquerade: true, isolated: true, mtu: DEFAULT_MTU, containers: members.get(DEFAULT_NETWORK) ?? [],
        });
      }
      if (outputFormat(opts.output) === 'json') {
        ctx.out(JSON.stringify({ formatVersion: NETWORK_FORMAT_VERSION, networks: rows }, null, 2));
        return;
      }
      if (rows.length === 0) {
        ctx.out('no networks');
        return;
      }
      const table = [['NAME', 'BRIDGE', 'SUBNET', 'GATEWAY', 'IPV6', 'ISOLATED', 'MASQUERADE', 'MTU', 'CONTAINERS'],
        ...rows.map((r) => [r.name, r.bridge, r.subnet, r.gateway, r.ipv6 ?? '-', r.isolated ? 'yes' : 'no', r.masquerade ? 'yes' : 'no', String(r.mtu), r.containers.join(',') || '-'])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      ctx.out(table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n'));
    }));
  command.action(() => {
    throw new CorralError('CLI_USAGE', 'missing subcommand: corral network ls');
  });
  return command;
}
