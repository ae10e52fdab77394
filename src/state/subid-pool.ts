// corral's subordinate id pool and the slots handed out of it: the file side of
// src/reconciler/user-ranges.ts (which decides everything; read it first).
//
//   /etc/subuid, /etc/subgid    corral's entry (`corral:<start>:<count>`), appended when missing:
//                               a temp file beside it, fsync, rename, the original's mode and owner
//   <root>/userns/<name>.json   one container's slot {"hostId","size","slot"}, atomic writes; kept
//                               across restarts and recreates, removed with the container
//
// Configuration comes from the caller (subidConfig(env) in the CLI), never from the environment
// here: CORRAL_SUBID_NAME, CORRAL_SUBUID_FILE, CORRAL_SUBGID_FILE.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CorralError } from '../errors.js';
import {
  appendSubidLine, chooseSlot, DEFAULT_SUBID_NAME, parseSubids, poolEntries, poolOf, slotFits,
  type IdPool, type SlotAssignment, type SubidEntry, type UserRangeAllocator,
} from '../reconciler/user-ranges.js';
import type { UserRange } from './record.js';
import { removeStaleTemps, syncDirectory, writeFileAtomic } from './atomic-write.js';

export interface SubidConfig {
  /** The user name of corral's entries. */
  readonly name: string;
  readonly subuidFile: string;
  readonly subgidFile: string;
}

/** The configuration from the environment the CLI was started with (pass `process.env`). */
export function subidConfig(env: Readonly<Record<string, string | undefined>>): SubidConfig {
  return {
    name: env['CORRAL_SUBID_NAME'] || DEFAULT_SUBID_NAME,
    subuidFile: env['CORRAL_SUBUID_FILE'] || '/etc/subuid',
    subgidFile: env['CORRAL_SUBGID_FILE'] || '/etc/subgid',
  };
}

/** Where the slots of a state root are kept. */
export const usernsDir = (root: string): string => join(root, 'userns');

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

function refused(config: SubidConfig, err: unknown): CorralError {
  return new CorralError('HOST_UNSUPPORTED', `corral's subordinate id pool is unusable: ${err instanceof Error ? err.message : String(err)}`, {
    hint: `fix or remove the \`${config.name}\` lines of ${config.subuidFile} and ${config.subgidFile}`, cause: err,
  });
}

async function entriesOf(config: SubidConfig): Promise<{ uidText: string; gidText: string; uid: SubidEntry[]; gid: SubidEntry[] }> {
  const [uidText, gidText] = await Promise.all([readText(config.subuidFile), readText(config.subgidFile)]);
  return { uidText, gidText, uid: parseSubids(uidText), gid: parseSubids(gidText) };
}

/**
 * The pool, read only: corral's entries, or the ones ensurePool would append (for plan, which
 * writes nothing). `missing`: at least one file lacks corral's entry.
 */
export async function readPool(config: SubidConfig): Promise<{ pool: IdPool; missing: boolean }> {
  const files = await entriesOf(config);
  try {
    const e = poolEntries(config.name, files.uid, files.gid);
    return { pool: poolOf(e.uid, e.gid), missing: e.appendUid || e.appendGid };
  } catch (err) {
    throw refused(config, err);
  }
}

/** The pool, corral's entry appended to each file that lacks one. */
export async function ensurePool(config: SubidConfig): Promise<IdPool> {
  const files = await entriesOf(config);
  let pool: IdPool;
  let e: ReturnType<typeof poolEntries>;
  try {
    e = poolEntries(config.name, files.uid, files.gid);
    pool = poolOf(e.uid, e.gid);
  } catch (err) {
    throw refused(config, err);
  }
  if (e.appendUid) await replaceSubidFile(config.subuidFile, appendSubidLine(files.uidText, e.uid));
  if (e.appendGid) await replaceSubidFile(config.subgidFile, appendSubidLine(files.gidText, e.gid));
  return pool;
}

/**
 * Replaces a subuid/subgid file atomically: a temp file in its directory with the original's mode
 * and owner (0644 root for a new one), fsync, rename, fsync of the directory.
 */
export async function replaceSubidFile(path: string, text: string): Promise<void> {
  const original = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(text);
    // Set explicitly: the umask must not change what other tools (newuidmap) can read.
    await file.chmod(original ? original.mode & 0o7777 : 0o644);
    if (original && process.geteuid?.() === 0) await file.chown(original.uid, original.gid);
    await file.sync();
    await file.close();
  } catch (err) {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function slotPath(dir: string, name: string): string {
  if (!SAFE_NAME.test(name)) throw new CorralError('INTERNAL', `\`${name}\` is not a container name a slot file can be kept for`);
  return join(dir, `${name}.json`);
}

function decodeSlot(text: string): SlotAssignment | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { hostId, size, slot } = v as Record<string, unknown>;
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  return ok(hostId) && ok(size) && ok(slot) && size > 0 ? { hostId, size, slot } : null;
}

