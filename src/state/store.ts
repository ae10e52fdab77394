// The state store: one JSON record per container under <root>/state, written atomically, with a
// monotonic serial for stale-plan checks (Terraform's state serial). Callers hold the lock
// (lock.ts) for every write.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError, diagnostic, environmentCode, type Diagnostic } from '../errors.js';
import { writeFileAtomic, removeStaleTemps, syncDirectory } from './atomic-write.js';
import type { Layout } from './layout.js';
import { encodeRecord, decodeRecord } from './record-file.js';
import { assertTransition, type ContainerRecord, type ContainerStatus } from './record.js';
import { withLaterDefaults } from '../manifest/hash.js';
import { pooledSpec } from '../manifest/spec-pool.js';
import { fileStamp } from '../sys/file-stamp.js';

interface Meta {
  readonly serial: number;
}

/** A record neither its file nor its kept previous version could give back. */
export interface UnknownRecord {
  readonly name: string;
  readonly file: string;
  readonly reason: string;
}

export interface LoadedState {
  readonly records: ContainerRecord[];
  readonly serial: number;
  /**
   * Containers whose record is unreadable. Nothing of them is touched (started, removed, cleaned
   * up as orphans) until `corral state repair NAME`; the files stay where they are.
   */
  readonly unknown: UnknownRecord[];
  /** One per damaged record: an error for each unknown one, a warning for each recovered one. */
  readonly diagnostics: Diagnostic[];
}

/** Statuses whose records are written on the way out: stopping and removing free space. */
const FREEING: ReadonlySet<ContainerRecord['status']> = new Set(['stopping', 'stopped', 'removing']);

/**
 * How much older than a full read the state directory's mtime must be for that read to stand in
 * for the next ones. The kernel stamps files from a coarse clock (a few ms per tick): a rename made
 * just after the read, in the tick of a change made just before it, would leave the mtime as it
 * was. A second leaves room for that and for a clock stepped back a little (git's racy-clean rule).
 */
const SETTLED_MS = 1000;
/** The longest a directory-level shortcut is trusted before every record's own stamp is looked at again. */
const RECHECK_MS = 5 * 60_000;

/**
 * Space set aside, as a few files of real blocks, for the records of stopping and removing
 * containers on a full filesystem: each refused write gives one back and tries again, so a full
 * state root can be emptied a container at a time. Recreated once there is room again.
 */
const RESERVE_CHUNKS = 4;
const RESERVE_CHUNK_BYTES = 2 ** 20;
const reserveChunk = (dir: string, i: number): string => join(dir, `.reserve-${i}`);

/** Creates the missing reserve chunks while the space is there; never fails a command. */
async function ensureReserve(dir: string): Promise<void> {
  for (let i = 0; i < RESERVE_CHUNKS; i++) {
    if (existsSync(reserveChunk(dir, i))) continue;
    try {
      // Real blocks, not a sparse file: giving them back must free space.
      await writeFileAtomic(reserveChunk(dir, i), Buffer.alloc(RESERVE_CHUNK_BYTES));
    } catch {
      return; // a full or read-only filesystem: next time
    }
  }
}

/** Gives one reserve chunk back; false when none is left. */
async function releaseReserve(dir: string): Promise<boolean> {
  for (let i = RESERVE_CHUNKS - 1; i >= 0; i--) {
    if (!existsSync(reserveChunk(dir, i))) continue;
    await rm(reserveChunk(dir, i), { force: true });
    return true;
  }
  return false;
}

type ReadResult = { readonly record: ContainerRecord; readonly recovered: string | null } | { readonly unknown: string };

export class StateStore {
  private serial = 0;
  /** Parsed records by file, reused while the file is unchanged (the agent loads every pass). */
  private readonly cache = new Map<string, { stamp: string; record: ContainerRecord }>();
  /**
   * The status of each record as last read or written by this store (null: known to have no
   * record). Every put is checked against it with the status machine (record.ts); a name this
   * store never looked at, or whose record is unreadable, is not checked (`state repair`).
   */
  private readonly statuses = new Map<string, ContainerStatus | null>();
  /**
   * The last full read that found nothing damaged, with the state directory's identity and mtime
   * at its start: while those hold, no record was written, renamed or removed since (see `load`).
   */
  private lastRead: { readonly dir: string; readonly at: number; readonly loaded: LoadedState } | null = null;

  /**
   * `readOnly`: a store for commands that only look (`ps`, `plan`, `inspect`, `state check`), on a
   * state directory that exists: reading leaves the directory as it is, its stale temp files and
   * its disk reserve being the next writer's to tend.
   */
  constructor(readonly layout: Layout, private readonly options: { readonly readOnly?: boolean } = {}) {}

  private get metaPath(): string {
    return join(this.layout.stateDir, 'meta.json');
  }

