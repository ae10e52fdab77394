// The networks (`kind: Network`) this state root made: one file per network under
// `<root>/network/networks/`, written atomically once its bridge exists, removed once the bridge
// is gone. They are the actual state the plan compares the manifests with.

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../../errors.js';
import type { NetworkDefinition } from '../../../manifest/network.js';
import type { SpecOrigin } from '../../../manifest/spec.js';
import type { ActualNetwork } from '../../../reconciler/ports.js';
import { writeFileAtomic } from '../../../state/atomic-write.js';
import { readIfExists } from './files.js';

const FORMAT = 1;
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface NetworkFile {
  readonly format: typeof FORMAT;
  readonly definition: NetworkDefinition;
  readonly hash: string;
  readonly origin: SpecOrigin | null;
}

export class NetworkRecords {
  constructor(private readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  get(name: string): ActualNetwork | null {
    const text = readIfExists(this.file(name));
    if (text === null) return null;
    let value: Partial<NetworkFile>;
    try {
      value = JSON.parse(text) as Partial<NetworkFile>;
    } catch (err) {
      throw new CorralError('STATE_CORRUPT', `the network record \`${this.file(name)}\` is not JSON`, { cause: err, hint: 'remove the file: the network is made again from its manifest' });
    }
    const d = value.definition;
    if (value.format !== FORMAT || typeof value.hash !== 'string' || !d || d.name !== name || typeof d.bridge !== 'string' || typeof d.subnet !== 'string') {
      throw new CorralError('STATE_CORRUPT', `the network record \`${this.file(name)}\` is not one corral wrote`, { hint: 'remove the file: the network is made again from its manifest' });
    }
    return { definition: d, hash: value.hash, origin: value.origin ?? null };
  }

  all(): ActualNetwork[] {
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return files.filter((f) => f.endsWith('.json') && NAME.test(f.slice(0, -5))).sort().map((f) => this.get(f.slice(0, -5))).filter((n): n is ActualNetwork => n !== null);
  }

  async put(network: ActualNetwork): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file: NetworkFile = { format: FORMAT, definition: network.definition, hash: network.hash, origin: network.origin };
    await writeFileAtomic(this.file(network.definition.name), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  }

  remove(name: string): void {
    rmSync(this.file(name), { force: true });
  }
}
