// The state store: one JSON record per container under <root>/state, written atomically, with a
// monotonic serial for stale-plan checks (Terraform's state serial). Callers hold the lock
// (lock.ts) for every write.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError, diagnostic, type Diagnostic } from '../errors.js';
import { writeFileAtomic, removeStaleTemps, syncDirectory } from './atomic-write.js';
import type { Layout } from './layout.js';
import { RECORD_FORMAT, type ContainerRecord } from './record.js';
import { withLaterDefaults } from '../manifest/hash.js';

interface Meta {
  readonly serial: number;
}

export interface LoadedState {
  readonly records: ContainerRecord[];
  readonly serial: number;
  /** Records that could not be read; they were moved to state/corrupt/ for a human to look at. */
  readonly diagnostics: Diagnostic[];
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export class StateStore {
  private serial = 0;
  /** Parsed records by file, reused while the file is unchanged (the agent loads every pass). */
  private readonly cache = new Map<string, { stamp: string; record: ContainerRecord }>();

  constructor(readonly layout: Layout) {}

  private get metaPath(): string {
    return join(this.layout.stateDir, 'meta.json');
  }

  async init(): Promise<void> {
    await mkdir(this.layout.stateDir, { recursive: true, mode: 0o700 });
    await removeStaleTemps(this.layout.stateDir);
  }

  async load(): Promise<LoadedState> {
    await this.init();
    const diagnostics: Diagnostic[] = [];
    const records: ContainerRecord[] = [];
    let serial = 0;
    try {
      serial = (JSON.parse(await readFile(this.metaPath, 'utf8')) as Meta).serial;
    } catch {
      serial = 0;
    }
    const seen = new Set<string>();
    // Synchronous reads: a thousand small records load in milliseconds this way.
    for (const file of readdirSync(this.layout.stateDir).sort()) {
      if (!file.endsWith('.json') || file === 'meta.json' || file.startsWith('.')) continue;
      const name = file.slice(0, -'.json'.length);
      const path = join(this.layout.stateDir, file);
      seen.add(path);
      try {
        const info = statSync(path);
        const stamp = `${info.ino}:${info.size}:${info.mtimeMs}`;
        const cached = this.cache.get(path);
        if (cached?.stamp === stamp) {
          records.push(cached.record);
          serial = Math.max(serial, cached.record.serial);
          continue;
        }
        const record = upgradeRecord(JSON.parse(readFileSync(path, 'utf8')) as ContainerRecord);
        if (record.format !== RECORD_FORMAT || record.name !== name || !NAME_RE.test(name)) {
          throw new Error(`format ${String(record.format)}, name \`${String(record.name)}\``);
        }
        this.cache.set(path, { stamp, record });
        records.push(record);
        serial = Math.max(serial, record.serial);
      } catch (err) {
        const aside = join(this.layout.stateDir, 'corrupt', `${file}.${Date.now()}`);
        await mkdir(join(this.layout.stateDir, 'corrupt'), { recursive: true });
        await rename(path, aside).catch(() => undefined);
        diagnostics.push(diagnostic('error', 'STATE_CORRUPT', `state record \`${path}\` cannot be read: ${(err as Error).message}`, {
          container: name, detail: `moved to \`${aside}\`; the container is treated as unknown and its leftovers are cleaned up`,
        }));
      }
    }
    for (const path of this.cache.keys()) if (!seen.has(path)) this.cache.delete(path);
    this.serial = serial;
    return { records, serial, diagnostics };
  }

  get currentSerial(): number {
    return this.serial;
  }

  async get(name: string): Promise<ContainerRecord | null> {
    try {
      return upgradeRecord(JSON.parse(await readFile(this.layout.record(name), 'utf8')) as ContainerRecord);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new CorralError('STATE_CORRUPT', `state record of \`${name}\` cannot be read: ${(err as Error).message}`, { container: name, cause: err });
    }
  }

  /**
   * Writes the record with the next serial and returns what was written. The store's serial is
   * the largest record serial, so a put needs no second file; only a removal (which takes its
   * record's serial away) records the serial in meta.json.
   */
  async put(record: ContainerRecord): Promise<ContainerRecord> {
    this.serial += 1;
    const written = { ...record, serial: this.serial };
    await writeFileAtomic(this.layout.record(record.name), `${JSON.stringify(written, null, 2)}\n`);
    return written;
  }

  async remove(name: string): Promise<void> {
    this.serial += 1;
    await writeFileAtomic(this.metaPath, JSON.stringify({ serial: this.serial } satisfies Meta));
    await rm(this.layout.record(name), { force: true });
    await syncDirectory(this.layout.stateDir);
  }
}

/** A record written by an older corral reads as if written now: fields added since get their defaults. */
function upgradeRecord(record: ContainerRecord): ContainerRecord {
  return record.spec && typeof record.spec === 'object' ? { ...record, spec: withLaterDefaults(record.spec) } : record;
}
