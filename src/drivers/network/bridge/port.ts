// The bridge driver behind the reconciler's NetworkPort (src/reconciler/ports.ts): for
// `network.mode: bridge` a network namespace of the container's own (netns.ts), a veth pair to the
// state root's bridge with a leased address (ipam.ts, leases.ts), /etc/hosts and /etc/resolv.conf
// bound read-only (etc-files.ts), and published ports as DNAT rules in corral's nftables table
// (ruleset.ts), restored by sync() at every pass when something removed or altered it.
// docs/network.md describes the whole design. Containers of other modes cost nothing here.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, diagnostic, type Diagnostic } from '../../../errors.js';
import type { ContainerSpec } from '../../../manifest/spec.js';
import type { BindSpec, NetworkAttachment, NetworkPort } from '../../../reconciler/ports.js';
import { unsupportedNetworkFields } from '../port.js';
import {
  describe, firstFreeSubnet, networkOf, readChosenSubnet, routeConflict, writeChosenSubnet, type BridgeNetwork, type NetworkNames, type Route,
} from './default-network.js';
import { renderHosts, renderResolvConf, type HostEntry } from './etc-files.js';
import { hostListener, hostResolvers, hostRoutes, ipForwarding } from './host-facts.js';
import { chooseAddress, refuseAddress } from './ipam.js';
import { formatIPv4, formatSubnet } from './ipv4.js';
import { LEASE_FORMAT, LeaseStore, type Lease } from './leases.js';
import { createNetns, removeNetns } from './netns.js';
import { renderDeletion, renderRuleset } from './ruleset.js';
import { ipBatch, missingTools, run } from './tools.js';

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

