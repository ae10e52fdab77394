// The whole front half of the data flow: a manifest source → validated, normalized specs, with
// every problem as a diagnostic. This is what `validate`, `plan`, `reconcile` and the agent call.
// Pure: the source is injected (src/inputs/manifest-source.ts reads real directories).

import { diagnostic, type Diagnostic } from '../errors.js';
import { runDocumentChecks, runSetChecks, type CheckedDocument } from './checks/index.js';
import { runNetworkDocumentChecks, runNetworkSetChecks } from './checks/networks.js';
import { parsePath } from './field-path.js';
import { specHash } from './hash.js';
import { selectsHost, type HostFacts } from './host-selector.js';
import { DEFAULT_LIMITS, loadManifestText, type LoadedDocument, type LoadLimits } from './load.js';
import { kindOf, type AnyManifestV1 } from './manifest-v1.js';
import { networkHash, normalizeNetwork, type NetworkDefinition } from './network.js';
import { networkNamespace, normalize } from './normalize.js';
import { fromPersisted, persistedKey, toPersisted, type FreshDocument, type PersistedFiles } from './persisted-files.js';
import { poolSpec, withSharedParts } from './spec-pool.js';
import type { ContainerSpec, SpecOrigin } from './spec.js';
import type { SchemaValidator } from './validate.js';

export interface SourceFile {
  /** Absolute path. */
  readonly path: string;
  readonly size: number;
  /** Changes whenever the file may have changed (mtime, size, inode); enables ManifestCache. */
  readonly stamp?: string;
}

export interface SourceListing {
  readonly files: readonly SourceFile[];
  /** The directory itself is missing: callers must not read this as "no containers wanted". */
  readonly missing: boolean;
  readonly diagnostics: readonly Diagnostic[];
}

export interface ManifestSource {
  list(): Promise<SourceListing>;
  read(path: string): Promise<Uint8Array>;
}

export interface ManifestEntry {
  readonly spec: ContainerSpec;
  readonly hash: string;
  readonly origin: SpecOrigin;
  /** The manifest leaves `namespaces.user` out: the host's default applies (decided by the plan). */
  readonly userNamespaceByDefault: boolean;
}

export interface NetworkEntry {
  readonly definition: NetworkDefinition;
  readonly hash: string;
  readonly origin: SpecOrigin;
}

export interface ManifestSet {
  /** Valid containers meant for this host (all valid ones when no host is given). */
  readonly containers: readonly ManifestEntry[];
  /** Valid containers whose `spec.hosts` selects other hosts. */
  readonly elsewhere: readonly ManifestEntry[];
  /** Names whose manifest has errors: the last applied spec stays in force for them. */
  readonly invalidNames: readonly string[];
  /** Valid networks (`kind: Network`), by name. Networks apply on every host. */
  readonly networks: readonly NetworkEntry[];
  /** Networks whose manifest has errors: the last applied definition stays in force for them. */
  readonly invalidNetworks: readonly string[];
  /** Files with any error: containers they defined before keep their last applied spec. */
  readonly brokenFiles: readonly string[];
  readonly files: readonly string[];
  readonly missing: boolean;
  readonly diagnostics: readonly Diagnostic[];
}

export interface LoadOptions {
  readonly validator: SchemaValidator;
  readonly host?: HostFacts;
  readonly limits?: LoadLimits;
  /** Reuses the work done for files whose stamp did not change (the agent keeps one). */
  readonly cache?: ManifestCache;
  /** Reuses the work of an earlier process for files whose bytes did not change (`plan`, `reconcile`). */
  readonly persisted?: PersistedFiles;
  /**
   * What the wired drivers implement (src/compose.ts `supportChecks`): fields they do not are
   * refused here, located in the file, so `validate` and `plan` say so before anything runs.
   */
  readonly supports?: (spec: ContainerSpec) => Diagnostic[];
}

/** A driver's diagnostic about a dotted spec field, placed where that field is in its document. */
function locateField(doc: LoadedDocument, d: Diagnostic): Diagnostic {
  const path = d.field ? parsePath(d.field) : [];
  return { ...d, container: d.container ?? doc.name ?? undefined, source: doc.locate(path, false) };
}

type DocumentWork = FreshDocument;

interface FileWork {
  readonly stamp: string;
  readonly diagnostics: Diagnostic[];
  readonly docs: readonly DocumentWork[];
}

/**
 * Per-file results of load, validate, document checks, normalize and hash: all pure functions of
 * the file's bytes and path, so an unchanged file (same stamp) needs none of them again. Checks
 * across files still run every time.
 */
export class ManifestCache {
  readonly files = new Map<string, FileWork>();
  /**
   * The last set and what it was made from. The set checks, host selection and sorting across
   * 500 unchanged files were an eighth of what an idle agent's resync allocated; the same listing
   * (every path, size and stamp) for the same host gives the same set.
   */
  last: { readonly key: string; readonly set: ManifestSet } | null = null;
}