  async init(): Promise<void> {
    await mkdir(this.layout.stateDir, { recursive: true, mode: 0o700 });
    await removeStaleTemps(this.layout.stateDir);
    await ensureReserve(this.layout.stateDir);
  }

  /**
   * Writes with `write`; when the filesystem is full and the write belongs to getting out of it
   * (a stop, a removal), gives back reserve chunks until it goes through or none is left.
   */
  private async withReserve(freeing: boolean, write: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await write();
        return;
      } catch (err) {
        if (!freeing || environmentCode(err) !== 'NO_SPACE' || !await releaseReserve(this.layout.stateDir)) throw err;
      }
    }
  }

  /**
   * Every record, read again only where its file changed. Records are only ever replaced by a
   * rename into the state directory (writeFileAtomic), and meta.json, the reserve and temp files
   * too, so a directory whose mtime has not moved since a full read holds what that read found:
   * then not even the records' own stamps are looked at (an agent's resync with 500 containers
   * saves 500 stat calls this way). A full read still runs at least every RECHECK_MS.
   */
  async load(): Promise<LoadedState> {
    const dir = directoryStamp(this.layout.stateDir);
    const last = this.lastRead;
    if (last && dir !== null && last.dir === dir.stamp && last.at - dir.mtimeMs > SETTLED_MS && Date.now() - last.at < RECHECK_MS) {
      this.statuses.clear();
      const records = last.loaded.records as ContainerRecord[];
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        this.statuses.set(r.name, r.status);
        // A spec made since the full read (the first pass's manifests) is shared from now on.
        const shared = withPooledSpec(r);
        if (shared !== r) {
          records[i] = shared;
          const path = join(this.layout.stateDir, `${r.name}.json`);
          const cached = this.cache.get(path);
          if (cached?.record === r) this.cache.set(path, { stamp: cached.stamp, record: shared });
        }
      }
      this.serial = last.loaded.serial;
      return { ...last.loaded, records: [...last.loaded.records] };
    }
    const startedAt = Date.now();
    const loaded = await this.loadAll();
    this.lastRead = dir !== null && loaded.diagnostics.length === 0 && loaded.unknown.length === 0
      ? { dir: dir.stamp, at: startedAt, loaded: { ...loaded, records: [...loaded.records] } }
      : null;
    return loaded;
  }

  private async loadAll(): Promise<LoadedState> {
    if (this.options.readOnly !== true) await this.init();
    const diagnostics: Diagnostic[] = [];
    const records: ContainerRecord[] = [];
    let serial = 0;
    try {
      serial = (JSON.parse(await readFile(this.metaPath, 'utf8')) as Meta).serial;
    } catch {
      serial = 0;
    }
    const seen = new Set<string>();
    const unknown: UnknownRecord[] = [];
    // Synchronous reads: a thousand small records load in milliseconds this way.
    for (const file of readdirSync(this.layout.stateDir).sort()) {
      if (!file.endsWith('.json') || file === 'meta.json' || file.startsWith('.')) continue;
      const name = file.slice(0, -'.json'.length);
      const path = join(this.layout.stateDir, file);
      seen.add(path);
      const stamp = fileStamp(path);
      if (stamp === null) continue; // removed meanwhile
      const cached = this.cache.get(path);
      if (cached?.stamp === stamp) {
        const record = withPooledSpec(cached.record);
        if (record !== cached.record) this.cache.set(path, { stamp, record });
        records.push(record);
        serial = Math.max(serial, record.serial);
        continue;
      }
      const read = readVerified(path, name);
      if ('unknown' in read) {
        unknown.push({ name, file: path, reason: read.unknown });
        diagnostics.push(diagnostic('error', 'STATE_CORRUPT', `state record \`${path}\` cannot be read: ${read.unknown}`, {
          container: name,
          detail: 'nothing of this container is started, stopped or removed while its record is unknown; the file is left in place',
          hint: `\`corral state repair ${name}\` rebuilds the record from what the host shows`,
        }));
        continue;
      }
      if (read.recovered) {
        diagnostics.push(diagnostic('warning', 'STATE_CORRUPT', `state record \`${path}\` cannot be read (${read.recovered}): using its previous version`, {
          container: name, detail: 'the next write of this record replaces the damaged file',
        }));
      }
      const record = read.record;
      if (!read.recovered) this.cache.set(path, { stamp, record });
      records.push(record);
      serial = Math.max(serial, record.serial);
    }
    for (const path of this.cache.keys()) if (!seen.has(path)) this.cache.delete(path);
    this.serial = serial;
    this.statuses.clear();
    for (const r of records) this.statuses.set(r.name, r.status);
    return { records, serial, unknown, diagnostics };
  }

  get currentSerial(): number {
    return this.serial;
  }

  /** The record of `name`, its previous version if the current one is damaged; STATE_CORRUPT if neither reads. */
  async get(name: string): Promise<ContainerRecord | null> {
    const path = this.layout.record(name);
    const stamp = fileStamp(path);
    if (stamp === null) {
      this.statuses.set(name, null);
      return null;
    }
    const cached = this.cache.get(path);
    if (cached?.stamp === stamp) {
      this.statuses.set(name, cached.record.status);
      return cached.record;
    }
    const read = readVerified(path, name);
    if ('unknown' in read) {
      throw new CorralError('STATE_CORRUPT', `state record \`${path}\` cannot be read: ${read.unknown}`, {
        container: name, hint: `\`corral state repair ${name}\` rebuilds it from what the host shows`,
      });
    }
    this.statuses.set(name, read.record.status);
    return read.record;
  }

  /**
   * Writes the record with the next serial and returns what was written. The store's serial is
   * the largest record serial, so a put needs no second file; only a removal (which takes its
   * record's serial away) records the serial in meta.json.
   */
  async put(record: ContainerRecord): Promise<ContainerRecord> {
    if (this.statuses.has(record.name)) assertTransition(record.name, this.statuses.get(record.name)!, record.status);
    this.serial += 1;
    const { recovered: _recovered, ...fresh } = record;
    const written = { ...fresh, serial: this.serial };
    const path = this.layout.record(record.name);
    const { text, read } = encodeRecord(written);
    await this.withReserve(FREEING.has(record.status), () => writeFileAtomic(path, text, { keepPrevious: true }));
    this.rememberWritten(path, read);
    this.statuses.set(record.name, record.status);
    return written;
  }

  /**
   * What put just wrote, as a read of the file would give it, under the file's stamp: a start
   * reads its own intent record back (the cgroup port looks for a handle), and a read, parse and
   * checksum of it cost the main thread about 0.25 ms each time.
   */
  private rememberWritten(path: string, record: ContainerRecord): void {
    const stamp = fileStamp(path);
    if (stamp === null) {
      this.cache.delete(path);
      return;
    }
    this.cache.set(path, { stamp, record: upgradeRecord(record) });
  }

  async remove(name: string): Promise<void> {
    this.serial += 1;
    await this.withReserve(true, () => writeFileAtomic(this.metaPath, JSON.stringify({ serial: this.serial } satisfies Meta)));
    await rm(this.layout.record(name), { force: true });
    await rm(`${this.layout.record(name)}.prev`, { force: true });
    await syncDirectory(this.layout.stateDir);
    this.cache.delete(this.layout.record(name));
    this.statuses.set(name, null);
  }
}

