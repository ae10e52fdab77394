// The change hash: sha256 over a canonical, versioned serialization of a ContainerSpec plus the
// digests of what it references (image config, seccomp profile). Canonical means: keys sorted,
// no whitespace, numbers in JSON form — so key order, YAML formatting, `256Mi` vs `268435456` and
// env map vs list cannot change it, while every semantic change does. Pure (@noble/hashes is a
// platform-independent sha256).
//
// Compatibility rule: HASH_FORMAT names this serialization. A future corral that adds a field to
// ContainerSpec must leave it out of the serialization while it holds its default, so upgrading
// corral does not change hashes and does not restart containers.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { DEFAULT_DEVICES } from './defaults.js';
import type { ContainerSpec, MountSpec } from './spec.js';
import { flat } from '../flat-string.js';

export const HASH_FORMAT = 'corral.spec.v1';

export function canonicalJson(value: unknown): string {
  // JSON.stringify does the escaping and number formatting natively, over a copy whose keys are
  // in order (a replacer doing the same was a quarter slower: it is called back for every value).
  return JSON.stringify(canonicalCopy(value ?? null));
}

/** A key JavaScript orders by number, before the others, whatever the insertion order. */
const isIndexKey = (key: string): boolean => /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4294967295;

/** What JSON has no form for: an object leaves it out, an array holds null in its place. */
const unrepresentable = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * The JSON value of `value` (what JSON.parse of its JSON.stringify gives) with every object's keys
 * inserted in canonical order: JSON.stringify of it is canonicalJson of the value, and what is
 * written that way is read back (JSON.parse keeps the order) in a form `inCanonicalOrder`
 * recognizes.
 */
export function canonicalCopy(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
  if (value === null || typeof value !== 'object') return value;
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return canonicalCopy((json as () => unknown).call(value));
  if (Array.isArray(value)) {
    const items = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = canonicalCopy(value[i]);
      items[i] = unrepresentable(item) ? null : item;
    }
    return items;
  }
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = canonicalCopy((value as Record<string, unknown>)[key]);
    if (!unrepresentable(item)) sorted[key] = item;
  }
  return sorted;
}

/**
 * Whether JSON.stringify of a JSON.parse result is already its canonicalJson: every object's
 * keys in canonical order (index-like keys, which JavaScript puts first by number in both, aside).
 * A walk that compares neighbours, several times cheaper than canonicalJson's copy.
 */
