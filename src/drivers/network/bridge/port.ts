// The bridge driver behind the reconciler's NetworkPort (src/reconciler/ports.ts): for
// `network.mode: bridge` a network namespace of the container's own (netns.ts), a veth pair to its
// network's bridge (links.ts: the state root's default network, or a `kind: Network` one recorded
// in network-records.ts) with a leased address (ipam.ts, leases.ts), /etc/hosts and
// /etc/resolv.conf bound read-only (etc-writer.ts), and published ports, masquerade and isolation
// as rules in corral's one nftables table (ruleset.ts, table.ts), restored by sync() at every pass
// with the bridges and the veths. docs/network.md describes the whole design. Containers of other
// modes cost nothing here.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, diagnostic, type Diagnostic } from '../../../errors.js';
import type { ContainerSpec, PortMapping } from '../../../manifest/spec.js';
import type { NetworkAttachment, NetworkPort } from '../../../reconciler/ports.js';
import { unsupportedNetworkFields } from '../port.js';
import { DEFAULT_NETWORK, networkChangeEffect, networkOfSpec, type NetworkDefinition } from '../../../manifest/network.js';
import type { ActualNetwork } from '../../../reconciler/ports.js';
import {
  bridgeOf, firstFreeSubnet, ipv6For, networkOf, readChosenSubnet, routeConflict, writeChosenSubnet, type BridgeNetwork, type NetworkNames, type Route,
} from './default-network.js';
import { EtcFiles } from './etc-writer.js';
import { hostRoutes, hostRoutes6, ipForwarding, IPV6_FORWARDING, listenersFromDiag, listenersFromProc, matchListener, type Listener } from './host-facts.js';
import { chooseAddress, refuseAddress } from './ipam.js';
import { formatSubnet, overlaps } from '../../../manifest/ipv4.js';
import { formatSubnet6, overlaps6 } from '../../../manifest/ipv6.js';
import { removeStaleTemps } from '../../../state/atomic-write.js';
import { LEASE_FORMAT, leaseNetwork, LeaseStore, type Lease } from './leases.js';
import { NetworkRecords } from './network-records.js';
import { interfaceNames, Links } from './links.js';
import { removeNetns } from './netns.js';
import { renderRuleset } from './ruleset.js';
import { Table } from './table.js';
import { missingTools } from './tools.js';
import { readNetDev } from '../../../sys/net-dev.js';

export interface BridgeDriverOptions {
  /** The state root: the driver keeps its files in `<root>/network/`. */
  readonly root: string;
  /** The root's id: marks the bridge and veths corral creates (their interface alias). */
  readonly rootId: string;
  readonly names: NetworkNames;
  /** The container's own directory (its /etc files live in `<dir>/network/`). */
  readonly containerDir: (name: string) => string;
}

export const HANDLE_FORMAT = 1;
const ROUTES_FRESH_MS = 2000;
const NOTHING: NetworkAttachment = { netnsPath: null, handle: null, binds: [] };
/** Docker's defaults for a container's network namespace (see namespaceSysctls). */
const NETNS_SYSCTLS: ReadonlyArray<{ name: string; value: string }> = [
  { name: 'net.ipv4.ip_unprivileged_port_start', value: '0' },
  { name: 'net.ipv4.ping_group_range', value: '0 2147483647' },
];

/** The host's listeners, read once per check however many ports it publishes (sock_diag, else /proc). */
function listenerReader(): (protocol: PortMapping['protocol']) => Listener[] {
  const read = new Map<string, Listener[]>();
  return (protocol) => {
    if (!read.has(protocol)) read.set(protocol, listenersFromDiag(protocol) ?? listenersFromProc(protocol));
    return read.get(protocol)!;
  };
}

