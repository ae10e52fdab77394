// Per-file results kept between processes: a fresh `corral plan` over 1,000 unchanged manifests
// spent most of its second in YAML parsing and schema checks whose answers were the same as the
// last run's. The results are a pure function of the file's path and bytes and of corral's code
// and schema, so the key is a digest of exactly those; the store (src/state/manifest-cache.ts)
// only keeps and returns entries. Only clean files are kept: a file with an error is parsed
// again each time, so its diagnostics always come from the parser itself.

import type { Diagnostic } from '../errors.js';
import { sha256Hex } from './hash.js';
import type { LoadedDocument } from './load.js';
import type { AnyManifestV1, ManifestV1, NetworkManifestV1 } from './manifest-v1.js';
import type { NetworkDefinition } from './network.js';
import { poolSpec } from './spec-pool.js';
import type { ContainerSpec } from './spec.js';

/** Bump when the shape of a stored entry changes. */
const ENTRY_FORMAT = 1;

export interface PersistedFiles {
  /**
   * What else the results depend on: corral's build and its schema (src/inputs/build-id.ts).
   * Entries made under another version are never returned.
   */
  readonly version: string;
  get(key: string): PersistedFile | undefined;
  set(key: string, file: PersistedFile): void;
}

export interface PersistedFile {
  readonly diagnostics: Diagnostic[];
  readonly docs: PersistedDocument[];
}

export type PersistedDocument =
  | { readonly index: number; readonly name: string | undefined; readonly value: Record<string, unknown>; readonly problems: Diagnostic[]; readonly kind: 'Container'; readonly spec: ContainerSpec; readonly hash: string }
  | { readonly index: number; readonly name: string | undefined; readonly value: Record<string, unknown>; readonly problems: Diagnostic[]; readonly kind: 'Network'; readonly network: NetworkDefinition; readonly hash: string };

/** The results a file's work produced, in the form manifest-set.ts uses. */
export type FreshDocument =
  | { readonly doc: LoadedDocument; readonly problems: Diagnostic[]; readonly kind: null }
  | { readonly doc: LoadedDocument; readonly problems: Diagnostic[]; readonly kind: 'Container'; readonly checked: { doc: LoadedDocument; manifest: ManifestV1 }; readonly spec: ContainerSpec; readonly hash: string }
  | { readonly doc: LoadedDocument; readonly problems: Diagnostic[]; readonly kind: 'Network'; readonly checked: { doc: LoadedDocument; manifest: NetworkManifestV1 }; readonly network: NetworkDefinition; readonly hash: string };

export function persistedKey(version: string, path: string, text: string): string {
  return sha256Hex(`corral.manifest-cache.${ENTRY_FORMAT}\n${version}\n${path}\n${text}`);
}

/** A file's results in storable form, or null when it has any error (those are never stored). */
export function toPersisted(diagnostics: readonly Diagnostic[], docs: readonly FreshDocument[]): PersistedFile | null {
  if (diagnostics.some((d) => d.severity === 'error')) return null;
  const out: PersistedDocument[] = [];
  for (const d of docs) {
    if (d.kind === null || d.problems.some((p) => p.severity === 'error')) return null;
    const base = { index: d.doc.index, name: d.doc.name, value: d.doc.value, problems: d.problems };
    out.push(d.kind === 'Container' ? { ...base, kind: 'Container', spec: d.spec, hash: d.hash } : { ...base, kind: 'Network', network: d.network, hash: d.hash });
  }
  return { diagnostics: [...diagnostics], docs: out };
}

/**
 * The stored results as fresh ones, or null when an entry does not hold what this code stores (a
 * hand-edited cache): the file is then parsed as if nothing were stored. A document's source
 * positions are found again only if a check across files asks for one (a duplicate name, a
 * missing dependency), by parsing the file then: `reparse` gives that file's documents.
 */
export function fromPersisted(file: string, stored: PersistedFile, reparse: () => readonly LoadedDocument[]): FreshDocument[] | null {
  let parsed: readonly LoadedDocument[] | undefined;
  const out: FreshDocument[] = [];
  for (const d of stored.docs) {
    const manifest: unknown = d.value;
    if (!isStoredManifest(manifest) || manifest.kind !== d.kind) return null;
    const doc: LoadedDocument = {
      file,
      index: d.index,
      value: d.value,
      name: d.name,
      locate(path, key) {
        parsed ??= reparse();
        const again = parsed[d.index];
        return again ? again.locate(path, key) : { file, line: 1, column: 1 };
      },
    };
    if (d.kind === 'Container' && manifest.kind === 'Container') out.push({ doc, problems: d.problems, kind: 'Container', checked: { doc, manifest }, spec: poolSpec(d.hash, d.spec), hash: d.hash });
    else if (d.kind === 'Network' && manifest.kind === 'Network') out.push({ doc, problems: d.problems, kind: 'Network', checked: { doc, manifest }, network: d.network, hash: d.hash });
  }
  return out;
}

/**
 * Only documents that passed the schema are stored (toPersisted): what is left to tell is which
 * kind, and that the entry is the shape this code writes.
 */
function isStoredManifest(value: unknown): value is AnyManifestV1 {
  if (typeof value !== 'object' || value === null) return false;
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  return apiVersion === 'corral/v1' && (kind === 'Container' || kind === 'Network');
}
