// Image references for pulling from a registry: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`, parsed and
// normalised the way docker/distribution's `reference` package (and containers/image after it)
// does, so a name that works with `docker pull` means the same image here. `nginx` is
// `docker.io/library/nginx:latest`; `localhost:5000/app@sha256:…` names its registry.
//
// Pure: no Node imports, no I/O. References come from manifests and the command line, so the
// input is treated as hostile: its length is bounded before anything looks at it, and it is
// parsed by hand, one character class at a time, so no input can make it backtrack.

import { CorralError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

export interface RegistryReference {
  /** Registry host with optional port, normalised: `docker.io` for Docker Hub, lower-case host. */
  readonly registry: string;
  /** Repository path: `library/nginx` for official Docker Hub images. */
  readonly repository: string;
  /** null when the reference has only a digest. `latest` when neither tag nor digest was given. */
  readonly tag: string | null;
  /** `sha256:<64 hex>` or `sha512:<128 hex>`, or null. */
  readonly digest: string | null;
}

// Every refusal carries this code: the reference, from a manifest or the command line, is not
// [HOST[:PORT]/]PATH[:TAG][@DIGEST]. (IMAGE_INVALID is about corrupt archives and layouts.)
const INVALID: ErrorCode = 'IMAGE_REFERENCE_INVALID';

/**
 * Longer input is refused before it is scanned. Any name with a tag and a sha256 digest fits
 * (255 + 1 + 128 + 1 + 71 = 456); only a maximal name, tag and sha512 digest together (520) would not.
 */
export const MAX_REFERENCE_LENGTH = 512;
/** distribution's NameTotalLengthMax, applied to the normalised `registry/repository`. */
const MAX_NAME_LENGTH = 255;
const MAX_TAG_LENGTH = 128;
/** DNS limits a label to 63 bytes; a longer one can never resolve. */
const MAX_LABEL_LENGTH = 63;

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ENDPOINT = 'registry-1.docker.io';
/** Names people write for Docker Hub; all mean docker.io (`index.docker.io` is the legacy one). */
const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set([DOCKER_HUB, 'index.docker.io', DOCKER_HUB_ENDPOINT]);
const OFFICIAL_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** Hex digits per supported digest algorithm; registries and OCI use no others. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

const REFERENCE_GRAMMAR = 'an image reference is [HOST[:PORT]/]PATH[:TAG][@DIGEST]';
const PATH_GRAMMAR = 'a repository path is components of lower-case letters and digits, separated inside a component by one `.`, one `_`, `__` or a run of `-`, and joined by `/`';
const TAG_GRAMMAR = 'a tag is 1 to 128 letters, digits, `_`, `.` and `-`, starting with a letter, digit or `_`';
const HOST_GRAMMAR = 'a registry is a DNS name or IPv4 address (letters, digits and `-` in dot-separated labels) or a bracketed IPv6 address, with an optional `:PORT` from 1 to 65535';
const DIGEST_GRAMMAR = 'a digest is `sha256:` and 64 lower-case hex digits, or `sha512:` and 128';

export function parseReference(text: string): RegistryReference {
  if (typeof text !== 'string' || text.length === 0) fail('', 'it is empty', 'expected an image reference such as `nginx:1.27` or `registry.example.com/team/app@sha256:…`');
  if (text.length > MAX_REFERENCE_LENGTH) fail(text, `it is ${text.length} characters long`, `an image reference is at most ${MAX_REFERENCE_LENGTH} characters`);
  // distribution refuses a bare 64-hex name: it reads like an image ID, and pulling it would surprise.
  if (text.length === 64 && isLowerHex(text)) fail(text, 'a 64-digit hex string is an image ID, not a repository name', 'name the repository, and pin the image with `@sha256:…` if needed');

  const { rest, digestText } = splitDigest(text);
  const digest = digestText === null ? null : checkDigest(text, digestText);
  const { name, tagText } = splitTag(text, rest);
  const tag = tagText === null ? (digest === null ? DEFAULT_TAG : null) : checkTag(text, tagText);
  const { registry, repository } = splitName(text, name);
  const full = `${registry}/${repository}`;
  if (full.length > MAX_NAME_LENGTH) fail(text, `registry and repository together are ${full.length} characters long`, `registry and repository together are at most ${MAX_NAME_LENGTH} characters`);
  return { registry, repository, tag, digest };
}

/** The canonical, fully qualified form: `docker.io/library/nginx:latest`, `host:5000/a/b@sha256:…`. */
export function formatReference(r: RegistryReference): string {
  return `${r.registry}/${r.repository}${suffix(r)}`;
}

/**
 * The short form people write: `nginx:latest`, `user/app:1`, `127.0.0.1:5000/team/app:1`. Like
 * distribution's FamiliarString, except that a Docker Hub repository whose first component would
 * read as a host (`docker.io/localhost/x`) keeps its `docker.io/`, so the short form parses back
 * to the same reference.
 */
export function familiarName(r: RegistryReference): string {
  return `${familiarRepository(r)}${suffix(r)}`;
}

/** The host to contact for the registry: `registry-1.docker.io` for docker.io, else the registry as is. */
export function registryEndpointHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : registry;
}

/** Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`, with any port): plain HTTP is allowed for them by default. */
export function isLoopbackRegistry(registry: string): boolean {
  if (typeof registry !== 'string' || registry.length > MAX_REFERENCE_LENGTH) return false;
  const host = hostOf(registry.toLowerCase());
  if (host === null) return false;
  if (host === 'localhost') return true;
  if (host.startsWith('[')) {
    const groups = ipv6Groups(host.slice(1, -1));
    return groups !== null && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
  }
  const octets = ipv4Octets(host);
  return octets !== null && octets[0] === 127;
}

// ---- splitting -------------------------------------------------------------------------------

/** `NAME[:TAG]` and `@DIGEST`. A digest never holds `@`, so more than one is an error. */
function splitDigest(text: string): { rest: string; digestText: string | null } {
  const at = text.indexOf('@');
  if (at === -1) return { rest: text, digestText: null };
  if (text.indexOf('@', at + 1) !== -1) fail(text, 'it holds more than one `@`', REFERENCE_GRAMMAR);
  return { rest: text.slice(0, at), digestText: text.slice(at + 1) };
}

/** The tag is after a `:` that follows the last `/`: a `:` before it belongs to the host's port. */
function splitTag(text: string, rest: string): { name: string; tagText: string | null } {
  // A bracketed address without a path would otherwise be read as a name `[` and a tag.
  if (rest.startsWith('[') && !rest.includes('/')) fail(text, `the registry \`${shorten(rest)}\` is not followed by \`/\` and a repository`, 'a registry is followed by `/` and a repository: HOST[:PORT]/PATH');
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  if (colon === -1) return { name: rest, tagText: null };
  return { name: rest.slice(0, colon), tagText: rest.slice(colon + 1) };
}

/**
 * The registry and the repository. The first component names a registry when it could not be a
 * Docker Hub user: it holds a `.` or a `:`, or is exactly `localhost` (distribution's rule). A
 * component with upper-case letters and neither is a repository component, refused below.
 */
function splitName(text: string, name: string): { registry: string; repository: string } {
  if (name === '') fail(text, 'it has no repository name', REFERENCE_GRAMMAR);
  const slash = name.indexOf('/');
  const first = slash === -1 ? null : name.slice(0, slash);
  if (first === null || !looksLikeHost(first)) {
    return { registry: DOCKER_HUB, repository: officialPath(checkPath(text, name)) };
  }
  const registry = normaliseRegistry(checkRegistry(text, first));
  const path = checkPath(text, name.slice(slash + 1));
  return { registry, repository: registry === DOCKER_HUB ? officialPath(path) : path };
}

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** One component on Docker Hub is an official image, stored under `library/`. */
function officialPath(path: string): string {
  return path.includes('/') ? path : `${OFFICIAL_PREFIX}${path}`;
}

function normaliseRegistry(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry) ? DOCKER_HUB : registry;
}

// ---- the registry host ------------------------------------------------------------------------