/** What a set is made from, besides the files' bytes (their stamps stand for them); null without stamps. */
function listingKey(listing: SourceListing, options: LoadOptions): string | null {
  if (listing.files.some((f) => f.stamp === undefined)) return null;
  return JSON.stringify([listing.missing, listing.diagnostics, options.host ?? null, options.limits ?? null, listing.files.map((f) => [f.path, f.size, f.stamp])]);
}

export async function loadManifestSet(source: ManifestSource, options: LoadOptions): Promise<ManifestSet> {
  const listing = await source.list();
  const key = options.cache ? listingKey(listing, options) : null;
  if (key !== null && options.cache!.last?.key === key) return options.cache!.last.set;
  const set = await buildSet(source, listing, options);
  if (key !== null) options.cache!.last = { key, set };
  return set;
}

async function buildSet(source: ManifestSource, listing: SourceListing, options: LoadOptions): Promise<ManifestSet> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const diagnostics: Diagnostic[] = [...listing.diagnostics];
  const work: FileWork[] = [];
  const seen = new Set<string>();
  for (const file of listing.files) {
    seen.add(file.path);
    const cached = file.stamp !== undefined ? options.cache?.files.get(file.path) : undefined;
    if (cached && cached.stamp === file.stamp) {
      work.push(cached);
      continue;
    }
    const done = await loadFile(source, file, limits, options.validator, options.persisted);
    if (file.stamp !== undefined) options.cache?.files.set(file.path, done);
    work.push(done);
  }
  for (const path of options.cache?.files.keys() ?? []) if (!seen.has(path)) options.cache!.files.delete(path);

  const invalidNames = new Set<string>();
  const invalidNetworks = new Set<string>();
  const checked: CheckedDocument[] = [];
  const byDoc = new Map<LoadedDocument, { spec: ContainerSpec; hash: string }>();
  const networkDocs: Array<Extract<DocumentWork, { kind: 'Network' }>> = [];
  for (const file of work) {
    diagnostics.push(...file.diagnostics);
    for (const d of file.docs) {
      diagnostics.push(...d.problems);
      if (d.kind === null) {
        if (d.doc.name) (kindOf(d.doc.value) === 'Network' ? invalidNetworks : invalidNames).add(d.doc.name);
      } else if (d.kind === 'Network') {
        networkDocs.push(d);
      } else {
        checked.push(d.checked);
        byDoc.set(d.doc, { spec: d.spec, hash: d.hash });
      }
    }
  }
  const setProblems = [...runSetChecks(checked, { invalidNames }), ...runNetworkSetChecks(networkDocs.map((n) => n.checked), checked, new Set(invalidNetworks))];
  diagnostics.push(...setProblems);
  for (const p of setProblems) {
    if (p.severity !== 'error') continue;
    if (p.network) invalidNetworks.add(p.network);
    else if (p.container) invalidNames.add(p.container);
  }
  holdDependents(checked, invalidNames, diagnostics);
  if (options.supports) {
    for (const c of checked) {
      const unsupported = options.supports(byDoc.get(c.doc)!.spec).map((d) => locateField(c.doc, d));
      diagnostics.push(...unsupported);
      if (unsupported.some((d) => d.severity === 'error')) invalidNames.add(c.manifest.metadata.name);
    }
  }

  const containers: ManifestEntry[] = [];
  const elsewhere: ManifestEntry[] = [];
  for (const c of checked) {
    if (invalidNames.has(c.manifest.metadata.name)) continue;
    const { spec, hash } = byDoc.get(c.doc)!;
    const entry = { spec, hash, origin: { file: c.doc.file, index: c.doc.index }, userNamespaceByDefault: c.manifest.spec.namespaces?.user === undefined };
    (options.host === undefined || selectsHost(spec.hosts, options.host) ? containers : elsewhere).push(entry);
  }
  // Any error in a file may hide or misname a container it defines (a half-typed name, a syntax
  // error before `metadata`), so the whole file is suspect, not just the names we could read.
  const brokenFiles = new Set(diagnostics.filter((d) => d.severity === 'error' && d.source).map((d) => d.source!.file));
  const networks = networkDocs
    .filter((n) => !invalidNetworks.has(n.network.name))
    .map((n) => ({ definition: n.network, hash: n.hash, origin: { file: n.doc.file, index: n.doc.index } }))
    .sort((a, b) => (a.definition.name < b.definition.name ? -1 : 1));
  return {
    containers: containers.sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1)),
    elsewhere,
    invalidNames: [...invalidNames].sort(),
    networks,
    invalidNetworks: [...invalidNetworks].sort(),
    brokenFiles: [...brokenFiles].sort(),
    files: listing.files.map((f) => f.path),
    missing: listing.missing,
    diagnostics: sortDiagnostics(diagnostics),
  };
}