export function inCanonicalOrder(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(inCanonicalOrder);
  let previous: string | null = null;
  // for…in, not Object.keys: the same order for a parsed object (no inherited enumerable keys),
  // without an array per object (a fresh `plan` checks 1,000 records).
  for (const key in value) {
    if (!isIndexKey(key)) {
      if (previous !== null && !(previous < key)) return false;
      previous = key;
    }
    if (!inCanonicalOrder((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/**
 * Whether canonicalJson(a) === canonicalJson(b), without building either: a walk that stops at
 * the first difference. For plain JSON-like values (no toJSON, functions or symbols; undefined is
 * left out of an object and stands for null in an array, as JSON.stringify has it).
 */
export function sameJsonValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJsonValue(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const key in x) {
    if (!Object.hasOwn(x, key) || x[key] === undefined) continue;
    defined++;
    if (!Object.hasOwn(y, key) || !sameJsonValue(x[key], y[key])) return false;
  }
  for (const key in y) if (Object.hasOwn(y, key) && y[key] !== undefined) defined--;
  return defined === 0;
}

let sha256Implementation = (text: string): string => bytesToHex(sha256(utf8ToBytes(text)));

/**
 * Replaces the pure sha256 with the host's (src/sys/native-sha256.ts, installed by the CLI's
 * main): the same digests, several times faster, and no JIT warm-up in a short command.
 */
export function useSha256(implementation: (text: string) => string): void {
  sha256Implementation = implementation;
}

export function sha256Hex(text: string): string {
  return sha256Implementation(text);
}

/**
 * @param references digests of referenced content, by role: `{image: 'sha256:…', seccomp: 'sha256:…'}`
 */
export function specHash(spec: ContainerSpec, references: Readonly<Record<string, string>> = {}): string {
  return flat(`sha256:${sha256Hex(canonicalJson({ format: HASH_FORMAT, spec: hashedForm(spec), references }))}`);
}

/**
 * Fields added to ContainerSpec after HASH_FORMAT was fixed, each with the value that leaves it
 * out of the serialization (the compatibility rule above). Records written before a field existed
 * lack it; `withLaterDefaults` fills it in so that they compare equal to a fresh spec.
 */
const LATER_DEFAULTS: { readonly [K in 'devices' | 'storage' | 'init' | 'files']: (spec: ContainerSpec) => ContainerSpec[K] } = {
  devices: (spec) => ({
    allowAll: spec.security.privileged,
    allow: spec.security.privileged ? [] : DEFAULT_DEVICES.map((d) => d.rule),
    host: [],
  }),
  storage: () => ({ sizeBytes: null }),
  init: () => false,
  files: () => [],
};
const LATER_FIELDS = Object.keys(LATER_DEFAULTS) as ReadonlyArray<keyof typeof LATER_DEFAULTS>;

/**
 * The same for fields added to a mount: `owner` of a tmpfs or a volume, `mode` of a volume and `idmap` of a bind,
 * left out while null (their default), filled in as null when an older record lacks them.
 */
const LATER_MOUNT_FIELDS: { readonly [T in MountSpec['type']]: readonly string[] } = { bind: ['idmap'], tmpfs: ['owner'], volume: ['owner', 'mode'] };

function hashedMount(mount: MountSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { ...mount };
  for (const key of LATER_MOUNT_FIELDS[mount.type]) if (out[key] === null || out[key] === undefined) delete out[key];
  return out;
}

function mountWithLaterDefaults(mount: MountSpec): MountSpec {
  // Typed as the current spec, an older mount may still lack them at run time.
  if (mount.type === 'tmpfs') {
    const old: Partial<Pick<typeof mount, 'owner'>> = mount;
    return { ...mount, owner: old.owner ?? null };
  }
  if (mount.type === 'volume') {
    const old: Partial<Pick<typeof mount, 'owner' | 'mode'>> = mount;
    return { ...mount, owner: old.owner ?? null, mode: old.mode ?? null };
  }
  const old: Partial<Pick<typeof mount, 'idmap'>> = mount;
  return { ...mount, idmap: old.idmap ?? null };
}

/** The same for `process.userLookup` (users by name): left out while null. */
function hashedProcess(process: ContainerSpec['process']): Record<string, unknown> {
  const out: Record<string, unknown> = { ...process };
  if (out['userLookup'] === null || out['userLookup'] === undefined) delete out['userLookup'];
  return out;
}

function hashedForm(spec: ContainerSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { ...spec, process: hashedProcess(spec.process), mounts: spec.mounts.map(hashedMount) };
  for (const key of LATER_FIELDS) {
    if (out[key] === undefined || sameJsonValue(out[key], LATER_DEFAULTS[key](spec))) delete out[key];
  }
  return out;
}

/** A spec read from an older record, with every later field at its default. */
export function withLaterDefaults(spec: ContainerSpec): ContainerSpec {
  // Typed as the current spec, an older one may still lack the later fields at run time.
  const old: Partial<Pick<ContainerSpec, 'devices' | 'storage' | 'init' | 'files'>> = spec;
  const oldProcess: Partial<Pick<ContainerSpec['process'], 'userLookup'>> = spec.process;
  return {
    ...spec,
    devices: old.devices ?? LATER_DEFAULTS.devices(spec),
    storage: old.storage ?? LATER_DEFAULTS.storage(spec),
    init: old.init ?? false,
    files: old.files ?? [],
    process: { ...spec.process, userLookup: oldProcess.userLookup ?? null },
    mounts: spec.mounts.map(mountWithLaterDefaults),
  };
}
