// Resolves the user a container runs as, asked for by name or by number (in a manifest, or in an
// image's OCI `User`), against the container's own /etc/passwd and /etc/group, with the rules of
// runc's libcontainer/user and Docker:
// - a user name must have a passwd entry; a uid need not (without one: gid 0, no home);
// - the primary group is the passwd entry's, unless a group is asked for;
// - supplementary groups are the /etc/group entries listing the user's name, plus those asked for.
// The two files come from inside the container, so they are hostile input: their size is capped,
// lines are read without regexes, and a malformed line is skipped, never trusted or thrown on.
// Pure: no Node imports. The caller reads the files (at most USER_DB_MAX_BYTES of each).

import { CorralError } from '../../errors.js';
import type { ProcessSpec, UserLookup } from '../../manifest/spec.js';

/**
 * What a manifest or an image's OCI `User` asks for: a user by name or uid (a string of digits is a
 * uid), a group by name or gid (null: the passwd entry's primary group; a uid without an entry:
 * gid 0), extra supplementary groups by name or number. The spec's own shape.
 */
export type UserRequest = UserLookup;

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary gids, unique, ascending. */
  readonly groups: readonly number[];
  /** The passwd entry's home directory; null without an entry (or with an empty home field). */
  readonly home: string | null;
}

/** The most of /etc/passwd or /etc/group corral reads, in bytes; real ones are a few KiB. */
export const USER_DB_MAX_BYTES = 4 * 1024 * 1024;

// 2^32 - 1 is (uid_t)-1, which setuid() and chown() take as "no id": it can never be a user.
const MAX_ID = 4294967294;

// Names shown in messages come from manifests and images: cut long ones so a message stays a line.
const SHOWN_MAX = 64;

type DbFile = '/etc/passwd' | '/etc/group';

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** The `container` option of a CorralError, present only when known. */
type Where = { readonly container?: string };

function shown(text: string): string {
  return text.length > SHOWN_MAX ? `${text.slice(0, SHOWN_MAX)}…` : text;
}

function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * A decimal id within 0..MAX_ID, or null. Digits only: Number() would also take a sign, spaces,
 * hex and exponents. Stops at the first digit past the range, so a long string costs nothing.
 */
function parseId(text: string): number | null {
  if (!isDigits(text)) return null;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    value = value * 10 + (text.charCodeAt(i) - 48);
    if (value > MAX_ID) return null;
  }
  return value;
}

/** UTF-8 size of `text`, counted only up to `limit + 1`: past the limit the exact size is moot. */
function utf8Length(text: string, limit: number): number {
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** How many `:` the line holds, counting no further than `max + 1`: a line of colons stops early. */
function colonsUpTo(line: string, max: number): number {
  let count = 0;
  for (let at = line.indexOf(':'); at >= 0 && count <= max; at = line.indexOf(':', at + 1)) count++;
  return count;
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== ' ' && c !== '\t') return false;
  }
  return true;
}

/**
 * The fields of each usable line of a colon-separated database whose lines have `fields` fields.
 * Skipped: blank lines, comments, NIS `+`/`-` lines (corral asks no NIS server, and their fields
 * mean "ask NIS", not ids), lines with an empty name, lines with another number of fields.
 */
function* records(text: string, fields: number): Generator<string[]> {
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (isBlank(line)) continue;
    const first = line[0];
    if (first === '#' || first === '+' || first === '-' || first === ':') continue;
    if (colonsUpTo(line, fields - 1) !== fields - 1) continue;
    yield line.split(':');
  }
}

/** `name:password:uid:gid:gecos:home:shell`; lines whose ids are not ids are skipped. */
function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const [name, , uidText, gidText, , home] of records(text, 7)) {
    const uid = parseId(uidText);
    const gid = parseId(gidText);
    if (uid !== null && gid !== null) entries.push({ name, uid, gid, home });
  }
  return entries;
}

/** `name:password:gid:member,member...`; empty members (`a,,b`, a trailing comma) are no one. */
function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const [name, , gidText, members] of records(text, 4)) {
    const gid = parseId(gidText);
    if (gid !== null) entries.push({ name, gid, members: members.split(',').filter((m) => m !== '') });
  }
  return entries;
}

/** Checks the size first: parsing is linear, but a huge file still costs memory and time. */
function readDb<T>(text: string | null, file: DbFile, parse: (text: string) => T[], where: Where): T[] | null {
  if (text === null) return null;
  // UTF-8 takes at least one byte per UTF-16 unit: a string that long is too large without counting.
  if (text.length > USER_DB_MAX_BYTES || utf8Length(text, USER_DB_MAX_BYTES) > USER_DB_MAX_BYTES) {
    throw new CorralError('USER_DB_INVALID', `the container's ${file} is larger than 4 MiB`, {
      ...where,
      detail: `corral reads at most ${USER_DB_MAX_BYTES} bytes of ${file}`,
      hint: `shrink ${file} in the image, or give numeric ids`,
    });
  }
  return parse(text);
}

