// What the bridge driver reads of the host: its IPv4 routes (a subnet must not overlap them), the
// sockets that listen on a port corral would publish, its resolvers, and the forwarding switch.

import { readFileSync } from 'node:fs';
import type { PortMapping } from '../../../manifest/spec.js';
import { parseSubnet } from '../../../manifest/ipv4.js';
import type { Route } from './default-network.js';
import { parseResolvConf, type ResolverConfig } from './etc-files.js';
import { run } from './tools.js';

export async function hostRoutes(signal: AbortSignal): Promise<Route[]> {
  const out = await run('ip', ['-j', '-4', 'route', 'show'], '', signal, 'read the host routes');
  const routes = JSON.parse(out || '[]') as Array<{ dst?: string; dev?: string }>;
  return routes.flatMap((r) => {
    if (!r.dst || r.dst === 'default') return [];
    const dst = parseSubnet(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
    return dst ? [{ dst, dev: r.dev ?? '' }] : [];
  });
}

/** `0100007F:1F90` (little-endian IPv4 and port, as /proc/net/tcp prints them). */
function parseProcAddress(field: string): { address: string; port: number } | null {
  const [hex, port] = field.split(':');
  if (!hex || !port) return null;
  if (hex.length === 8) {
    const bytes = (hex.match(/../g) ?? []).map((b) => parseInt(b, 16)).reverse();
    return { address: bytes.join('.'), port: parseInt(port, 16) };
  }
  // IPv6: only the unspecified address matters here (it takes IPv4 connections too).
  return { address: /^0+$/.test(hex) ? '::' : 'ipv6', port: parseInt(port, 16) };
}

/** A host socket that would take the published port's connections, described; null when none. */
export function hostListener(p: PortMapping, procNet: (file: string) => string = (f) => readFileSync(f, 'utf8')): string | null {
  const files = p.protocol === 'tcp' ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/udp', '/proc/net/udp6'];
  // LISTEN for TCP; any bound, unconnected socket (state 07, CLOSE) for UDP.
  const state = p.protocol === 'tcp' ? '0A' : '07';
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
      if (!local || local.port !== p.hostPort) continue;
      const wildcard = local.address === '0.0.0.0' || local.address === '::';
      if (wildcard || p.hostIP === '0.0.0.0' || local.address === p.hostIP) return `${local.address}:${local.port}`;
    }
  }
  return null;
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

export function ipForwarding(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