/** Checks `HOST[:PORT]` and returns it with the host in lower case. */
function checkRegistry(text: string, registry: string): string {
  const { host, port } = splitPort(text, registry);
  if (port !== null) checkPort(text, registry, port);
  if (host.startsWith('[')) {
    if (ipv6Groups(host.slice(1, -1)) === null) fail(text, `\`${shorten(host)}\` is not an IPv6 address`, HOST_GRAMMAR);
  } else {
    const problem = hostProblem(host);
    if (problem !== null) fail(text, `the registry host \`${shorten(host)}\` ${problem}`, HOST_GRAMMAR);
  }
  return registry.toLowerCase();
}

function splitPort(text: string, registry: string): { host: string; port: string | null } {
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    if (close === -1) fail(text, `the registry \`${shorten(registry)}\` opens \`[\` and never closes it`, HOST_GRAMMAR);
    const after = registry.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail(text, `the registry \`${shorten(registry)}\` has \`${shorten(after)}\` after its IPv6 address`, HOST_GRAMMAR);
    return { host: registry.slice(0, close + 1), port: after === '' ? null : after.slice(1) };
  }
  const colon = registry.indexOf(':');
  return colon === -1 ? { host: registry, port: null } : { host: registry.slice(0, colon), port: registry.slice(colon + 1) };
}

/** Decimal, 1 to 65535, no leading zero: `:05000` would name the same port under another spelling. */
function checkPort(text: string, registry: string, port: string): void {
  const valid = port.length >= 1 && port.length <= 5 && port.charCodeAt(0) !== 0x30 && allChars(port, isDigit) && Number(port) <= 65535;
  if (!valid) fail(text, `the port \`${shorten(port)}\` of registry \`${shorten(registry)}\` is not a port number`, 'a port is a decimal number from 1 to 65535, without leading zeros');
}

/** null when `host` is dot-separated labels of letters, digits and inner `-` (this covers IPv4). */
function hostProblem(host: string): string | null {
  if (host === '') return 'is empty';
  for (const label of host.split('.')) {
    if (label === '') return 'has an empty label (`..`, or a leading or trailing `.`)';
    if (label.length > MAX_LABEL_LENGTH) return `has a label longer than ${MAX_LABEL_LENGTH} characters`;
    const bad = firstBad(label, (c) => isAlnum(c) || c === DASH);
    if (bad !== null) return `holds \`${bad}\``;
    if (label.startsWith('-') || label.endsWith('-')) return 'has a label that starts or ends with `-`';
  }
  return null;
}

/**
 * The host part of a registry (`[::1]` keeps its brackets), or null when the registry is not
 * HOST[:DIGITS]: `[::1]evil` must not pass for loopback because its first characters do.
 */
function hostOf(registry: string): string | null {
  const close = registry.startsWith('[') ? registry.indexOf(']') : -1;
  if (registry.startsWith('[') && close === -1) return null;
  const colon = registry.indexOf(':', close + 1);
  const end = close !== -1 ? close + 1 : colon === -1 ? registry.length : colon;
  const rest = registry.slice(end);
  const port = rest.slice(1);
  if (rest !== '' && (!rest.startsWith(':') || port.length < 1 || port.length > 5 || !allChars(port, isDigit))) return null;
  return registry.slice(0, end);
}

/**
 * Four decimal octets, or null. Leading zeros are refused: some resolvers read `0177` as octal, so
 * such a host is not trusted to be what it looks like (and is not loopback for plain HTTP).
 */
function ipv4Octets(host: string): number[] | null {
  const parts = host.split('.');
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const p of parts) {
    if (p.length < 1 || p.length > 3 || !allChars(p, isDigit) || (p.length > 1 && p.startsWith('0'))) return null;
    const n = Number(p);
    if (n > 255) return null;
    octets.push(n);
  }
  return octets;
}

