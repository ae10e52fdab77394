// Project ids, one per container name, kept in <root>/quota/projects.json:
//
//   active     name → id of every container whose directories may carry its id
//   released   ids of removed containers, oldest first: a recreate under the same name gets its
//              id back; a new name never takes one while it is listed here
//
// Crash safety: the table is written (atomically, under its own flock) before any directory gets
// the id, and an id leaves `active` only after the container's directories are deleted. So a
// SIGKILL at any point leaves either no trace of the id or a table that names its owner, and the
// next prepare or remove of that name carries on. No id is handed out twice: allocation skips
// every id the table knows, and every id the filesystem's own accounting shows in use (inodes or
// limits on it), which also covers ids that other tools on the same filesystem hand out and a
// table lost or set aside as corrupt.

import { closeSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, hasCode } from '../../../errors.js';
import { removeStaleTemps, writeFileAtomic } from '../../../state/atomic-write.js';
import { flockWithTimeout, funlock } from '../../../sys/flock.js';
import { asSyscallError, fsStep, readJson } from '../fs-util.js';

export const PROJECT_TABLE_VERSION = 1;
/** Far above the small ids administrators hand out by hand in /etc/projid. */
export const FIRST_PROJECT_ID = 1_000_000;
/** 2^32 - 1 means "no id" to the kernel. */
export const LAST_PROJECT_ID = 0xffff_fffe;
/** Released ids remembered for recreates; older ones are forgotten (and may then be reused). */
export const MAX_RELEASED = 1024;
const LOCK_TIMEOUT_MS = 30_000;

export interface ProjectEntry {
  readonly name: string;
  readonly id: number;
}

export interface ProjectTable {
  readonly formatVersion: typeof PROJECT_TABLE_VERSION;
  readonly active: readonly ProjectEntry[];
  readonly released: readonly ProjectEntry[];
}

export const EMPTY_TABLE: ProjectTable = { formatVersion: PROJECT_TABLE_VERSION, active: [], released: [] };

export function quotaPaths(root: string): { dir: string; table: string; lock: string } {
  const dir = join(root, 'quota');
  return { dir, table: join(dir, 'projects.json'), lock: join(dir, 'projects.lock') };
}

function isEntry(v: unknown): v is ProjectEntry {
  const e = v as ProjectEntry;
  return typeof e === 'object' && e !== null && typeof e.name === 'string' && Number.isInteger(e.id) && e.id >= FIRST_PROJECT_ID && e.id <= LAST_PROJECT_ID;
}

/** Parses a table; null when it is not one (corrupt, or another format version). */
export function parseProjectTable(value: unknown): ProjectTable | null {
  const t = value as ProjectTable | null;
  if (t === null || typeof t !== 'object' || t.formatVersion !== PROJECT_TABLE_VERSION) return null;
  if (!Array.isArray(t.active) || !Array.isArray(t.released) || !t.active.every(isEntry) || !t.released.every(isEntry)) return null;
  return { formatVersion: PROJECT_TABLE_VERSION, active: t.active, released: t.released };
}

/**
 * The id `name` holds, or a new one: its released id if nothing else took or carries it, else the
 * next id above every id the table knows that the filesystem shows unused. Pure.
 */
export function chooseProjectId(table: ProjectTable, name: string, inUse: (id: number) => boolean): { id: number; table: ProjectTable } {
  const held = table.active.find((e) => e.name === name);
  if (held) return { id: held.id, table };
  const activeIds = new Set(table.active.map((e) => e.id));
  const known = new Set([...activeIds, ...table.released.map((e) => e.id)]);
  const mine = table.released.find((e) => e.name === name);
  let id: number | null = mine && !activeIds.has(mine.id) && !inUse(mine.id) ? mine.id : null;
  if (id === null) {
    const top = Math.max(FIRST_PROJECT_ID - 1, ...known);
    for (let candidate = top + 1; candidate <= LAST_PROJECT_ID; candidate++) {
      if (!known.has(candidate) && !inUse(candidate)) {
        id = candidate;
        break;
      }
    }
    // Past the top of the range (after billions of ids): any id nobody holds or carries.
    for (let candidate = FIRST_PROJECT_ID; id === null && candidate <= top; candidate++) {
      if (!activeIds.has(candidate) && !inUse(candidate)) id = candidate;
    }
    if (id === null) throw new CorralError('STORAGE_QUOTA_UNAVAILABLE', 'no free project id is left on the state root\'s filesystem');
  }
  return {
    id,
    table: { ...table, active: [...table.active, { name, id }], released: table.released.filter((e) => e.name !== name && e.id !== id) },
  };
}

/** Moves `name` from active to released (remembering its id); the table unchanged when it holds none. */
export function releaseProject(table: ProjectTable, name: string): ProjectTable {
  const held = table.active.find((e) => e.name === name);
  if (!held) return table;
  const released = [...table.released.filter((e) => e.name !== name), held];
  return { ...table, active: table.active.filter((e) => e.name !== name), released: released.slice(-MAX_RELEASED) };
}

/** The table on disk; a corrupt one is set aside (the filesystem's accounting still guards reuse). */
export function readProjectTable(root: string): ProjectTable {
  const { table } = quotaPaths(root);
  let value: unknown;
  try {
    value = readJson(table, 1 << 20);
  } catch (err) {
    if (!hasCode(err, 'STATE_CORRUPT')) throw err;
    value = undefined;
  }
  if (value === null) return EMPTY_TABLE;
  const parsed = parseProjectTable(value);
  if (parsed) return parsed;
  fsStep(`set aside the unreadable project table \`${table}\``, () => renameSync(table, `${table}.corrupt-${Date.now()}`));
  return EMPTY_TABLE;
}

/** The id `name` holds, without locking (a reader sees the old table or the new one). */
export function projectIdOf(root: string, name: string): number | null {
  return readProjectTable(root).active.find((e) => e.name === name)?.id ?? null;
}

/** Runs `change` on the table under the table's flock and writes the result when it differs. */
export async function updateProjectTable<T>(root: string, change: (table: ProjectTable) => { table: ProjectTable; result: T }): Promise<T> {
  const paths = quotaPaths(root);
  fsStep(`create \`${paths.dir}\``, () => mkdirSync(paths.dir, { recursive: true, mode: 0o700 }));
  const fd = fsStep(`open \`${paths.lock}\``, () => openSync(paths.lock, 'a', 0o600));
  try {
    if (!(await flockWithTimeout(fd, paths.lock, LOCK_TIMEOUT_MS))) {
      throw new CorralError('STATE_LOCKED', `the project id table \`${paths.table}\` stayed locked for ${LOCK_TIMEOUT_MS / 1000} s`);
    }
    try {
      // Under the lock no write is in flight: a temp file here is what a killed writer left.
      await removeStaleTemps(paths.dir);
      const before = readProjectTable(root);
      const { table, result } = change(before);
      if (table !== before) {
        try {
          await writeFileAtomic(paths.table, `${JSON.stringify(table, null, 1)}\n`);
        } catch (err) {
          throw asSyscallError(err, `write \`${paths.table}\``);
        }
      }
      return result;
    } finally {
      funlock(fd);
    }
  } finally {
    closeSync(fd);
  }
}
