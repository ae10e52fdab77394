// The interfaces of a bridge network: the bridge, and a veth pair per container (host end on the
// bridge, `eth0` in the container's namespace file). Everything corral creates carries an
// interface alias (`corral:<root>` on the bridge, `corral:<root>:<name>` on a veth) and nothing
// without it is ever deleted.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../../errors.js';
import { formatIPv4 } from '../../../manifest/ipv4.js';
import { formatIPv6 } from '../../../manifest/ipv6.js';
import { createNetnsAt } from '../../../sys/net-namespace.js';
import { NetlinkError, NetlinkSocket } from '../../../sys/netlink.js';
import { describe, type BridgeNetwork } from './default-network.js';
import { ipForwarding, IPV4_FORWARDING, IPV6_FORWARDING } from './host-facts.js';
import type { Lease } from './leases.js';
import { prepareNetnsFile } from './netns.js';
import { addAddress, addDefaultRoute, createBridge, createVeth, deleteLink, linkByName, listLinks, setAlias, setHairpin, setUp } from './rtnl.js';
import { ipBatch } from './tools.js';

/** `02:cc:` (locally administered, unicast) and the four bytes of the IPv4 address. */
export function macOf(address: string): string {
  return ['02', 'cc', ...address.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/**
 * The interfaces of corral's network namespace. From /proc/self/net, not /sys: /sys shows the
 * namespace it was mounted in, which is not corral's when corral was started with `nsenter --net`
 * (as the tests do).
 */
export function interfaceNames(): Set<string> {
  return new Set(readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean));
}

/** A netlink failure as the driver's error, naming what it was doing. */
function setupFailed(what: string, err: unknown): CorralError {
  if (err instanceof CorralError && err.code !== 'SYSCALL_FAILED') return err;
  return new CorralError('NETWORK_SETUP_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
}

/** Runs netlink work, its failures as NETWORK_SETUP_FAILED. */
function netlink<T>(what: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw setupFailed(what, err);
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

export class Links {
  /** corral's own namespace, over netlink: opened at first use, kept for the process. */
  private socket: NetlinkSocket | null = null;

  private host(): NetlinkSocket {
    this.socket ??= NetlinkSocket.open();
    return this.socket;
  }

  /** An interface's alias ('' when it has none); null when there is no such interface. */
  private alias(name: string): string | null {
    if (!interfaceNames().has(name)) return null;
    const link = netlink(`read interface \`${name}\``, () => linkByName(this.host(), name));
    return link === null ? null : link.alias ?? '';
  }

  /** Each bridge is checked (or made) once per process; a wiring failure checks them again. */
  private readonly ready = new Set<string>();

  /**
   * `owner`: the alias of this root's bridge (`corral:<short root id>`); `dir`: where the intent to
   * make a bridge is journaled (the state root's network directory).
   */
  constructor(private readonly owner: string, private readonly dir: string) {}

  /**
   * Makes the bridge, in process: created, named (its alias), addressed and brought up in five
   * requests. Those cannot be one, so the intent is journaled first (`bridge-<name>.creating`
   * beside the leases): a bridge found with the journal still there is a half-made one of ours
   * (corral was killed between two requests), deleted and made again; without it, a bridge that
   * does not carry this root's alias is someone else's and is refused.
   */
  async ensureBridge(net: BridgeNetwork, signal: AbortSignal): Promise<void> {
    if (this.ready.has(net.bridge) && interfaceNames().has(net.bridge)) return;
    signal.throwIfAborted();
    const intent = this.bridgeIntent(net.bridge);
    const halfMade = existsSync(intent);
    let alias = this.alias(net.bridge);
    if (alias !== null && halfMade) {
      this.deleteOwned(net.bridge, () => true, `delete the half-made bridge \`${net.bridge}\``);
      alias = null;
    }
    if (alias !== null) {
      if (alias !== this.owner) {
        throw new CorralError('NETWORK_SUBNET_CONFLICT', `the interface \`${net.bridge}\` exists and is not this state root's bridge (its alias is \`${alias}\`)`, {
          hint: 'remove that interface, or run corral with another state root',
        });
      }
    } else {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileSync(intent, '');
      netlink(`create ${describe(net)}`, () => {
        const host = this.host();
        createBridge(host, net.bridge, net.mtu);
        const bridge = linkByName(host, net.bridge);
        if (bridge === null) throw new CorralError('NETWORK_SETUP_FAILED', `bridge \`${net.bridge}\` vanished as it was made`);
        setAlias(host, bridge.index, this.owner);
        addAddress(host, bridge.index, formatIPv4(net.gateway), net.subnet.prefix);
        // IPv6 without duplicate detection (addAddress): usable at once, on a bridge corral owns.
        if (net.ipv6) addAddress(host, bridge.index, formatIPv6(net.ipv6.gateway), net.ipv6.subnet.prefix);
        setUp(host, bridge.index);
      });
      rmSync(intent, { force: true });
    }
    // A published port answers on 127.0.0.1 only when the bridge may route loopback sources
    // (the table's guard chain closes what that opens: docs/security.md).
    writeProcSys(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, '1');
    if (net.masquerade && !ipForwarding()) writeProcSys(IPV4_FORWARDING, '1');
    if (net.masquerade && net.ipv6 && !ipForwarding(IPV6_FORWARDING)) writeProcSys(IPV6_FORWARDING, '1');
    this.ready.add(net.bridge);
  }

  /**
   * A new namespace file for the lease, wired, in this process (no subprocess): the namespace is
   * made and bound to its file (src/sys/net-namespace.ts), the pair created from corral's side with
   * its host end up on the bridge and `eth0` sent into the namespace in one request, then the
   * alias and hairpin of the host end, and `lo`, the addresses and the default routes of `eth0`
   * over a netlink socket opened inside the namespace.
   */
  async wireNew(net: BridgeNetwork, lease: Lease, netns: string, signal: AbortSignal, sysctls: ReadonlyArray<{ readonly name: string; readonly value: string }> = []): Promise<void> {
    signal.throwIfAborted();
    await this.guard(async () => {
      const what = `connect \`${lease.name}\` to bridge \`${net.bridge}\``;
      prepareNetnsFile(netns);
      const inner = createNetnsAt(netns, sysctls);
      try {
        netlink(what, () => {
          const host = this.host();
          const bridge = linkByName(host, net.bridge);
          if (bridge === null) throw new CorralError('NETWORK_SETUP_FAILED', `${what}: the bridge is missing`);
          createVeth(host, { host: { name: lease.veth, mtu: net.mtu, master: bridge.index }, peer: { name: 'eth0', mtu: net.mtu, mac: macOf(lease.address), nsFd: inner.fd } });
          const veth = linkByName(host, lease.veth);
          if (veth === null) throw new CorralError('NETWORK_SETUP_FAILED', `${what}: veth \`${lease.veth}\` vanished`);
          setAlias(host, veth.index, `${this.owner}:${lease.name}`);
          // Hairpin: with br_netfilter loaded, a container's connection to its own published
          // port is DNATed at the bridge and must be allowed back out of the port it came in on.
          setHairpin(host, veth.index);
          setUp(host, veth.index);
          const loopback = 1;
          setUp(inner.socket, loopback);
          const eth0 = linkByName(inner.socket, 'eth0');
          if (eth0 === null) throw new CorralError('NETWORK_SETUP_FAILED', `${what}: eth0 is not in the namespace`);
          setUp(inner.socket, eth0.index);
          addAddress(inner.socket, eth0.index, lease.address, net.subnet.prefix);
          if (net.ipv6 && lease.address6) addAddress(inner.socket, eth0.index, lease.address6, net.ipv6.subnet.prefix);
          addDefaultRoute(inner.socket, eth0.index, formatIPv4(net.gateway));
          if (net.ipv6 && lease.address6) addDefaultRoute(inner.socket, eth0.index, formatIPv6(net.ipv6.gateway));
        });
      } finally {
        inner.socket.close();
        closeSync(inner.fd);
      }
    });
  }

  /** A veth pair into the existing namespace file (the container runs in it), `eth0` configured. */
  async wire(net: BridgeNetwork, lease: Lease, netns: string, signal: AbortSignal): Promise<void> {
    await this.guard(async () => {
      await ipBatch([
        `link add ${lease.veth} mtu ${net.mtu} type veth peer name eth0 mtu ${net.mtu} address ${macOf(lease.address)} netns ${netns}`,
        `link set ${lease.veth} alias ${this.owner}:${lease.name}`,
        ...this.enslave(net, lease),
      ], signal, `connect \`${lease.name}\` to bridge \`${net.bridge}\``);
      await ipBatch(this.configure(net, lease), signal, `configure eth0 of \`${lease.name}\``, netns);
    });
  }

  /** A wiring failure makes the next call check the bridge again. */
  private async guard(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.ready.clear();
      throw err;
    }
  }

  /**
   * `eth0` inside the namespace. Its MAC is derived from the address (wire, wireNew): a restarted
   * or re-wired container keeps it, so its neighbours' ARP caches stay right (a new random one
   * would leave it unreachable for them for ~30 s).
   */
  private configure(net: BridgeNetwork, lease: Lease): string[] {
    return [
      'link set lo up',
      `addr add ${lease.address}/${net.subnet.prefix} dev eth0`,
      ...(net.ipv6 && lease.address6 ? [`addr add ${lease.address6}/${net.ipv6.subnet.prefix} dev eth0 nodad`] : []),
      'link set eth0 up',
      `route add default via ${formatIPv4(net.gateway)}`,
      ...(net.ipv6 && lease.address6 ? [`route add ::/0 via ${formatIPv6(net.ipv6.gateway)} dev eth0`] : []),
    ];
  }

  private enslave(net: BridgeNetwork, lease: Lease): string[] {
    return [
      `link set ${lease.veth} master ${net.bridge}`,
      // Hairpin: with br_netfilter loaded, a container's connection to its own published port
      // is DNATed at the bridge and must be allowed back out of the port it came in on.
      `link set ${lease.veth} type bridge_slave hairpin on`,
      `link set ${lease.veth} up`,
    ];
  }

  /**
   * A changed MTU, live: the bridge, the host end of each veth and each container's `eth0` (in its
   * namespace file). A container started later gets it at its wiring.
   */
  async setMtu(net: BridgeNetwork, wired: ReadonlyArray<{ lease: Lease; netns: string }>, signal: AbortSignal): Promise<void> {
    await ipBatch([`link set ${net.bridge} mtu ${net.mtu}`, ...wired.map((w) => `link set ${w.lease.veth} mtu ${net.mtu}`)], signal, `set the MTU of ${describe(net)}`);
    for (const w of wired) await ipBatch([`link set eth0 mtu ${net.mtu}`], signal, `set the MTU of eth0 of \`${w.lease.name}\``, w.netns);
  }

  /**
   * Deletes a veth of this root's (by its alias). Idempotent. One without any alias, under the
   * name this root derives for a container (`cv` + 10 hex digits of a hash of the root and the
   * name), is ours too: corral was killed between creating it and naming it.
   */
  async deleteVeth(veth: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const unnamedLeftover = /^cv[0-9a-f]{10}$/.test(veth);
    this.deleteOwned(veth, (alias) => alias.startsWith(`${this.owner}:`) || (unnamedLeftover && alias === ''), `delete veth \`${veth}\``);
  }

  /** Deletes an interface whose alias `mine` accepts; nothing when it is gone (a veth goes with its namespace). */
  private deleteOwned(name: string, mine: (alias: string) => boolean, what: string): void {
    netlink(what, () => {
      const host = this.host();
      const link = interfaceNames().has(name) ? linkByName(host, name) : null;
      if (link === null || !mine(link.alias ?? '')) return;
      try {
        deleteLink(host, link.index);
      } catch (err) {
        if (!(err instanceof NetlinkError && err.errnoName === 'ENODEV')) throw err;
      }
    });
  }

  /** Whether the interface is one this root made (its alias says so, or the journal of a half-made bridge). */
  async owns(name: string, signal: AbortSignal): Promise<boolean> {
    signal.throwIfAborted();
    if (existsSync(this.bridgeIntent(name))) return true;
    const alias = this.alias(name);
    return alias === this.owner || (alias?.startsWith(`${this.owner}:`) ?? false);
  }

  private bridgeIntent(bridge: string): string {
    return join(this.dir, `bridge-${bridge}.creating`);
  }

  /** Deletes this root's bridge. Idempotent. */
  async deleteBridge(net: BridgeNetwork, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.deleteOwned(net.bridge, (alias) => alias === this.owner, `delete bridge \`${net.bridge}\``);
    this.ready.clear();
  }

  /**
   * The bridge and the veths are actual state too: a bridge deleted by hand is made again and its
   * ports reattached, a veth deleted by hand (its container end goes with it) is wired again into
   * the container's namespace, which lives on in its file. No container restarts. `wired`: the
   * leases whose namespace file exists, with it.
   */
  async repair(net: BridgeNetwork, wired: ReadonlyArray<{ lease: Lease; netns: string }>, signal: AbortSignal): Promise<string[]> {
    if (wired.length === 0) return [];
    const repaired: string[] = [];
    if (!interfaceNames().has(net.bridge)) {
      this.ready.clear();
      await this.ensureBridge(net, signal);
      repaired.push(`the bridge \`${net.bridge}\` was missing: made again`);
    }
    const ports = netlink(`list the ports of bridge \`${net.bridge}\``, () => {
      const links = listLinks(this.host());
      const bridge = links.find((l) => l.name === net.bridge);
      return new Set(links.filter((l) => bridge !== undefined && l.master === bridge.index).map((l) => l.name));
    });
    const present = interfaceNames();
    for (const { lease, netns } of wired) {
      if (ports.has(lease.veth)) continue;
      if (present.has(lease.veth)) {
        await ipBatch(this.enslave(net, lease), signal, `reattach \`${lease.name}\` to bridge \`${net.bridge}\``);
        repaired.push(`the veth of \`${lease.name}\` was off the bridge: reattached`);
      } else if (existsSync(netns)) {
        await this.wire(net, lease, netns, signal);
        repaired.push(`the veth of \`${lease.name}\` was gone: wired again`);
      }
    }
    return repaired;
  }
}