/** The directory's inode and mtime (null when it cannot be looked at: then nothing is assumed). */
function directoryStamp(dir: string): { stamp: string; mtimeMs: number } | null {
  try {
    const info = statSync(dir);
    return { stamp: `${info.dev}:${info.ino}:${info.mtimeMs}`, mtimeMs: info.mtimeMs };
  } catch {
    return null;
  }
}

/**
 * A record as read: written by an older corral, it reads as if written now (fields added since
 * get their defaults), and its spec is the one in use when there is one of its hash, which is
 * complete already: no copy of the record's own spec is made only to be dropped.
 */
function upgradeRecord(record: ContainerRecord): ContainerRecord {
  const pooled = record.specUnknown ? undefined : pooledSpec(record.hash);
  // `network` came with the network port: older records had nothing to undo.
  return { ...record, spec: pooled ?? withLaterDefaults(record.spec), network: record.network ?? null };
}

/**
 * The record with the spec object its manifest made, when that spec is in use (its hash is the
 * record's): one object for both in a long-lived agent (src/manifest/spec-pool.ts).
 */
function withPooledSpec(record: ContainerRecord): ContainerRecord {
  if (record.specUnknown) return record;
  const spec = pooledSpec(record.hash);
  return spec === undefined || spec === record.spec ? record : { ...record, spec };
}

function readIfPresent(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The record at `path`, else its kept previous version (saying why), else why neither reads. */
function readVerified(path: string, name: string): ReadResult {
  const text = readIfPresent(path);
  const current = text === null ? { ok: false as const, reason: 'the file is gone' } : decodeRecord(text, name);
  if (current.ok) return { record: upgradeRecord(current.record), recovered: null };
  const prevText = readIfPresent(`${path}.prev`);
  const previous = prevText === null ? null : decodeRecord(prevText, name);
  if (previous?.ok) return { record: { ...upgradeRecord(previous.record), recovered: true }, recovered: current.reason };
  return { unknown: previous ? `${current.reason}; its previous version too: ${previous.reason}` : `${current.reason}, and no previous version is kept` };
}