export function bridgeNetworkPort(options: BridgeDriverOptions): NetworkPort {
  const dir = join(options.root, 'network');
  const leases = new LeaseStore(join(dir, 'leases'));
  const nsDir = join(dir, 'ns');
  const nsFile = (name: string): string => join(nsDir, name);
  const etcDir = (name: string): string => join(options.containerDir(name), 'network');
  const subnetFile = join(dir, 'default.json');
  const tableFile = join(dir, 'table.nft');
  const listedFile = join(dir, 'table.listed');
  const owner = `corral:${options.rootId.slice(0, 8)}`;
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

  // The bridge is checked (or made) once per process; a wiring failure checks it again.
  let bridgeReady = false;
  async function ensureBridge(net: BridgeNetwork, signal: AbortSignal): Promise<void> {
    if (bridgeReady && interfaceNames().has(net.bridge)) return;
    const alias = await linkAlias(net.bridge, signal);
    if (alias !== null) {
      if (alias !== owner) {
        throw new CorralError('NETWORK_SUBNET_CONFLICT', `the interface \`${net.bridge}\` exists and is not this state root's bridge (its alias is \`${alias}\`)`, {
          hint: 'remove that interface, or run corral with another state root',
        });
      }
    } else {
      await ipBatch([
        `link add ${net.bridge} type bridge`,
        `link set ${net.bridge} alias ${owner}`,
        `addr add ${formatIPv4(net.gateway)}/${net.subnet.prefix} dev ${net.bridge}`,
        `link set ${net.bridge} mtu ${net.mtu} up`,
      ], signal, `create ${describe(net)}`);
    }
    // A published port answers on 127.0.0.1 only when the bridge may route loopback sources.
    writeProcSys(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, '1');
    if (net.masquerade && !ipForwarding()) writeProcSys('/proc/sys/net/ipv4/ip_forward', '1');
    bridgeReady = true;
  }

  async function wire(net: BridgeNetwork, lease: Lease, file: string, signal: AbortSignal): Promise<void> {
    await ipBatch([
      // A MAC derived from the address: a restarted or re-wired container keeps it, so its
      // neighbours' ARP caches stay right (a new random one would be unreachable for ~30 s).
      `link add ${lease.veth} mtu ${net.mtu} type veth peer name eth0 mtu ${net.mtu} address ${macOf(lease.address)} netns ${file}`,
      `link set ${lease.veth} alias ${owner}:${lease.name}`,
      `link set ${lease.veth} master ${net.bridge}`,
      // Hairpin: with br_netfilter loaded, a container's connection to its own published port
      // is DNATed at the bridge and must be allowed back out of the port it came in on.
      `link set ${lease.veth} type bridge_slave hairpin on`,
      `link set ${lease.veth} up`,
    ], signal, `connect \`${lease.name}\` to bridge \`${net.bridge}\``);
    await ipBatch([
      'link set lo up',
      `addr add ${lease.address}/${net.subnet.prefix} dev eth0`,
      'link set eth0 up',
      `route add default via ${formatIPv4(net.gateway)}`,
    ], signal, `configure eth0 of \`${lease.name}\``, file);
  }

  async function deleteLink(veth: string, signal: AbortSignal): Promise<void> {
    const alias = await linkAlias(veth, signal);
    if (alias === null || !alias.startsWith(`${owner}:`)) return;
    await ipBatch([`link del ${veth}`], signal, `delete veth \`${veth}\``).catch((err: unknown) => {
      // Gone meanwhile: its namespace went away and took it along.
      if (interfaceNames().has(veth)) throw err;
    });
  }

  function hostEntry(l: Lease): HostEntry {
    return { address: l.address, names: l.names };
  }

  async function writeEtc(lease: Lease, spec: ContainerSpec, all: readonly Lease[]): Promise<BindSpec[]> {
    const d = etcDir(lease.name);
    mkdirSync(d, { recursive: true, mode: 0o755 });
    const hosts = join(d, 'hosts');
    const resolv = join(d, 'resolv.conf');
    replaceFile(hosts, renderHosts(hostEntry(lease), all.filter((l) => l.name !== lease.name).map(hostEntry)), { mode: 0o644 });
    const host = hostResolvers();
    const dns = spec.network.dns;
    const config = {
      nameservers: dns?.nameservers.length ? dns.nameservers : host.config.nameservers,
      search: dns?.search.length ? dns.search : host.config.search,
      options: dns?.options.length ? dns.options : host.config.options,
    };
    replaceFile(resolv, renderResolvConf(config, dns ? 'the manifest\'s network.dns, the host\'s resolvers for what it leaves out' : host.origin), { mode: 0o644 });
    return [
      { source: hosts, target: '/etc/hosts', readOnly: true, replaceSymlink: true },
      { source: resolv, target: '/etc/resolv.conf', readOnly: true, replaceSymlink: true },
    ];
  }

  /** Rewrites the neighbours' /etc/hosts in place: their bind mounts hold the file's inode. */
  function refreshHosts(all: readonly Lease[], except: string): void {
    for (const l of all) {
      if (l.name === except) continue;
      const file = join(etcDir(l.name), 'hosts');
      if (!existsSync(file)) continue;
      rewriteInPlace(file, renderHosts(hostEntry(l), all.filter((o) => o.name !== l.name).map(hostEntry)));
    }
  }

  /**
   * The bridge and the veths are actual state too: a bridge deleted by hand is made again and its
   * ports reattached, a veth deleted by hand (its container end goes with it) is wired again into
   * the container's namespace, which lives on in its file. No container restarts.
   */
  async function repairLinks(net: BridgeNetwork, all: readonly Lease[], signal: AbortSignal): Promise<string[]> {
    const wired = all.filter((l) => existsSync(nsFile(l.name)));
    if (wired.length === 0) return [];
    const repaired: string[] = [];
    if (!interfaceNames().has(net.bridge)) {
      bridgeReady = false;
      await ensureBridge(net, signal);
      repaired.push(`the bridge \`${net.bridge}\` was missing: made again`);
    }
    const out = await run('ip', ['-j', 'link', 'show', 'master', net.bridge], '', signal, `list the ports of bridge \`${net.bridge}\``);
    const ports = new Set((JSON.parse(out || '[]') as Array<{ ifname?: string }>).map((l) => l.ifname));
    const present = interfaceNames();
    for (const lease of wired) {
      if (ports.has(lease.veth)) continue;
      if (present.has(lease.veth)) {
        await ipBatch([
          `link set ${lease.veth} master ${net.bridge}`, `link set ${lease.veth} type bridge_slave hairpin on`, `link set ${lease.veth} up`,
        ], signal, `reattach \`${lease.name}\` to bridge \`${net.bridge}\``);
        repaired.push(`the veth of \`${lease.name}\` was off the bridge: reattached`);
      } else {
        await wire(net, lease, nsFile(lease.name), signal);
        repaired.push(`the veth of \`${lease.name}\` was gone: wired again`);
      }
    }
    return repaired;
  }

  async function removeNetworkIfUnused(net: BridgeNetwork, signal: AbortSignal): Promise<void> {
    if (leases.names().length > 0) return;
    if ((await listTable(net.table, signal)) !== null) await run('nft', ['-f', '-'], renderDeletion(net.table), signal, `delete the nftables table \`inet ${net.table}\``);
    rmSync(tableFile, { force: true });
    rmSync(listedFile, { force: true });
    if ((await linkAlias(net.bridge, signal)) === owner) {
      await ipBatch([`link del ${net.bridge}`], signal, `delete bridge \`${net.bridge}\``);
    }
  }

  let forwardingTold = false;
  const port: NetworkPort = {
    supports: unsupportedNetworkFields,

    async check(spec) {
      if (spec.network.mode !== 'bridge') return [];
      const out: Diagnostic[] = [];
      const at = { container: spec.name };
      const missing = missingTools();
      if (missing.length > 0) {
        return [diagnostic('error', 'NETWORK_TOOL_MISSING', `bridge networking needs ${missing.join(', ')}`, { ...at, field: 'spec.network.mode', hint: 'apt-get install nftables iproute2 util-linux' })];
      }
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
      spec.network.ports.forEach((p, i) => {
        const listener = hostListener(p);
        if (listener) {
          out.push(diagnostic('error', 'NETWORK_PORT_CONFLICT', `host port ${p.hostIP}:${p.hostPort}/${p.protocol} is taken: a host process listens on ${listener}`, {
            ...at, field: `spec.network.ports[${i}]`, hint: 'publish another host port, or stop that process',
          }));
        }
      });
      if (net.masquerade && !ipForwarding() && !forwardingTold) {
        forwardingTold = true;
        out.push(diagnostic('warning', 'NETWORK_FORWARDING', 'corral turns on net.ipv4.ip_forward (off on this host) so that bridged containers reach beyond the host', at));
      }
      return out;
    },

    attach: (name, spec, signal) => serial(async () => {
      if (spec.network.mode !== 'bridge') return NOTHING;
      const net = await network(signal, true);
      await ensureBridge(net, signal);
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
      await deleteLink(lease.veth, signal);
      await createNetns(nsFile(name), signal);
      await wire(net, lease, nsFile(name), signal).catch((err: unknown) => {
        bridgeReady = false;
        throw err;
      });
      const all = leases.all();
      const binds = await writeEtc(lease, spec, all);
      refreshHosts(all, name);
      // Its ports are published by sync() at the end of the pass: one nft run for all containers.
      return { netnsPath: nsFile(name), handle: { format: HANDLE_FORMAT, network: net.name, address: lease.address, veth: lease.veth }, binds };
    }),

    detach: (name, _handle, signal) => serial(async () => {
      const lease = leases.get(name);
      if (lease === null && !existsSync(nsFile(name))) return;
      removeNetns(nsFile(name));
      await deleteLink(lease?.veth ?? vethOf(name), signal);
      rmSync(leases.file(name), { force: true });
      rmSync(etcDir(name), { recursive: true, force: true });
      refreshHosts(leases.all(), name);
      // Its rules go at the end of the pass (sync), with the bridge when it was the last one.
    }),

    async list() {
      let ns: string[] = [];
      try {
        ns = readdirSync(nsDir);
      } catch {
        // No namespace made yet.
      }
      return [...new Set([...leases.names(), ...ns])].sort();
    },

    sync: (signal) => serial(async () => {
      const all = leases.all();
      if (all.length === 0) {
        // Nothing bridged: no subprocess at all, unless something of the network is left to remove.
        if (existsSync(tableFile) || interfaceNames().has(options.names.bridge)) await removeNetworkIfUnused(await network(signal, false), signal);
        return [];
      }
      const net = await network(signal, false);
      const links = await repairLinks(net, all, signal);
      const text = renderRuleset(net.table, { bridge: net.bridge, subnet: formatSubnet(net.subnet), masquerade: net.masquerade }, all);
      const changed = readText(tableFile) !== text;
      const live = await listTable(net.table, signal);
      const baseline = readText(listedFile);
      if (!changed && live !== null && live === baseline) return links;
      // Replaced whole in one transaction, then listed: the listing is what the next pass compares.
      rmSync(listedFile, { force: true });
      await run('nft', ['-f', '-'], text, signal, `apply the nftables table \`inet ${net.table}\``);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      replaceFile(tableFile, text);
      replaceFile(listedFile, (await listTable(net.table, signal)) ?? '');
      // The pass's own changes are no repair; a table gone or altered behind corral's back is.
      if (changed || baseline === null) return links;
      return [...links, live === null
        ? `the nftables table \`inet ${net.table}\` was missing (a firewall reload or \`nft flush ruleset\`?): restored`
        : `the nftables table \`inet ${net.table}\` was changed outside corral: restored`];
    }),
  };
  return port;
}

