// Atomic file replacement: write a temp file in the same directory, fsync it, rename it over the
// target, fsync the directory. A SIGKILL or power cut at any point leaves either the old file or
// the new one, never a torn one (runc and crun skip the fsyncs only because /run is tmpfs).

import { randomBytes } from 'node:crypto';
import { closeSync, fsync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pidAlive } from '../sys/proc.js';

const TEMP_MARK = '.tmp-';

const tempName = (path: string): string => join(dirname(path), `.${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);

export interface AtomicWriteOptions {
  readonly mode?: number;
  /**
   * Keep the version being replaced as `<path>.prev` (a hard link, then a rename: the current file
   * never disappears), so a reader that finds the current one damaged can fall back to it.
   */
  readonly keepPrevious?: boolean;
  /**
   * false: no fsync of the file or the directory. Still atomic for readers, and after a SIGKILL
   * (the page cache survives it); after a power cut the old file, the new one or an empty one
   * may be found. Only for what can be rebuilt, such as a cache.
   */
  readonly durable?: boolean;
}

/**
 * The short steps (open, write, close, link, rename) are synchronous and only the fsyncs wait in
 * the pool: on this host a pool round trip costs the main thread more than the syscall it carries
 * (25 µs for a stat done in 1 µs; docs/architecture.md, "A trip to libuv's pool"), and a start
 * writes two records.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: number | AtomicWriteOptions = {}): Promise<void> {
  const { mode = 0o600, keepPrevious = false, durable = true } = typeof options === 'number' ? { mode: options } : options;
  const dir = dirname(path);
  const temp = tempName(path);
  const fd = openSync(temp, 'wx', mode);
  try {
    writeAllSync(fd, data);
    if (durable) await fsyncFd(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    if (keepPrevious) keepAsPrevious(path);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  if (durable) await syncDirectory(dir);
}

function writeAllSync(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
}

const fsyncFd = promisify(fsync);

function keepAsPrevious(path: string): void {
  const temp = tempName(`${path}.prev`);
  try {
    linkSync(path, temp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  renameSync(temp, `${path}.prev`);
}

let directoryFsyncs = 0;

/** Directory fsyncs issued by this process (the group commit's test looks at it). */
export const directoryFsyncsIssued = (): number => directoryFsyncs;

async function fsyncDirectory(dir: string): Promise<void> {
  directoryFsyncs++;
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Per directory: the fsync in flight, and the one queued behind it that later callers share. */
const directorySyncs = new Map<string, { running: Promise<void>; next: Promise<void> | null }>();

/**
 * Makes the renames done in `dir` so far durable. Group commit: callers share an fsync that starts
 * after their call (apply writes the records of several containers at once into one directory),
 * so N concurrent writers cost at most two directory fsyncs instead of N.
 */
export function syncDirectory(dir: string): Promise<void> {
  const state = directorySyncs.get(dir);
  if (!state) {
    const running = fsyncDirectory(dir).finally(() => promote(dir));
    directorySyncs.set(dir, { running, next: null });
    return running;
  }
  // The running fsync may have started before this caller's rename: wait for the next one.
  state.next ??= state.running.catch(() => undefined).then(() => fsyncDirectory(dir)).finally(() => promote(dir));
  return state.next;
}

function promote(dir: string): void {
  const state = directorySyncs.get(dir);
  if (!state) return;
  if (state.next === null) {
    directorySyncs.delete(dir);
    return;
  }
  // The queued fsync starts now: callers from here on need the one after it.
  directorySyncs.set(dir, { running: state.next, next: null });
}

/** The pid a temp file's name carries (`.<name>.tmp-<pid>-<random>`), null for another form. */
function writerOf(name: string): number | null {
  const match = /\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
  return match ? Number(match[1]) : null;
}

/**
 * Removes temp files a crash left behind in `dir` (never the real files), and never one whose
 * writer still runs: `corral ps` opening the state root while the agent writes a record must not
 * pull the agent's temp file from under its rename (it did: ENOENT in an agent test).
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const writer = writerOf(name);
    if (writer !== null && pidAlive(writer)) continue;
    if (name.startsWith('.') && name.includes(TEMP_MARK)) {
      await rm(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