/** Everything that depends on one file alone: read, parse, validate, check, normalize, hash. */
async function loadFile(source: ManifestSource, file: SourceFile, limits: LoadLimits, validator: SchemaValidator, persisted?: PersistedFiles): Promise<FileWork> {
  const stamp = file.stamp ?? '';
  if (file.size > limits.maxFileBytes) {
    // Refused before reading, so a huge file costs nothing.
    return {
      stamp,
      docs: [],
      diagnostics: [diagnostic('error', 'MANIFEST_TOO_LARGE', `file is ${file.size} bytes, over the limit of ${limits.maxFileBytes}`, {
        source: { file: file.path, line: 1, column: 1 }, hint: 'split it into several files (the limit is 1 MiB per file)',
      })],
    };
  }
  let bytes: Uint8Array;
  try {
    bytes = await source.read(file.path);
  } catch (err) {
    return { stamp, docs: [], diagnostics: [diagnostic('error', 'MANIFEST_READ_FAILED', `cannot read file: ${(err as Error)?.message ?? String(err)}`, { source: { file: file.path, line: 1, column: 1 } })] };
  }
  const key = persisted ? keyOf(persisted.version, file.path, bytes) : null;
  const stored = key === null ? undefined : persisted!.get(key);
  const reused = stored ? fromPersisted(file.path, stored, () => loadManifestText(file.path, bytes, limits).docs) : null;
  if (reused) return { stamp, diagnostics: stored!.diagnostics, docs: reused };
  const result = loadManifestText(file.path, bytes, limits);
  const docs = result.docs.map((doc) => checkDocument(doc, validator.validate(doc)));
  const storable = key === null ? null : toPersisted(result.diagnostics, docs);
  if (storable) persisted!.set(key!, storable);
  return { stamp, diagnostics: result.diagnostics, docs };
}

/** null for bytes that are not UTF-8: such a file is an error, parsed (and reported) every time. */
function keyOf(version: string, path: string, bytes: Uint8Array): string | null {
  try {
    return persistedKey(version, path, new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    return null;
  }
}

function checkDocument(doc: LoadedDocument, validated: { manifest: AnyManifestV1 | null; problems: readonly Diagnostic[] }): DocumentWork {
  const manifest = validated.manifest;
  if (manifest === null) return { doc, problems: [...validated.problems], kind: null };
  if (manifest.kind === 'Network') {
    const checkedNetwork = { doc, manifest };
    const problems = runNetworkDocumentChecks(checkedNetwork);
    if (problems.some((p) => p.severity === 'error')) return { doc, problems, kind: null };
    const network = normalizeNetwork(manifest);
    return { doc, problems, kind: 'Network', checked: checkedNetwork, network, hash: networkHash(network) };
  }
  const checkedDoc = { doc, manifest };
  const problems = runDocumentChecks(checkedDoc);
  if (problems.some((p) => p.severity === 'error')) return { doc, problems, kind: null };
  const spec = withSharedParts(normalize(manifest, doc.file));
  const hash = specHash(spec);
  return { doc, problems, kind: 'Container', checked: checkedDoc, spec: poolSpec(hash, spec), hash };
}

export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => {
    const fa = a.source?.file ?? '';
    const fb = b.source?.file ?? '';
    if (fa !== fb) return fa < fb ? -1 : 1;
    return (a.source?.line ?? 0) - (b.source?.line ?? 0) || (a.source?.column ?? 0) - (b.source?.column ?? 0);
  });
}

/**
 * A container that depends on one whose manifest has errors (dependsOn, or its network joined)
 * is held: it keeps its last applied spec, and a new one is not created, as its dependency is not.
 * One warning says why; the error is the dependency's own, reported once.
 */
function holdDependents(checked: readonly CheckedDocument[], invalidNames: Set<string>, diagnostics: Diagnostic[]): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const c of checked) {
      const { spec, metadata } = c.manifest;
      if (invalidNames.has(metadata.name)) continue;
      const netns = networkNamespace(spec.namespaces?.network, spec.network?.mode);
      const needs = [...(spec.dependsOn ?? []), ...(netns.kind === 'container' ? [netns.container] : [])];
      const broken = needs.find((n) => invalidNames.has(n));
      if (broken === undefined) continue;
      invalidNames.add(metadata.name);
      diagnostics.push(diagnostic('warning', 'MANIFEST_UNKNOWN_REFERENCE', `held: it depends on \`${broken}\`, whose manifest has errors; it keeps its last applied spec until those are fixed`, {
        container: metadata.name, source: c.doc.locate(['spec']),
      }));
      changed = true;
    }
  }
}