function notFound(kind: 'user' | 'group', name: string, file: DbFile, fileExists: boolean, where: Where): CorralError {
  return new CorralError('USER_NOT_FOUND', `${kind} \`${shown(name)}\` is not in the container's ${file}`, {
    ...where,
    detail: fileExists ? `looked in ${file}` : `the container has no ${file}`,
    hint: kind === 'user' ? 'add the user to the image, or give a uid (`user: {uid: N}`)' : 'add the group to the image, or give a gid',
  });
}

/**
 * A request's name or number as an id (a number) or a name (a string). A string of digits is a
 * number, as for runc and Docker; a number outside 0..MAX_ID cannot get this far from a validated
 * manifest or parseImageUser, but is refused rather than handed to setuid().
 */
function idOrName(value: string | number, kind: 'uid' | 'gid', where: Where): number | string {
  if (typeof value === 'string' && !isDigits(value)) return value;
  const id = typeof value === 'number' ? (Number.isInteger(value) && value >= 0 && value <= MAX_ID ? value : null) : parseId(value);
  if (id === null) {
    throw new CorralError('MANIFEST_OUT_OF_RANGE', `${kind} \`${shown(String(value))}\` is outside 0..${MAX_ID}`, where);
  }
  return id;
}

function resolveGroup(value: string | number, groups: readonly GroupEntry[] | null, where: Where): number {
  const group = idOrName(value, 'gid', where);
  if (typeof group === 'number') return group;
  const entry = groups?.find((g) => g.name === group);
  if (entry === undefined) throw notFound('group', group, '/etc/group', groups !== null, where);
  return entry.gid;
}

/** The uid and, when there is one, the passwd entry: required for a name, optional for a uid. */
function resolvePasswd(value: string | number, passwd: readonly PasswdEntry[] | null, where: Where): { uid: number; entry: PasswdEntry | null } {
  const user = idOrName(value, 'uid', where);
  if (typeof user === 'number') return { uid: user, entry: passwd?.find((e) => e.uid === user) ?? null };
  const entry = passwd?.find((e) => e.name === user);
  if (entry === undefined) throw notFound('user', user, '/etc/passwd', passwd !== null, where);
  return { uid: entry.uid, entry };
}

/** Resolves `req` against the texts of the container's files (null: the file does not exist). */
export function resolveUser(req: UserRequest, files: { passwd: string | null; group: string | null }, container?: string): ResolvedUser {
  const where: Where = container === undefined ? {} : { container };
  // Both files are checked whatever the request, so an unusable file fails the same way for every user.
  const passwd = readDb(files.passwd, '/etc/passwd', parsePasswd, where);
  const groups = readDb(files.group, '/etc/group', parseGroup, where);
  const { uid, entry } = resolvePasswd(req.user, passwd, where);
  const gid = req.group === null ? entry?.gid ?? 0 : resolveGroup(req.group, groups, where);
  const supplementary = new Set<number>();
  // Memberships go by name, so a uid without a passwd entry has none. The primary gid is not added:
  // it is only a supplementary group when /etc/group or the request lists it.
  if (entry !== null) for (const g of groups ?? []) if (g.members.includes(entry.name)) supplementary.add(g.gid);
  for (const g of req.groups) supplementary.add(resolveGroup(g, groups, where));
  return {
    uid,
    gid,
    groups: [...supplementary].sort((a, b) => a - b),
    home: entry === null || entry.home === '' ? null : entry.home,
  };
}

function imageUserError(value: string, problem: string): CorralError {
  return new CorralError('IMAGE_INVALID', `image config field \`config.User\` (\`${shown(value)}\`) ${problem}`, {
    detail: 'expected `user`, `uid`, `user:group`, `uid:gid`, `uid:group` or `user:gid`',
  });
}

function imageUserPart(value: string, part: string, what: 'user' | 'group'): string | number {
  if (part === '') throw imageUserError(value, `has an empty ${what}`);
  if (!isDigits(part)) return part;
  const id = parseId(part);
  if (id === null) throw imageUserError(value, `has ${what === 'user' ? 'uid' : 'gid'} ${shown(part)}, outside 0..${MAX_ID}`);
  return id;
}

/** Parses an OCI image config `User` string: `user`, `uid`, `user:group`, `uid:gid`, `uid:group`... */
export function parseImageUser(value: string): UserRequest {
  // indexOf, not split: a hostile `User` of a million colons must not become a million strings.
  const colon = value.indexOf(':');
  if (colon >= 0 && value.indexOf(':', colon + 1) >= 0) throw imageUserError(value, 'has more than one colon');
  if (colon < 0) return { user: imageUserPart(value, value, 'user'), group: null, groups: [] };
  return {
    user: imageUserPart(value, value.slice(0, colon), 'user'),
    group: imageUserPart(value, value.slice(colon + 1), 'group'),
    groups: [],
  };
}

/**
 * What to look up at start, or null when the manifest's numeric ids are used as they are: its
 * names if it gives any, else the image's `User` when the manifest leaves the user at root (0, 0,
 * no groups) — the way an image's USER applies unless overridden.
 */
export function userRequestFor(process: Pick<ProcessSpec, 'user' | 'userLookup'>, imageUser: string | null): UserRequest | null {
  if (process.userLookup) return process.userLookup;
  const { uid, gid, groups } = process.user;
  if (imageUser !== null && uid === 0 && gid === 0 && groups.length === 0) return parseImageUser(imageUser);
  return null;
}
