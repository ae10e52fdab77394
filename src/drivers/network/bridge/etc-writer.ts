// Writes a bridged container's /etc/hosts and /etc/resolv.conf (etc-files.ts renders them) in its
// own directory, and keeps the neighbours' /etc/hosts current in place.

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec } from '../../../manifest/spec.js';
import type { BindSpec } from '../../../reconciler/ports.js';
import { renderHosts, renderResolvConf, type HostEntry } from './etc-files.js';
import { replaceFile, rewriteInPlace } from './files.js';
import { hostResolvers } from './host-facts.js';
import { leaseNetwork, type Lease } from './leases.js';

const entry = (l: Lease): HostEntry => ({ address: l.address, address6: l.address6, names: l.names });
// Neighbours are the containers on the same network.
const hostsOf = (l: Lease, all: readonly Lease[]): string => renderHosts(entry(l), all.filter((o) => o.name !== l.name && leaseNetwork(o) === leaseNetwork(l)).map(entry));

export class EtcFiles {
  /** `dirOf(name)`: the container's directory for them (`containers/<name>/network`). */
  constructor(private readonly dirOf: (name: string) => string) {}

  /** Writes the container's files (it does not run yet: replaced, not rewritten) and returns its binds. */
  write(lease: Lease, spec: ContainerSpec, all: readonly Lease[]): BindSpec[] {
    const d = this.dirOf(lease.name);
    mkdirSync(d, { recursive: true, mode: 0o755 });
    const hosts = join(d, 'hosts');
    const resolv = join(d, 'resolv.conf');
    replaceFile(hosts, hostsOf(lease, all), { mode: 0o644 });
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

  /** Rewrites the neighbours' /etc/hosts on `network` in place: their bind mounts hold the file's inode. */
  refresh(all: readonly Lease[], except: string, network: string): void {
    for (const l of all) {
      if (l.name === except || leaseNetwork(l) !== network) continue;
      const file = join(this.dirOf(l.name), 'hosts');
      if (existsSync(file)) rewriteInPlace(file, hostsOf(l, all));
    }
  }

  remove(name: string): void {
    rmSync(this.dirOf(name), { recursive: true, force: true });
  }
}
