// Host id ranges for user namespaces. Pure: parsing and deciding only; the files are read and
// written by src/state/subid-pool.ts.
//
// The pool: corral's own entry in /etc/subuid and /etc/subgid (`corral:<start>:<count>`, the user
// name configurable). When a file has none, corral appends one above every other entry there:
// start the first multiple of 65536 at or above 1,048,576 and every entry's end (the same start in
// both files), count 65536 × 8192. Entries are matched by name only, never by numeric uid
// (podman also matches the uid; corral is not a login user, so a name is all it has).
//
// Slots, as the kubelet cuts them: the pool is cut into slots of 65536 ids aligned to its start;
// an `auto: {size}` container takes ceil(size / 65536) consecutive slots, the lowest free ones.
// A container's slot is kept in the state root by name, so a restart or a recreate keeps its ids.
//
// Explicit `uidMap`/`gidMap` are the manifest's own business, but two containers' maps must not
// overlap each other, and none may reach into the pool (userMapProblems, called by plan).

import { diagnostic, type Diagnostic } from '../errors.js';
import type { ContainerSpec, IdMap } from '../manifest/spec.js';
import type { UserRange } from '../state/record.js';

export const SLOT_SIZE = 65_536;
/** Pools start at or above this: far from the 100000-… ranges distributions give login users. */
export const POOL_MIN_START = 1_048_576;
/** What corral appends: 8192 slots (2^29 ids). */
export const POOL_COUNT = SLOT_SIZE * 8192;
export const DEFAULT_SUBID_NAME = 'corral';
/** Host ids are 0 … 2^32 − 2 ((uid_t) −1 is "no id"). */
const ID_END = 2 ** 32 - 1;

/** One `name:start:count` line of /etc/subuid or /etc/subgid. */
export interface SubidEntry {
  readonly name: string;
  readonly start: number;
  readonly count: number;
}

/** Host ids `[start, start + count)` usable for both uids and gids. */
export interface IdPool {
  readonly start: number;
  readonly count: number;
}

/** A container's slot as stored in the state root. */
export interface SlotAssignment {
  readonly hostId: number;
  readonly size: number;
  readonly slot: number;
}

const overlap = (a0: number, a1: number, b0: number, b1: number): boolean => a0 < b1 && b0 < a1;

const DECIMAL = /^(0|[1-9]\d*)$/;

/** The well-formed entries of a subuid/subgid file; comments, blank and malformed lines are skipped. */
export function parseSubids(text: string): SubidEntry[] {
  const out: SubidEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length !== 3) continue;
    const [name, start, count] = fields as [string, string, string];
    if (name === '' || !DECIMAL.test(start) || !DECIMAL.test(count)) continue;
    const s = Number(start);
    const c = Number(count);
    if (c === 0 || s + c > ID_END) continue;
    out.push({ name, start: s, count: c });
  }
  return out;
}

/** The first entry of `name` (by name only; a numeric uid naming the same user does not match). */
export function findEntry(entries: readonly SubidEntry[], name: string): SubidEntry | null {
  return entries.find((e) => e.name === name) ?? null;
}

/** Where a new pool starts: above every entry of every file given, slot-aligned, ≥ POOL_MIN_START. */
export function choosePoolStart(...files: readonly (readonly SubidEntry[])[]): number {
  let end = POOL_MIN_START;
  for (const entries of files) for (const e of entries) end = Math.max(end, e.start + e.count);
  const start = Math.ceil(end / SLOT_SIZE) * SLOT_SIZE;
  if (start + POOL_COUNT > ID_END) throw new RangeError(`no room for ${POOL_COUNT} subordinate ids above ${end}`);
  return start;
}