/** `02:cc:` (locally administered, unicast) and the four bytes of the IPv4 address. */
export function macOf(address: string): string {
  return ['02', 'cc', ...address.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/**
 * The interfaces of corral's network namespace. From /proc/self/net, not /sys: /sys shows the
 * namespace it was mounted in, which is not corral's when corral was started with `nsenter --net`
 * (as the tests do).
 */
function interfaceNames(): Set<string> {
  return new Set(readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean));
}

/** An interface's alias (corral marks what it creates with one); null when there is no such interface. */
async function linkAlias(name: string, signal: AbortSignal): Promise<string | null> {
  if (!interfaceNames().has(name)) return null;
  let out: string;
  try {
    out = await run('ip', ['-j', 'link', 'show', 'dev', name], '', signal, `read interface \`${name}\``);
  } catch (err) {
    // Gone meanwhile: a veth goes with its namespace, which the kernel tears down in the background.
    if (!interfaceNames().has(name)) return null;
    throw err;
  }
  const list = JSON.parse(out || '[]') as Array<{ ifalias?: string }>;
  return list[0]?.ifalias ?? '';
}

async function listTable(table: string, signal: AbortSignal): Promise<string | null> {
  try {
    return await run('nft', ['list', 'table', 'inet', table], '', signal, `read the nftables table \`inet ${table}\``);
  } catch (err) {
    if (err instanceof CorralError && /No such file or directory/.test(err.message)) return null;
    throw err;
  }
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function writeProcSys(file: string, value: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === value) return;
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new CorralError('NETWORK_SETUP_FAILED', `cannot set ${file} to ${value}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Write-and-rename without fsync, for files rebuilt from the leases at every change (the /etc files,
 * the rendered table): a reader never sees half of one, and a power cut costs nothing that the
 * next pass does not write again. Leases, which must survive, use writeFileAtomic.
 */
function replaceFile(file: string, text: string, options: { mode?: number } = {}): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: options.mode ?? 0o644 });
  renameSync(temp, file);
}

/** New content over the old bytes, then the length cut: never an empty file in between. */
function rewriteInPlace(file: string, text: string): void {
  const fd = openSync(file, 'r+');
  try {
    const data = Buffer.from(text);
    writeSync(fd, data, 0, data.length, 0);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}
