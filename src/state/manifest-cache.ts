// The store behind src/manifest/persisted-files.ts: one JSON file in the state root,
// <root>/cache/manifests.json, read once per command and written once, only when it changed.
// It is a cache: a missing, unreadable or foreign file is an empty one, and a crash mid-write
// leaves the old file (atomic replace), so nothing here can make a plan wrong, only slower.

import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PersistedFile, PersistedFiles } from '../manifest/persisted-files.js';
import { writeFileAtomic } from './atomic-write.js';

const FILE_FORMAT = 1;
/** Entries kept beyond the ones this run used (other `--dir` directories, recent edits). */
const KEEP_UNUSED = 2000;

interface Stored {
  readonly format: number;
  readonly version: string;
  /** Most recently used last. */
  readonly entries: Array<[string, PersistedFile]>;
}

export class ManifestCacheFile implements PersistedFiles {
  private readonly used = new Map<string, PersistedFile>();
  private changed = false;

  private constructor(readonly path: string, readonly version: string, private readonly older: Map<string, PersistedFile>) {}

  static async open(path: string, version: string): Promise<ManifestCacheFile> {
    let older = new Map<string, PersistedFile>();
    try {
      const stored = JSON.parse(await readFile(path, 'utf8')) as Partial<Stored>;
      if (stored.format === FILE_FORMAT && stored.version === version && Array.isArray(stored.entries)) older = new Map(stored.entries);
    } catch {
      // No cache yet, or one this build cannot use: start empty.
    }
    return new ManifestCacheFile(path, version, older);
  }

  get(key: string): PersistedFile | undefined {
    const found = this.used.get(key) ?? this.older.get(key);
    if (found) this.used.set(key, found);
    return found;
  }

  set(key: string, file: PersistedFile): void {
    this.used.set(key, file);
    this.changed = true;
  }

  /** Writes the file when this run added an entry (a run that only read it writes nothing). */
  async save(): Promise<void> {
    if (!this.changed) return;
    const unused = [...this.older].filter(([key]) => !this.used.has(key)).slice(-KEEP_UNUSED);
    const stored: Stored = { format: FILE_FORMAT, version: this.version, entries: [...unused, ...this.used] };
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    // A cache: a damaged or missing file is read as empty (the files are parsed again), so no fsync.
    await writeFileAtomic(this.path, JSON.stringify(stored), { durable: false });
    this.changed = false;
  }
}