/** The file's text with one entry appended: every other line untouched, a trailing newline. */
export function appendSubidLine(text: string, entry: SubidEntry): string {
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}${entry.name}:${entry.start}:${entry.count}\n`;
}

/**
 * The pool from corral's subuid and subgid entries: the ids both grant (an auto range maps the
 * same host ids for uids and gids). Refused when it holds host id 0 or not one whole slot.
 */
export function poolOf(uid: SubidEntry, gid: SubidEntry): IdPool {
  const start = Math.max(uid.start, gid.start);
  const end = Math.min(uid.start + uid.count, gid.start + gid.count);
  if (uid.start === 0 || gid.start === 0) {
    throw new RangeError(`the subordinate id entry of \`${uid.name}\` contains host id 0 (root): refused`);
  }
  if (end - start < SLOT_SIZE) {
    throw new RangeError(`the subuid (${uid.start}+${uid.count}) and subgid (${gid.start}+${gid.count}) entries of \`${uid.name}\` share fewer than ${SLOT_SIZE} ids`);
  }
  return { start, count: end - start };
}

/** What the pool's entries are, and which of the two files must get one appended. */
export interface PoolEntries {
  readonly uid: SubidEntry;
  readonly gid: SubidEntry;
  readonly appendUid: boolean;
  readonly appendGid: boolean;
}

/**
 * corral's entries in the two files, or the ones to append: a file that has one keeps it; one
 * missing from a single file copies the other's when that fits among the file's entries; one
 * missing from both starts above every entry of both files (the same start in each).
 */
export function poolEntries(name: string, uidEntries: readonly SubidEntry[], gidEntries: readonly SubidEntry[]): PoolEntries {
  const uid = findEntry(uidEntries, name);
  const gid = findEntry(gidEntries, name);
  if (uid && gid) return { uid, gid, appendUid: false, appendGid: false };
  const fitsAmong = (e: SubidEntry, entries: readonly SubidEntry[]): boolean => !entries.some((x) => overlap(e.start, e.start + e.count, x.start, x.start + x.count));
  const fresh = (): SubidEntry => ({ name, start: choosePoolStart(uidEntries, gidEntries), count: POOL_COUNT });
  if (uid) return { uid, gid: fitsAmong(uid, gidEntries) ? uid : fresh(), appendUid: false, appendGid: true };
  if (gid) return { uid: fitsAmong(gid, uidEntries) ? gid : fresh(), gid, appendUid: true, appendGid: false };
  const entry = fresh();
  return { uid: entry, gid: entry, appendUid: true, appendGid: true };
}

/**
 * Hands out and frees `auto` ranges (src/state/subid-pool.ts keeps them in the state root).
 * Calls are serialized by the implementation: apply runs creates in parallel.
 */
export interface UserRangeAllocator {
  /**
   * The range of `name`'s `auto` user namespace of `size` ids: its stored slot when it still fits,
   * else the lowest free slots. `others`: ranges other containers' records hold (avoided too).
   */
  allocate(name: string, size: number, others: readonly UserRange[]): Promise<UserRange>;
  /** Frees `name`'s slot: its container is removed, or no longer uses `auto`. Idempotent. */
  release(name: string): Promise<void>;
  /** The pool as the files hold it now, without appending to them; null: none yet (or unreadable). */
  existingPool?(): Promise<IdPool | null>;
  /** A pass starts (under the state lock): what the allocator read before may have changed since. */
  beginPass?(): void;
}

export const slotsFor = (size: number): number => Math.ceil(size / SLOT_SIZE);

/**
 * The slot for a container of `size` ids: its own `previous` slot when it still fits (inside the
 * pool, aligned, clear of every range in `taken`), else the lowest run of free slots. null: the
 * pool is full.
 * @param taken host id ranges of every other container (their slots and their records' ranges)
 */
