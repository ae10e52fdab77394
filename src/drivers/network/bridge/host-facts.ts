// What the bridge driver reads of the host: its IPv4 routes (a subnet must not overlap them), the
// sockets that listen on a port corral would publish, its resolvers, and the forwarding switch.

import { readFileSync } from 'node:fs';
import type { PortMapping } from '../../../manifest/spec.js';
import { parseSubnet } from '../../../manifest/ipv4.js';
import { contains6, formatIPv6, parseSubnet6, type Subnet6 } from '../../../manifest/ipv6.js';
import { NETLINK_SOCK_DIAG, NetlinkSocket, NLM_F } from '../../../sys/netlink.js';
import type { Route } from './default-network.js';
import { parseResolvConf, type ResolverConfig } from './etc-files.js';
import { run } from './tools.js';

/** The host's routes of one family other than the default one, as `ip -j route show` gives them. */
async function routeEntries(family: 4 | 6, signal: AbortSignal): Promise<Array<{ dst: string; dev: string }>> {
  const out = await run('ip', ['-j', `-${family}`, 'route', 'show'], '', signal, `read the host's IPv${family} routes`);
  return (JSON.parse(out || '[]') as Array<{ dst?: string; dev?: string }>)
    .flatMap((r) => (r.dst && r.dst !== 'default' ? [{ dst: r.dst, dev: r.dev ?? '' }] : []));
}

export async function hostRoutes(signal: AbortSignal): Promise<Route[]> {
  return (await routeEntries(4, signal)).flatMap((r) => {
    const dst = parseSubnet(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
    return dst ? [{ dst, dev: r.dev }] : [];
  });
}

/** A socket of the host that takes connections on a port (TCP: listening; UDP: bound, unconnected). */
export interface Listener {
  readonly address: string;
  readonly v6: boolean;
  readonly port: number;
}

/**
 * `0100007F:1F90` (little-endian IPv4 and port, as /proc/net/tcp prints them); IPv6 as four
 * little-endian 32-bit words (/proc/net/tcp6).
 */
function parseProcAddress(field: string): Listener | null {
  const [hex, port] = field.split(':');
  if (!hex || !port) return null;
  const littleEndian = (word: string): string => (word.match(/../g) ?? []).reverse().join('');
  if (hex.length === 8) {
    const bytes = (littleEndian(hex).match(/../g) ?? []).map((b) => parseInt(b, 16));
    return { address: bytes.join('.'), v6: false, port: parseInt(port, 16) };
  }
  if (hex.length !== 32) return null;
  const value = BigInt(`0x${(hex.match(/.{8}/g) ?? []).map(littleEndian).join('')}`);
  return { address: formatIPv6(value), v6: true, port: parseInt(port, 16) };
}

/** The listeners /proc/net/{tcp,udp}[6] show. Slow on a big host: the kernel walks its whole hash table per read. */
export function listenersFromProc(protocol: PortMapping['protocol'], procNet: (file: string) => string = (f) => readFileSync(f, 'utf8')): Listener[] {
  const files = protocol === 'tcp' ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/udp', '/proc/net/udp6'];
  // LISTEN for TCP; any bound, unconnected socket (state 07, CLOSE) for UDP.
  const state = protocol === 'tcp' ? '0A' : '07';
  const out: Listener[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = procNet(file);
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== state) continue;
      const local = parseProcAddress(cols[1] ?? '');
      if (local) out.push(local);
    }
  }
  return out;
}

const SOCK_DIAG_BY_FAMILY = 20;
const TCP_LISTEN = 10;
const TCP_CLOSE = 7;

/**
 * The same listeners from sock_diag(7): for TCP the kernel walks only its listening table, not
 * every connection (reading /proc/net/tcp took ~15 ms here). Null when the query fails.
 */
