// The whole front half of the data flow: a manifest source → validated, normalized specs, with
// every problem as a diagnostic. This is what `validate`, `plan`, `reconcile` and the agent call.
// Pure: the source is injected (src/host/manifest-source.ts reads real directories).

import { diagnostic, type Diagnostic } from '../errors.js';
import { runDocumentChecks, runSetChecks, type CheckedDocument } from './checks.js';
import { specHash } from './hash.js';
import { selectsHost, type HostFacts } from './host-selector.js';
import { DEFAULT_LIMITS, loadManifestText, type LoadedDocument, type LoadLimits } from './load.js';
import type { ManifestV1 } from './manifest-v1.js';
import { normalize } from './normalize.js';
import type { ContainerSpec, SpecOrigin } from './spec.js';
import type { SchemaValidator } from './validate.js';

export interface SourceFile {
  /** Absolute path. */
  readonly path: string;
  readonly size: number;
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
}

export interface ManifestSet {
  /** Valid containers meant for this host (all valid ones when no host is given). */
  readonly containers: readonly ManifestEntry[];
  /** Valid containers whose `spec.hosts` selects other hosts. */
  readonly elsewhere: readonly ManifestEntry[];
  /** Names whose manifest has errors: the last applied spec stays in force for them. */
  readonly invalidNames: readonly string[];
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
}

export async function loadManifestSet(source: ManifestSource, options: LoadOptions): Promise<ManifestSet> {
  const listing = await source.list();
  const diagnostics: Diagnostic[] = [...listing.diagnostics];
  const loaded: LoadedDocument[] = [];
  for (const file of listing.files) {
    const limits = options.limits ?? DEFAULT_LIMITS;
    let bytes: Uint8Array;
    if (file.size > limits.maxFileBytes) {
      // Refused before reading, so a huge file costs nothing.
      diagnostics.push(diagnostic('error', 'MANIFEST_TOO_LARGE', `file is ${file.size} bytes, over the limit of ${limits.maxFileBytes}`, {
        source: { file: file.path, line: 1, column: 1 }, hint: 'split it into several files (the limit is 1 MiB per file)',
      }));
      continue;
    }
    try {
      bytes = await source.read(file.path);
    } catch (err) {
      diagnostics.push(diagnostic('error', 'MANIFEST_READ_FAILED', `cannot read file: ${(err as Error)?.message ?? String(err)}`, { source: { file: file.path, line: 1, column: 1 } }));
      continue;
    }
    const result = loadManifestText(file.path, bytes, limits);
    diagnostics.push(...result.diagnostics);
    loaded.push(...result.docs);
  }

  const invalidNames = new Set<string>();
  const checked: CheckedDocument[] = [];
  for (const doc of loaded) {
    const schemaProblems = options.validator.validate(doc);
    if (schemaProblems.length > 0) {
      diagnostics.push(...schemaProblems);
      if (doc.name) invalidNames.add(doc.name);
      continue;
    }
    const c: CheckedDocument = { doc, manifest: doc.value as unknown as ManifestV1 };
    const problems = runDocumentChecks(c);
    diagnostics.push(...problems);
    if (problems.some((p) => p.severity === 'error')) invalidNames.add(c.manifest.metadata.name);
    else checked.push(c);
  }
  const setProblems = runSetChecks(checked);
  diagnostics.push(...setProblems);
  for (const p of setProblems) if (p.severity === 'error' && p.container) invalidNames.add(p.container);

  const containers: ManifestEntry[] = [];
  const elsewhere: ManifestEntry[] = [];
  for (const c of checked) {
    if (invalidNames.has(c.manifest.metadata.name)) continue;
    const spec = normalize(c.manifest, c.doc.file);
    const entry = { spec, hash: specHash(spec), origin: { file: c.doc.file, index: c.doc.index } };
    (options.host === undefined || selectsHost(spec.hosts, options.host) ? containers : elsewhere).push(entry);
  }
  // Any error in a file may hide or misname a container it defines (a half-typed name, a syntax
  // error before `metadata`), so the whole file is suspect, not just the names we could read.
  const brokenFiles = new Set(diagnostics.filter((d) => d.severity === 'error' && d.source).map((d) => d.source!.file));
  return {
    containers: containers.sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1)),
    elsewhere,
    invalidNames: [...invalidNames].sort(),
    brokenFiles: [...brokenFiles].sort(),
    files: listing.files.map((f) => f.path),
    missing: listing.missing,
    diagnostics: sortDiagnostics(diagnostics),
  };
}

export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => {
    const fa = a.source?.file ?? '';
    const fb = b.source?.file ?? '';
    if (fa !== fb) return fa < fb ? -1 : 1;
    return (a.source?.line ?? 0) - (b.source?.line ?? 0) || (a.source?.column ?? 0) - (b.source?.column ?? 0);
  });
}