/** The eight 16-bit groups of an IPv6 address (with at most one `::`), or null. No zone, no dotted tail. */
function ipv6Groups(text: string): number[] | null {
  if (text.length < 2 || text.length > 39) return null;
  const gap = text.indexOf('::');
  if (gap === -1) {
    const groups = hexGroups(text);
    return groups !== null && groups.length === 8 ? groups : null;
  }
  if (text.indexOf('::', gap + 1) !== -1) return null;
  const head = text.slice(0, gap) === '' ? [] : hexGroups(text.slice(0, gap));
  const tail = text.slice(gap + 2) === '' ? [] : hexGroups(text.slice(gap + 2));
  if (head === null || tail === null || head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function hexGroups(text: string): number[] | null {
  const groups: number[] = [];
  for (const g of text.split(':')) {
    if (g.length < 1 || g.length > 4 || !allChars(g, isHex)) return null;
    groups.push(parseInt(g, 16));
  }
  return groups;
}

// ---- repository, tag, digest ------------------------------------------------------------------

function checkPath(text: string, path: string): string {
  if (path === '') fail(text, 'the repository path is empty', PATH_GRAMMAR);
  if (firstBad(path, (c) => !isUpper(c)) !== null) {
    fail(text, 'repository names are lower case', PATH_GRAMMAR, `write the repository as \`${shorten(path.toLowerCase())}\``);
  }
  const bad = firstBad(path, (c) => isLowerAlnum(c) || c === SLASH || c === DOT || c === UNDERSCORE || c === DASH);
  if (bad !== null) fail(text, `the repository path holds \`${bad}\``, PATH_GRAMMAR);
  if (path.startsWith('/')) fail(text, 'the repository path starts with `/`', PATH_GRAMMAR);
  if (path.endsWith('/')) fail(text, 'the repository path ends with `/`', PATH_GRAMMAR);
  for (const component of path.split('/')) {
    if (component === '') fail(text, 'the repository path has an empty component (`//`)', PATH_GRAMMAR);
    if (!isPathComponent(component)) fail(text, `the path component \`${shorten(component)}\` does not start and end with a letter or digit, or separates them wrongly`, PATH_GRAMMAR);
  }
  return path;
}

/**
 * `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, scanned in alternating runs: a run of letters and
 * digits, then a run of separators that must be `.`, `_`, `__` or dashes only. Linear in length.
 * The caller has already refused any other character.
 */
function isPathComponent(component: string): boolean {
  let i = 0;
  while (true) {
    const alnumStart = i;
    while (i < component.length && isLowerAlnum(component.charCodeAt(i))) i++;
    if (i === alnumStart) return false;
    if (i === component.length) return true;
    const sepStart = i;
    while (i < component.length && !isLowerAlnum(component.charCodeAt(i))) i++;
    if (i === component.length || !isSeparator(component.slice(sepStart, i))) return false;
  }
}

function isSeparator(sep: string): boolean {
  return sep === '.' || sep === '_' || sep === '__' || allChars(sep, (c) => c === DASH);
}

function checkTag(text: string, tag: string): string {
  if (tag === '') fail(text, 'the tag after `:` is empty', TAG_GRAMMAR);
  if (tag.length > MAX_TAG_LENGTH) fail(text, `the tag is ${tag.length} characters long`, TAG_GRAMMAR);
  const bad = firstBad(tag, (c) => isWord(c) || c === DOT || c === DASH);
  if (bad !== null) fail(text, `the tag holds \`${bad}\``, TAG_GRAMMAR);
  if (!isWord(tag.charCodeAt(0))) fail(text, `the tag \`${shorten(tag)}\` starts with \`${tag[0]}\``, TAG_GRAMMAR);
  return tag;
}

function checkDigest(text: string, digest: string): string {
  const colon = digest.indexOf(':');
  if (colon === -1) fail(text, `the digest \`${shorten(digest)}\` is not ALGORITHM:HEX`, DIGEST_GRAMMAR);
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const expected = Object.hasOwn(DIGEST_HEX_LENGTH, algorithm) ? DIGEST_HEX_LENGTH[algorithm] : undefined;
  if (expected === undefined) fail(text, `the digest algorithm \`${shorten(algorithm)}\` is not supported`, DIGEST_GRAMMAR);
  if (!allChars(hex, isHex)) fail(text, `the ${algorithm} digest holds \`${firstBad(hex, isHex) ?? ''}\`, which is not a hex digit`, DIGEST_GRAMMAR);
  // Registries compare digests as strings: an upper-case one would never match.
  if (!isLowerHex(hex)) fail(text, `the ${algorithm} digest is in upper case`, DIGEST_GRAMMAR, `write it as \`${algorithm}:${shorten(hex.toLowerCase())}\``);
  if (hex.length !== expected) fail(text, `the ${algorithm} digest has ${hex.length} hex digits`, DIGEST_GRAMMAR);
  return digest;
}

// ---- formatting -------------------------------------------------------------------------------

function suffix(r: RegistryReference): string {
  return `${r.tag === null ? '' : `:${r.tag}`}${r.digest === null ? '' : `@${r.digest}`}`;
}

function familiarRepository(r: RegistryReference): string {
  if (r.registry !== DOCKER_HUB) return `${r.registry}/${r.repository}`;
  const short = r.repository.startsWith(OFFICIAL_PREFIX) && !r.repository.slice(OFFICIAL_PREFIX.length).includes('/')
    ? r.repository.slice(OFFICIAL_PREFIX.length)
    : r.repository;
  const slash = short.indexOf('/');
  return slash !== -1 && looksLikeHost(short.slice(0, slash)) ? `${DOCKER_HUB}/${r.repository}` : short;
}

// ---- characters and errors --------------------------------------------------------------------

const DOT = 0x2e;
const DASH = 0x2d;
const SLASH = 0x2f;
const UNDERSCORE = 0x5f;

function isDigit(c: number): boolean { return c >= 0x30 && c <= 0x39; }
function isLower(c: number): boolean { return c >= 0x61 && c <= 0x7a; }
function isUpper(c: number): boolean { return c >= 0x41 && c <= 0x5a; }
function isLowerAlnum(c: number): boolean { return isLower(c) || isDigit(c); }
function isAlnum(c: number): boolean { return isLowerAlnum(c) || isUpper(c); }
function isWord(c: number): boolean { return isAlnum(c) || c === UNDERSCORE; }
function isHex(c: number): boolean { return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46); }
function isLowerHexDigit(c: number): boolean { return isDigit(c) || (c >= 0x61 && c <= 0x66); }
function isLowerHex(s: string): boolean { return s.length > 0 && allChars(s, isLowerHexDigit); }

function allChars(s: string, ok: (c: number) => boolean): boolean {
  return firstBad(s, ok) === null;
}

/** The first character that `ok` refuses, escaped for a message (so a control character shows), or null. */
function firstBad(s: string, ok: (c: number) => boolean): string | null {
  for (let i = 0; i < s.length; i++) if (!ok(s.charCodeAt(i))) return escape(s.charAt(i));
  return null;
}

/** Input shown back in a message: control characters escaped, and cut short so a message stays one line. */
function shorten(s: string): string {
  const cut = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return escape(cut);
}

function escape(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Throws the one error of this module: `what` went wrong, `detail` says what is expected. */
function fail(text: string, what: string, detail: string, hint?: string): never {
  const shown = text === '' ? 'image reference' : `image reference \`${shorten(text)}\``;
  throw new CorralError(INVALID, `${shown} is invalid: ${what}`, hint === undefined ? { detail } : { detail, hint });
}

/**
 * Whether a `rootfs.image` value is a registry reference rather than a name in the store: it starts
 * with a registry host (`localhost`, a name with a `.`, or a `:port`) followed by a path. A bare
 * `nginx` stays a store name: corral never guesses Docker Hub (write `docker.io/library/nginx`).
 */
export function isRegistryReference(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash <= 0) return false;
  const first = text.slice(0, slash);
  return first === 'localhost' || first.includes('.') || first.includes(':');
}

/** The store name and tag a registry reference is kept under: `registry/repository` and the tag, or `sha256-<hex>` for a digest alone. */
export function storeNameOf(r: RegistryReference): { readonly name: string; readonly tag: string } {
  const tag = r.tag ?? r.digest!.replace(':', '-').slice(0, 128);
  return { name: `${r.registry}/${r.repository}`, tag };
}

/** A store name with a `/` is a registry reference's (storeNameOf): only those are ever pulled. */
export function isRegistryStoreName(name: string): boolean {
  return name.includes('/');
}

/** What to pull for an image the store keeps as `name` and `tag`: pinned by digest when there is one. */
export function pullReferenceOf(source: { readonly name: string; readonly tag: string; readonly digest?: string | undefined }): string {
  return source.digest ? `${source.name}@${source.digest}` : `${source.name}:${source.tag}`;
}