export function listenersFromDiag(protocol: PortMapping['protocol']): Listener[] | null {
  let sock: NetlinkSocket;
  try {
    sock = NetlinkSocket.open(NETLINK_SOCK_DIAG);
  } catch {
    return null;
  }
  try {
    const out: Listener[] = [];
    for (const family of [2, 10]) {
      const req = Buffer.alloc(56);
      req.writeUInt8(family, 0);
      req.writeUInt8(protocol === 'tcp' ? 6 : 17, 1);
      req.writeUInt32LE(1 << (protocol === 'tcp' ? TCP_LISTEN : TCP_CLOSE), 4);
      for (const msg of sock.request(SOCK_DIAG_BY_FAMILY, NLM_F.DUMP, req, `list the host's ${protocol} listeners`)) {
        const port = msg.readUInt16BE(4);
        if (family === 2) {
          out.push({ address: [...msg.subarray(8, 12)].join('.'), v6: false, port });
        } else {
          const value = [...msg.subarray(8, 24)].reduce((v, b) => (v << 8n) | BigInt(b), 0n);
          out.push({ address: formatIPv6(value), v6: true, port });
        }
      }
    }
    return out;
  } catch {
    return null;
  } finally {
    sock.close();
  }
}

/** A listener that would take the published port's connections, described; null when none. */
export function matchListener(p: PortMapping, listeners: readonly Listener[]): string | null {
  const wantV6 = p.hostIP.includes(':');
  for (const local of listeners) {
    if (local.port !== p.hostPort) continue;
    const text = local.v6 ? `[${local.address}]:${local.port}` : `${local.address}:${local.port}`;
    // A socket on `::` takes IPv4 connections too (unless IPV6_ONLY, which is not shown).
    if (local.v6 && local.address === '::') return text;
    if (local.v6 !== wantV6) continue;
    const wildcard = local.address === '0.0.0.0' || p.hostIP === '0.0.0.0' || p.hostIP === '::';
    if (wildcard || local.address === p.hostIP) return text;
  }
  return null;
}

/** A host socket that would take the published port's connections, from /proc; null when none. */
export function hostListener(p: PortMapping, procNet: (file: string) => string = (f) => readFileSync(f, 'utf8')): string | null {
  return matchListener(p, listenersFromProc(p.protocol, procNet));
}

export function hostResolvers(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): { config: ResolverConfig; origin: string } {
  const tryRead = (file: string): string | null => {
    try {
      return read(file);
    } catch {
      return null;
    }
  };
  const main = parseResolvConf(tryRead('/etc/resolv.conf') ?? '');
  if (main.loopbackOnly) {
    // systemd-resolved's stub (127.0.0.53) is the host's own: its upstream servers are in here.
    const upstream = tryRead('/run/systemd/resolve/resolv.conf');
    if (upstream !== null) return { config: parseResolvConf(upstream), origin: 'the host\'s resolvers behind systemd-resolved (/run/systemd/resolve/resolv.conf)' };
  }
  return { config: main, origin: 'the host\'s /etc/resolv.conf, loopback servers left out' };
}

export const IPV4_FORWARDING = '/proc/sys/net/ipv4/ip_forward';
export const IPV6_FORWARDING = '/proc/sys/net/ipv6/conf/all/forwarding';

export function ipForwarding(file = IPV4_FORWARDING): boolean {
  try {
    return readFileSync(file, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** The host's IPv6 routes a network's IPv6 subnet must not overlap (link-local and multicast aside). */
export async function hostRoutes6(signal: AbortSignal): Promise<Route6[]> {
  return (await routeEntries(6, signal)).flatMap((r) => {
    const dst = parseSubnet6(r.dst.includes('/') ? r.dst : `${r.dst}/128`);
    return dst && dst.prefix > 0 && !contains6(LINK_LOCAL, dst.base) ? [{ dst, dev: r.dev }] : [];
  });
}

export interface Route6 {
  readonly dst: Subnet6;
  readonly dev: string;
}

const LINK_LOCAL: Subnet6 = { base: 0xfe80n << 112n, prefix: 10 };
