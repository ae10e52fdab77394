// The bridge driver behind the reconciler's NetworkPort (src/reconciler/ports.ts): for
// `network.mode: bridge` a network namespace of the container's own (netns.ts), a veth pair to the
// state root's bridge (links.ts) with a leased address (ipam.ts, leases.ts), /etc/hosts and
// /etc/resolv.conf bound read-only (etc-writer.ts), and published ports as DNAT rules in corral's
// nftables table (ruleset.ts, table.ts), restored by sync() at every pass with the bridge and the
// veths. docs/network.md describes the whole design. Containers of other modes cost nothing here.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, diagnostic, type Diagnostic } from '../../../errors.js';
import type { ContainerSpec } from '../../../manifest/spec.js';
import type { NetworkAttachment, NetworkPort } from '../../../reconciler/ports.js';
import { unsupportedNetworkFields } from '../port.js';
import {
  firstFreeSubnet, networkOf, readChosenSubnet, routeConflict, writeChosenSubnet, type BridgeNetwork, type NetworkNames, type Route,
} from './default-network.js';
import { EtcFiles } from './etc-writer.js';
import { hostListener, hostRoutes, ipForwarding } from './host-facts.js';
import { chooseAddress, refuseAddress } from './ipam.js';
import { formatSubnet } from './ipv4.js';
import { LEASE_FORMAT, LeaseStore, type Lease } from './leases.js';
import { interfaceNames, Links } from './links.js';
import { removeNetns } from './netns.js';
import { renderRuleset } from './ruleset.js';
import { Table } from './table.js';
import { missingTools } from './tools.js';

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

/** The host's connections, read once per check however many ports it publishes. */
function procNetReader(): (file: string) => string {
  const read = new Map<string, string>();
  return (file) => {
    if (!read.has(file)) read.set(file, readFileSync(file, 'utf8'));
    return read.get(file)!;
  };
}

