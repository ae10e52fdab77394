// The shapes every check has, and the reporter that turns a problem at a field path into a located
// diagnostic. Document checks see one manifest; set checks see all of them at once. Both only ever
// see documents that passed the schema, so the types of manifest-v1.ts hold. Pure.

import { diagnostic, type Diagnostic, type ErrorCode, type Severity } from '../../errors.js';
import { formatPath, type FieldPath } from '../field-path.js';
import type { LoadedDocument } from '../load.js';
import { kindOf, type ManifestV1 } from '../manifest-v1.js';

/** What a diagnostic may add to its summary; `key` points at the field's key, not its value. */
export interface ReportExtra {
  readonly hint?: string | undefined;
  readonly detail?: string | undefined;
  readonly key?: boolean;
}

export type Report = (severity: Severity, code: ErrorCode, path: FieldPath, summary: string, extra?: ReportExtra) => void;

/** A rule about one manifest alone. */
export interface DocumentCheck {
  readonly name: string;
  readonly run: (m: ManifestV1, report: Report) => void;
}

/** A document that passed the schema, with its typed view. */
export interface CheckedDocument {
  readonly doc: LoadedDocument;
  readonly manifest: ManifestV1;
}

/** What a set check knows besides the valid documents. */
export interface SetContext {
  /** Containers whose manifest exists but has errors: those errors are the root cause, said once. */
  readonly invalidNames: ReadonlySet<string>;
}

/** A rule that needs every manifest of the set (names, references, shared host ports). */
export interface SetCheck {
  readonly name: string;
  readonly run: (docs: readonly CheckedDocument[], context: SetContext) => Diagnostic[];
}

/** Whose problem it is: the container's, or the network's for a `kind: Network` document. */
export function ownerOf(doc: LoadedDocument): { container: string } | { network: string } | Record<string, never> {
  if (!doc.name) return {};
  return kindOf(doc.value) === 'Network' ? { network: doc.name } : { container: doc.name };
}

export function reporter(doc: LoadedDocument, out: Diagnostic[]): Report {
  return (severity, code, path, summary, extra = {}) => {
    out.push(diagnostic(severity, code, summary, {
      field: formatPath(path),
      source: doc.locate(path, extra.key ?? false),
      ...ownerOf(doc),
      ...(extra.hint ? { hint: extra.hint } : {}),
      ...(extra.detail ? { detail: extra.detail } : {}),
    }));
  };
}
