// Leases: one file per container name under `<root>/network/leases/`, written atomically (write,
// fsync, rename). A lease is what the network knows of a container: its address (kept across
// restarts and recreates), its names for the neighbours' /etc/hosts, its published ports for the
// nftables table. It goes with the container's teardown, or as an orphan when no record has it.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../../errors.js';
import { DEFAULT_NETWORK } from '../../../manifest/network.js';
import type { PortMapping } from '../../../manifest/spec.js';
import { writeFileAtomic } from '../../../state/atomic-write.js';
import { readIfExists } from './files.js';

export const LEASE_FORMAT = 1;

export interface Lease {
  readonly format: typeof LEASE_FORMAT;
  readonly name: string;
  /** The network it is on; absent: the default network (leases written before networks had names). */
  readonly network?: string;
  readonly address: string;
  /** Its IPv6 address, on a network with IPv6. */
  readonly address6?: string;
  /** The host end of the veth pair. */
  readonly veth: string;
  /** Names the neighbours find this container by: hostname, name, aliases. */
  readonly names: readonly string[];
  readonly ports: readonly PortMapping[];
}

const NAME = /^[a-z0-9][a-z0-9_.-]*$/;

export function leaseNetwork(lease: Pick<Lease, 'network'>): string {
  return lease.network ?? DEFAULT_NETWORK;
}

export class LeaseStore {
  constructor(private readonly dir: string) {}

  file(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  names(): string[] {
    try {
      return readdirSync(this.dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).filter((n) => NAME.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  get(name: string): Lease | null {
    const text = readIfExists(this.file(name));
    return text === null ? null : parseLease(text, this.file(name));
  }

  all(): Lease[] {
    return this.names().map((n) => this.get(n)).filter((l): l is Lease => l !== null);
  }

  async put(lease: Lease): Promise<void> {
    await writeFileAtomic(this.file(lease.name), `${JSON.stringify(lease, null, 2)}\n`, { mode: 0o600 });
  }
}

function parseLease(text: string, file: string): Lease {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CorralError('STATE_CORRUPT', `the network lease \`${file}\` is not JSON`, { cause: err, hint: 'remove the file; the container gets a new address at its next start' });
  }
  const l = value as Partial<Lease>;
  const ok = l !== null && typeof l === 'object' && l.format === LEASE_FORMAT && typeof l.name === 'string' && typeof l.address === 'string'
    && (l.network === undefined || typeof l.network === 'string') && (l.address6 === undefined || typeof l.address6 === 'string') && typeof l.veth === 'string' && /^cv[0-9a-f]{10}$/.test(l.veth) && Array.isArray(l.names) && Array.isArray(l.ports);
  if (!ok) throw new CorralError('STATE_CORRUPT', `the network lease \`${file}\` is not one corral wrote`, { hint: 'remove the file; the container gets a new address at its next start' });
  return l as Lease;
}