export function chooseSlot(pool: IdPool, size: number, taken: readonly UserRange[], previous: SlotAssignment | null = null): SlotAssignment | null {
  const n = slotsFor(size);
  const total = Math.floor(pool.count / SLOT_SIZE);
  const free = (slot: number): boolean => {
    if (slot < 0 || slot + n > total) return false;
    const a = pool.start + slot * SLOT_SIZE;
    return !taken.some((t) => overlap(a, a + n * SLOT_SIZE, t.hostId, t.hostId + t.size));
  };
  if (previous && previous.hostId === pool.start + previous.slot * SLOT_SIZE && free(previous.slot)) {
    return { hostId: previous.hostId, size, slot: previous.slot };
  }
  for (let slot = 0; slot + n <= total; slot++) {
    if (free(slot)) return { hostId: pool.start + slot * SLOT_SIZE, size, slot };
  }
  return null;
}

/** Whether a stored slot is one this pool could have handed out. */
export function slotFits(pool: IdPool, a: SlotAssignment): boolean {
  return Number.isInteger(a.slot) && a.slot >= 0 && a.size > 0 && a.hostId === pool.start + a.slot * SLOT_SIZE
    && a.hostId + slotsFor(a.size) * SLOT_SIZE <= pool.start + pool.count;
}

interface Span {
  readonly kind: 'uidMap' | 'gidMap';
  readonly index: number;
  readonly map: IdMap;
}

function spans(spec: ContainerSpec): Span[] {
  const user = spec.namespaces.user;
  if (user?.kind !== 'manual') return [];
  return [
    ...user.uidMap.map((map, index) => ({ kind: 'uidMap' as const, index, map })),
    ...user.gidMap.map((map, index) => ({ kind: 'gidMap' as const, index, map })),
  ];
}

const showMap = (s: Span): string => `${s.kind}[${s.index}] (host ${s.map.hostID}+${s.map.size})`;

/**
 * Plan-time errors of explicit user-namespace maps, by container: a map that overlaps another
 * container's map (uid against uid, gid against gid), or reaches into corral's pool. One error
 * per container and problem. Of an overlapping pair, the container whose maps are already applied
 * (`established`: its record has these maps) is not blamed for the newcomer; two established, or
 * two new, both are.
 */
export function userMapProblems(specs: readonly ContainerSpec[], pool: IdPool | null, established: ReadonlySet<string> = new Set()): Map<string, Diagnostic[]> {
  const out = new Map<string, Diagnostic[]>();
  const push = (name: string, d: Diagnostic): void => {
    out.set(name, [...(out.get(name) ?? []), d]);
  };
  const all = specs.map((spec) => ({ name: spec.name, spans: spans(spec) })).filter((x) => x.spans.length > 0);
  for (const { name, spans: mine } of all) {
    const inPool = pool ? mine.find((s) => overlap(s.map.hostID, s.map.hostID + s.map.size, pool.start, pool.start + pool.count)) : undefined;
    if (inPool && pool) {
      push(name, diagnostic('error', 'MANIFEST_CONFLICT', `${showMap(inPool)} overlaps corral's subordinate id pool (${pool.start}+${pool.count}, /etc/subuid and /etc/subgid)`, {
        container: name, field: `spec.namespaces.user.${inPool.kind}[${inPool.index}]`,
        hint: 'map host ids outside the pool, or use `auto` and let corral pick them',
      }));
    }
    for (const other of all) {
      if (other.name === name || (established.has(name) && !established.has(other.name))) continue;
      const clash = mine.flatMap((s) => other.spans.filter((o) => o.kind === s.kind && overlap(s.map.hostID, s.map.hostID + s.map.size, o.map.hostID, o.map.hostID + o.map.size)).map((o) => [s, o] as const))[0];
      if (!clash) continue;
      const [s, o] = clash;
      push(name, diagnostic('error', 'MANIFEST_CONFLICT', `${showMap(s)} overlaps container \`${other.name}\`'s ${showMap(o)}`, {
        container: name, field: `spec.namespaces.user.${s.kind}[${s.index}]`,
        hint: 'give each container host ids of its own (or use `auto`): shared ids let one container reach the other\'s files',
      }));
      break;
    }
  }
  return out;
}