/**
 * The slots of one state root (`<root>/userns`). Calls are serialized: apply creates containers
 * in parallel, and two of them must not both take the lowest free slot. The pool is resolved (and
 * corral's entries appended) at the first allocation, so a host without `auto` user namespaces
 * never has its /etc/subuid touched.
 */
export class UserRangeSlots implements UserRangeAllocator {
  private queue: Promise<unknown> = Promise.resolve();
  private pool: Promise<IdPool> | null = null;
  private cache: Map<string, SlotAssignment> | null = null;

  constructor(readonly dir: string, private readonly resolvePool: () => Promise<IdPool>, private readonly peekPool: () => Promise<IdPool | null> = async () => null) {}

  /** For plan: explicit maps reaching into the pool are refused once the pool exists. */
  existingPool(): Promise<IdPool | null> {
    return this.peekPool().catch(() => null);
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private poolOnce(): Promise<IdPool> {
    this.pool ??= this.resolvePool().catch((err: unknown) => {
      this.pool = null;
      throw err;
    });
    return this.pool;
  }

  /** Every stored slot by container name; a damaged file is an error (its ids would be handed out twice). */
  async list(): Promise<Map<string, SlotAssignment>> {
    const out = new Map<string, SlotAssignment>();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw err;
    }
    for (const file of names) {
      if (file.startsWith('.') || !file.endsWith('.json')) continue;
      const name = file.slice(0, -'.json'.length);
      const slot = decodeSlot(await readText(join(this.dir, file)));
      if (!slot) {
        throw new CorralError('STATE_CORRUPT', `the user-namespace slot file ${join(this.dir, file)} is damaged`, {
          container: name, hint: `if \`${name}\` no longer exists or uses no \`auto\` user namespace, remove the file`,
        });
      }
      out.set(name, slot);
    }
    return out;
  }

  allocate(name: string, size: number, others: readonly UserRange[]): Promise<UserRange> {
    return this.serialized(async () => {
      const path = slotPath(this.dir, name);
      const pool = await this.poolOnce();
      const slots = await this.passSlots(name);
      const own = slots.get(name) ?? null;
      const stored = [...slots].flatMap(([n, s]) => (n === name ? [] : [{ hostId: s.hostId, size: s.size }]));
      const taken = [...others, ...stored];
      const previous = own && slotFits(pool, own) ? own : null;
      const chosen = chooseSlot(pool, size, taken, previous);
      if (!chosen) {
        throw new CorralError('APPLY_FAILED', `no ${size} free host ids left in corral's subordinate id pool (${pool.start}+${pool.count})`, {
          container: name, hint: 'remove containers that use `auto` user namespaces, or give corral a larger entry in /etc/subuid and /etc/subgid',
        });
      }
      if (!own || own.hostId !== chosen.hostId || own.size !== chosen.size || own.slot !== chosen.slot) {
        await writeFileAtomic(path, `${JSON.stringify(chosen)}\n`, 0o600);
        slots.set(name, chosen);
      }
      return { hostId: chosen.hostId, size: chosen.size };
    });
  }

  /**
   * Every stored slot, read once per pass: a pass holds the state lock, so only this allocator
   * writes the directory until beginPass() (apply starting 1,000 containers otherwise reads
   * 500,000 slot files). `name`'s own damaged file is removed (its slot is chosen again); another's
   * stops the allocation.
   */
  private async passSlots(name: string): Promise<Map<string, SlotAssignment>> {
    if (this.cache) return this.cache;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeStaleTemps(this.dir);
    const all = await this.list().catch((err: unknown) => {
      if (err instanceof CorralError && err.code === 'STATE_CORRUPT' && err.container === name) return null;
      throw err;
    });
    if (all === null) {
      await rm(slotPath(this.dir, name), { force: true });
      return this.passSlots(name);
    }
    this.cache = all;
    return all;
  }

  /** A new pass: the next allocation reads the directory again (another process may have written it). */
  beginPass(): void {
    this.cache = null;
  }

  release(name: string): Promise<void> {
    return this.serialized(async () => {
      const path = slotPath(this.dir, name);
      this.cache?.delete(name);
      try {
        await rm(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      await syncDirectory(this.dir);
    });
  }

  /** Frees the slots of containers that have no record (a create that crashed before its record). */
  prune(keep: ReadonlySet<string>): Promise<string[]> {
    return this.serialized(async () => {
      this.cache = null;
      const freed: string[] = [];
      for (const name of (await this.list().catch(() => new Map<string, SlotAssignment>())).keys()) {
        if (keep.has(name)) continue;
        await rm(slotPath(this.dir, name), { force: true });
        freed.push(name);
      }
      if (freed.length > 0) await syncDirectory(this.dir);
      return freed;
    });
  }
}

/** The allocator of a state root, its pool from the subuid/subgid files `config` names. */
export function userRangeSlots(root: string, config: SubidConfig): UserRangeSlots {
  return new UserRangeSlots(usernsDir(root), () => ensurePool(config), async () => {
    const { pool, missing } = await readPool(config);
    return missing ? null : pool;
  });
}