export function bridgeNetworkPort(options: BridgeDriverOptions): NetworkPort {
  const dir = join(options.root, 'network');
  const leases = new LeaseStore(join(dir, 'leases'));
  const nsDir = join(dir, 'ns');
  const nsFile = (name: string): string => join(nsDir, name);
  const subnetFile = join(dir, 'default.json');
  const links = new Links(`corral:${options.rootId.slice(0, 8)}`);
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

  async function network(signal: AbortSignal, persist: boolean): Promise<BridgeNetwork> {
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

  const takenBy = (except: string): Map<string, string> => new Map(leases.all().filter((l) => l.name !== except).map((l) => [l.address, l.name]));

  let forwardingTold = false;
  async function check(spec: ContainerSpec): Promise<Diagnostic[]> {
    if (spec.network.mode !== 'bridge') return [];
    const at = { container: spec.name };
    const missing = missingTools();
    if (missing.length > 0) {
      return [diagnostic('error', 'NETWORK_TOOL_MISSING', `bridge networking needs ${missing.join(', ')}`, { ...at, field: 'spec.network.mode', hint: 'apt-get install nftables iproute2 util-linux' })];
    }
    const out: Diagnostic[] = [];
    const signal = AbortSignal.timeout(10_000);
    const net = await network(signal, false);
    const conflict = routeConflict(await routes(signal), net.bridge, net.subnet);
    if (conflict) {
      out.push(diagnostic('error', 'NETWORK_SUBNET_CONFLICT', `the default network's subnet ${formatSubnet(net.subnet)} overlaps the host route ${formatSubnet(conflict.dst)} on \`${conflict.dev}\``, {
        ...at, hint: `remove ${subnetFile} once no container uses the bridge, and corral picks a free subnet`,
      }));
    }
    const wanted = spec.network.bridge?.address ?? 'auto';
    if (wanted !== 'auto') {
      const refused = refuseAddress(net.subnet, net.gateway, wanted, takenBy(spec.name));
      if (refused) out.push(diagnostic('error', 'NETWORK_ADDRESS_CONFLICT', `network.address ${wanted}: ${refused}`, { ...at, field: 'spec.network.address' }));
    }
    const procNet = procNetReader();
    spec.network.ports.forEach((p) => {
      const listener = hostListener(p, procNet);
      if (listener) {
        out.push(diagnostic('error', 'NETWORK_PORT_CONFLICT', `host port ${p.hostIP}:${p.hostPort}/${p.protocol} is taken: a host process listens on ${listener}`, {
          ...at, field: 'spec.network.ports', hint: 'publish another host port, or stop that process',
        }));
      }
    });
    if (net.masquerade && !ipForwarding() && !forwardingTold) {
      forwardingTold = true;
      out.push(diagnostic('warning', 'NETWORK_FORWARDING', 'corral turns on net.ipv4.ip_forward (off on this host) so that bridged containers reach beyond the host', at));
    }
    return out;
  }

  async function attach(name: string, spec: ContainerSpec, signal: AbortSignal): Promise<NetworkAttachment> {
    if (spec.network.mode !== 'bridge') return NOTHING;
    const net = await network(signal, true);
    await links.ensureBridge(net, signal);
    const held = leases.get(name);
    const choice = chooseAddress(net.subnet, net.gateway, { wanted: spec.network.bridge?.address ?? 'auto', held: held?.address ?? null }, takenBy(name));
    if (!choice.ok) throw new CorralError('NETWORK_ADDRESS_CONFLICT', `container \`${name}\`: ${choice.reason}`, { container: name });
    const lease: Lease = {
      format: LEASE_FORMAT, name, address: choice.address, veth: vethOf(name),
      names: [...new Set([spec.hostname, name, ...(spec.network.bridge?.aliases ?? [])].filter(Boolean))],
      ports: spec.network.ports,
    };
    mkdirSync(join(dir, 'leases'), { recursive: true, mode: 0o700 });
    // The lease first: a crash from here on leaves something list() finds and detach() undoes.
    await leases.put(lease);
    // A restart gets a fresh namespace; the old one (and its veth) go first.
    await links.deleteVeth(lease.veth, signal);
    await links.wireNew(net, lease, nsFile(name), signal);
    const all = leases.all();
    const binds = etc.write(lease, spec, all);
    etc.refresh(all, name);
    // Its ports are published by sync() at the end of the pass: one nft run for all containers.
    return { netnsPath: nsFile(name), handle: { format: HANDLE_FORMAT, network: net.name, address: lease.address, veth: lease.veth }, binds };
  }

  async function detach(name: string, signal: AbortSignal): Promise<void> {
    const lease = leases.get(name);
    if (lease === null && !existsSync(nsFile(name))) return;
    removeNetns(nsFile(name));
    await links.deleteVeth(lease?.veth ?? vethOf(name), signal);
    rmSync(leases.file(name), { force: true });
    etc.remove(name);
    etc.refresh(leases.all(), name);
    // Its rules go at the end of the pass (sync), with the bridge when it was the last one.
  }

  async function sync(signal: AbortSignal): Promise<string[]> {
    const all = leases.all();
    if (all.length === 0) {
      // Nothing bridged: no subprocess at all, unless something of the network is left to remove.
      if (table.exists() || interfaceNames().has(options.names.bridge)) {
        const net = await network(signal, false);
        await table.remove(signal);
        await links.deleteBridge(net, signal);
      }
      return [];
    }
    const net = await network(signal, false);
    const wired = all.map((lease) => ({ lease, netns: nsFile(lease.name) })).filter((w) => existsSync(w.netns));
    const repaired = await links.repair(net, wired, signal);
    const text = renderRuleset(net.table, { bridge: net.bridge, subnet: formatSubnet(net.subnet), masquerade: net.masquerade }, all);
    return [...repaired, ...await table.sync(text, signal)];
  }

  return {
    supports: unsupportedNetworkFields,
    check,
    attach: (name, spec, signal) => serial(() => attach(name, spec, signal)),
    detach: (name, _handle, signal) => serial(() => detach(name, signal)),
    async list() {
      let ns: string[] = [];
      try {
        ns = readdirSync(nsDir);
      } catch {
        // No namespace made yet.
      }
      return [...new Set([...leases.names(), ...ns])].sort();
    },
    sync: (signal) => serial(() => sync(signal)),
  };
}