export function bridgeNetworkPort(options: BridgeDriverOptions): NetworkPort {
  const dir = join(options.root, 'network');
  const leases = new LeaseStore(join(dir, 'leases'));
  const nsDir = join(dir, 'ns');
  const nsFile = (name: string): string => join(nsDir, name);
  const subnetFile = join(dir, 'default.json');
  const records = new NetworkRecords(join(dir, 'networks'));
  const links = new Links(`corral:${options.rootId.slice(0, 8)}`, dir);
  const table = new Table(dir, options.names.table);
  const etc = new EtcFiles((name) => join(options.containerDir(name), 'network'));
  const vethOf = (name: string): string => `cv${createHash('sha256').update(`${options.rootId}/${name}`).digest('hex').slice(0, 10)}`;

  // One change at a time: leases are allocated against each other, and the bridge is made once.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  // The routes are read once for a whole plan (every bridged container's check asks), not once each.
  let routesRead: { at: number; routes: Promise<Route[]> } | null = null;
  function routes(signal: AbortSignal): Promise<Route[]> {
    if (routesRead === null || Date.now() - routesRead.at > ROUTES_FRESH_MS) {
      routesRead = { at: Date.now(), routes: hostRoutes(signal) };
      routesRead.routes.catch(() => {
        routesRead = null;
      });
    }
    return routesRead.routes;
  }

  /** The default network: its subnet chosen (and with `persist`, kept) at its first use. */
  async function defaultNetwork(signal: AbortSignal, persist: boolean): Promise<BridgeNetwork> {
    const chosen = readChosenSubnet(subnetFile);
    if (chosen) return networkOf(options.names, chosen);
    const subnet = firstFreeSubnet(await routes(signal), options.names.bridge);
    if (!subnet) throw new CorralError('NETWORK_SUBNET_CONFLICT', 'every /24 of 10.89.0.0/16 overlaps a route of this host: no subnet is free for the default network');
    if (persist) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      await writeChosenSubnet(subnetFile, subnet);
    }
    return networkOf(options.names, subnet);
  }

  /** A container's network: the default one, or a named one once ensureNetwork made it. */
  async function network(name: string, signal: AbortSignal, persist: boolean): Promise<BridgeNetwork> {
    if (name === DEFAULT_NETWORK) return defaultNetwork(signal, persist);
    const record = records.get(name);
    if (record === null) throw new CorralError('NETWORK_SETUP_FAILED', `network \`${name}\` is not made on this host`, { hint: 'its manifest must be valid: `corral validate` says why it is not' });
    return bridgeOf(record.definition);
  }

  const takenBy = (except: string, on: string): Map<string, string> => new Map(leases.all().filter((l) => l.name !== except && leaseNetwork(l) === on).map((l) => [l.address, l.name]));

  let forwardingTold = false;
  let forwarding6Told = false;
  async function check(spec: ContainerSpec): Promise<Diagnostic[]> {
    if (spec.network.mode !== 'bridge') return [];
    const at = { container: spec.name };
    const missing = missingTools();
    if (missing.length > 0) {
      return [diagnostic('error', 'NETWORK_TOOL_MISSING', `bridge networking needs ${missing.join(', ')}`, { ...at, field: 'spec.network.mode', hint: 'apt-get install nftables iproute2 util-linux' })];
    }
    const out: Diagnostic[] = [];
    const signal = AbortSignal.timeout(10_000);
    const joins = networkOfSpec(spec) ?? DEFAULT_NETWORK;
    let net: BridgeNetwork | null;
    if (joins === DEFAULT_NETWORK) {
      net = await defaultNetwork(signal, false);
      const conflict = routeConflict(await routes(signal), net.bridge, net.subnet);
      if (conflict) {
        out.push(diagnostic('error', 'NETWORK_SUBNET_CONFLICT', `the default network's subnet ${formatSubnet(net.subnet)} overlaps the host route ${formatSubnet(conflict.dst)} on \`${conflict.dev}\``, {
          ...at, hint: `remove ${subnetFile} once no container uses the bridge, and corral picks a free subnet`,
        }));
      }
    } else {
      // Not made yet: the plan makes it first, and the manifest checks placed a fixed address in it.
      const record = records.get(joins);
      net = record === null ? null : bridgeOf(record.definition);
    }
    const wanted = spec.network.bridge?.address ?? 'auto';
    if (wanted !== 'auto' && net !== null) {
      const refused = refuseAddress(net.subnet, net.gateway, wanted, takenBy(spec.name, joins));
      if (refused) out.push(diagnostic('error', 'NETWORK_ADDRESS_CONFLICT', `network.address ${wanted}: ${refused}`, { ...at, field: 'spec.network.address' }));
    }
    const listeners = listenerReader();
    spec.network.ports.forEach((p) => {
      const listener = matchListener(p, listeners(p.protocol));
      if (listener) {
        out.push(diagnostic('error', 'NETWORK_PORT_CONFLICT', `host port ${p.hostIP}:${p.hostPort}/${p.protocol} is taken: a host process listens on ${listener}`, {
          ...at, field: 'spec.network.ports', hint: 'publish another host port, or stop that process',
        }));
      }
    });
    if ((net?.masquerade ?? true) && !ipForwarding() && !forwardingTold) {
      forwardingTold = true;
      out.push(diagnostic('warning', 'NETWORK_FORWARDING', 'corral turns on net.ipv4.ip_forward (off on this host) so that bridged containers reach beyond the host', at));
    }
    return out;
  }

  /**
   * Set by corral in the namespace it makes, as Docker does for every container: any user may bind
   * a port and ping. A container with a user namespace has no privilege over a namespace the host's
   * user namespace owns, so without these root in it could do neither; the manifest's own `net.*`
   * sysctls are set here too, after them, for the same reason (src/drivers/namespaces/mount-program.ts
   * leaves them out).
   */
  function namespaceSysctls(spec: ContainerSpec): Array<{ name: string; value: string }> {
    return [...NETNS_SYSCTLS, ...spec.security.sysctls.filter((s) => s.name.startsWith('net.'))];
  }

  async function attach(name: string, spec: ContainerSpec, signal: AbortSignal): Promise<NetworkAttachment> {
    if (spec.network.mode !== 'bridge') return NOTHING;
    const joins = networkOfSpec(spec) ?? DEFAULT_NETWORK;
    const net = await network(joins, signal, true);
    await links.ensureBridge(net, signal);
    const held = leases.get(name);
    // An address is kept across restarts on the same network; a container moved to another gets a new one.
    const heldHere = held !== null && leaseNetwork(held) === joins ? held.address : null;
    const choice = chooseAddress(net.subnet, net.gateway, { wanted: spec.network.bridge?.address ?? 'auto', held: heldHere }, takenBy(name, joins));
    if (!choice.ok) throw new CorralError('NETWORK_ADDRESS_CONFLICT', `container \`${name}\`: ${choice.reason}`, { container: name });
    const address6 = ipv6For(net, choice.address);
    const lease: Lease = {
      format: LEASE_FORMAT, name, ...(joins === DEFAULT_NETWORK ? {} : { network: joins }), address: choice.address, ...(address6 ? { address6 } : {}), veth: vethOf(name),
      names: [...new Set([spec.hostname, name, ...(spec.network.bridge?.aliases ?? [])].filter(Boolean))],
      ports: spec.network.ports,
    };
    mkdirSync(join(dir, 'leases'), { recursive: true, mode: 0o700 });
    // The lease first: a crash from here on leaves something list() finds and detach() undoes.
    await leases.put(lease);
    // A restart gets a fresh namespace; the old one (and its veth) go first.
    await links.deleteVeth(lease.veth, signal);
    await links.wireNew(net, lease, nsFile(name), signal, namespaceSysctls(spec));
    const all = leases.all();
    const binds = etc.write(lease, spec, all);
    etc.refresh(all, name, joins);
    if (held !== null && leaseNetwork(held) !== joins) etc.refresh(all, name, leaseNetwork(held));
    // Its ports are published by sync() at the end of the pass: one nft run for all containers.
    return { netnsPath: nsFile(name), handle: { format: HANDLE_FORMAT, network: net.name, address: lease.address, ...(address6 ? { address6 } : {}), veth: lease.veth }, binds };
  }

  async function detach(name: string, signal: AbortSignal): Promise<void> {
    const lease = leases.get(name);
    if (lease === null && !existsSync(nsFile(name))) return;
    removeNetns(nsFile(name));
    await links.deleteVeth(lease?.veth ?? vethOf(name), signal);
    rmSync(leases.file(name), { force: true });
    etc.remove(name);
    if (lease !== null) etc.refresh(leases.all(), name, leaseNetwork(lease));
    // Its rules go at the end of the pass (sync), with the bridge when it was the last one.
  }

  /** The networks the table is rendered for: the default one while a container is on it, every named one. */
  async function activeNetworks(all: readonly Lease[], signal: AbortSignal): Promise<BridgeNetwork[]> {
    const named = records.all().map((r) => bridgeOf(r.definition));
    return all.some((l) => leaseNetwork(l) === DEFAULT_NETWORK) ? [await defaultNetwork(signal, false), ...named] : named;
  }

  async function sync(signal: AbortSignal): Promise<string[]> {
    // A lease or network record whose writer was killed mid-write leaves its temp file.
    await removeStaleTemps(join(dir, 'leases'));
    await removeStaleTemps(join(dir, 'networks'));
    const all = leases.all();
    const repaired: string[] = [];
    if (!all.some((l) => leaseNetwork(l) === DEFAULT_NETWORK) && interfaceNames().has(options.names.bridge)) {
      // The default network's bridge goes with its last container (named networks' with their manifest).
      await links.deleteBridge(await defaultNetwork(signal, false), signal);
    }
    const nets = await activeNetworks(all, signal);
    for (const net of nets) {
      const wired = all.filter((l) => leaseNetwork(l) === net.name).map((lease) => ({ lease, netns: nsFile(lease.name) })).filter((w) => existsSync(w.netns));
      if (wired.length > 0) {
        repaired.push(...await links.repair(net, wired, signal));
      } else if (!interfaceNames().has(net.bridge)) {
        // A named network lives as long as its manifest, containers or not.
        await links.ensureBridge(net, signal);
        repaired.push(`the bridge \`${net.bridge}\` of network \`${net.name}\` was missing: made again`);
      }
    }
    if (all.length === 0) {
      // Nothing bridged: no rule is needed (nor any subprocess, unless the table is left to remove).
      if (table.exists()) await table.remove(signal);
      return repaired;
    }
    const text = renderRuleset(options.names.table, nets.map((n) => ({
      name: n.name, bridge: n.bridge, subnet: formatSubnet(n.subnet), subnet6: n.ipv6 ? formatSubnet6(n.ipv6.subnet) : null, masquerade: n.masquerade, isolated: n.isolated,
    })), all);
    return [...repaired, ...await table.sync(text, signal)];
  }

  async function checkNetwork(def: NetworkDefinition): Promise<Diagnostic[]> {
    const at = { network: def.name };
    const missing = missingTools();
    if (missing.length > 0) {
      return [diagnostic('error', 'NETWORK_TOOL_MISSING', `bridge networking needs ${missing.join(', ')}`, { ...at, hint: 'apt-get install nftables iproute2 util-linux' })];
    }
    const out: Diagnostic[] = [];
    const net = bridgeOf(def);
    if (def.bridge === options.names.bridge) {
      out.push(diagnostic('error', 'NETWORK_SUBNET_CONFLICT', `bridge \`${def.bridge}\` is the default network's`, { ...at, field: 'spec.bridge', hint: 'choose another bridge name' }));
    }
    const routeHit = routeConflict(await routes(AbortSignal.timeout(10_000)), def.bridge, net.subnet);
    if (routeHit) {
      out.push(diagnostic('error', 'NETWORK_SUBNET_CONFLICT', `subnet ${def.subnet} overlaps the host route ${formatSubnet(routeHit.dst)} on \`${routeHit.dev}\``, {
        ...at, field: 'spec.subnet', hint: 'choose a subnet no route of this host covers (`ip route` lists them)',
      }));
    }
    if (net.ipv6) {
      const subnet6 = net.ipv6.subnet;
      const hit6 = (await hostRoutes6(AbortSignal.timeout(10_000))).find((r) => r.dev !== def.bridge && overlaps6(r.dst, subnet6));
      if (hit6) {
        out.push(diagnostic('error', 'NETWORK_SUBNET_CONFLICT', `IPv6 subnet ${formatSubnet6(subnet6)} overlaps the host route ${formatSubnet6(hit6.dst)} on \`${hit6.dev}\``, {
          ...at, field: 'spec.ipv6', hint: 'choose an IPv6 subnet no route of this host covers (`ip -6 route` lists them)',
        }));
      }
      if (def.masquerade && !ipForwarding(IPV6_FORWARDING) && !forwarding6Told) {
        forwarding6Told = true;
        out.push(diagnostic('warning', 'NETWORK_FORWARDING', `corral turns on net.ipv6.conf.all.forwarding (off on this host) so that network \`${def.name}\`'s containers reach beyond the host over IPv6`, {
          ...at, detail: 'with forwarding on, an interface that takes its IPv6 address from router advertisements keeps it only with accept_ra=2 on that interface',
        }));
      }
    }
    const chosen = readChosenSubnet(subnetFile);
    if (chosen && overlaps(chosen, net.subnet)) {
      out.push(diagnostic('error', 'NETWORK_SUBNET_CONFLICT', `subnet ${def.subnet} overlaps the default network's ${formatSubnet(chosen)}`, { ...at, field: 'spec.subnet' }));
    }
    if (interfaceNames().has(def.bridge) && records.get(def.name)?.definition.bridge !== def.bridge && !(await links.owns(def.bridge, AbortSignal.timeout(10_000)))) {
      out.push(diagnostic('error', 'NETWORK_SUBNET_CONFLICT', `the interface \`${def.bridge}\` exists and is not one corral made`, { ...at, field: 'spec.bridge', hint: 'choose another bridge name' }));
    }
    if (def.masquerade && !ipForwarding() && !forwardingTold) {
      forwardingTold = true;
      out.push(diagnostic('warning', 'NETWORK_FORWARDING', `corral turns on net.ipv4.ip_forward (off on this host) so that network \`${def.name}\`'s containers reach beyond the host`, at));
    }
    return out;
  }

  async function ensureNetwork(def: NetworkDefinition, hash: string, origin: ActualNetwork['origin'], signal: AbortSignal): Promise<void> {
    const before = records.get(def.name);
    const net = bridgeOf(def);
    if (before !== null) {
      const old = bridgeOf(before.definition);
      if (networkChangeEffect(before.definition, def) === 'recreate') {
        // Rebuilt: its containers are restarted by the plan and wired to the new bridge.
        await links.deleteBridge(old, signal);
      }
    }
    await links.ensureBridge(net, signal);
    if (before !== null && before.definition.mtu !== def.mtu) {
      const wired = leases.all().filter((l) => leaseNetwork(l) === def.name).map((lease) => ({ lease, netns: nsFile(lease.name) })).filter((w) => existsSync(w.netns));
      await links.setMtu(net, wired, signal);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await records.put({ definition: def, hash, origin });
    // Masquerade and isolation are rules: sync() renders them at the end of the pass.
  }

  async function removeNetwork(name: string, signal: AbortSignal): Promise<void> {
    const record = records.get(name);
    if (record !== null) await links.deleteBridge(bridgeOf(record.definition), signal);
    records.remove(name);
  }

  return {
    supports: unsupportedNetworkFields,
    check,
    attach: (name, spec, signal) => serial(() => attach(name, spec, signal)),
    detach: (name, _handle, signal) => serial(() => detach(name, signal)),
    async stats(handle) {
      const veth = typeof handle === 'object' && handle !== null && !Array.isArray(handle) ? (handle as Record<string, unknown>)['veth'] : undefined;
      if (typeof veth !== 'string') return null;
      const host = readNetDev().get(veth);
      // The host's end of the pair: what it receives, the container sent.
      return host ? { receiveBytes: host.transmitBytes, transmitBytes: host.receiveBytes } : null;
    },
    async list() {
      let ns: string[] = [];
      try {
        ns = readdirSync(nsDir);
      } catch {
        // No namespace made yet.
      }
      return [...new Set([...leases.names(), ...ns])].sort();
    },
    networks: async () => records.all(),
    checkNetwork,
    ensureNetwork: (def, hash, origin, signal) => serial(() => ensureNetwork(def, hash, origin, signal)),
    removeNetwork: (name, signal) => serial(() => removeNetwork(name, signal)),
    sync: (signal) => serial(() => sync(signal)),
  };
}
