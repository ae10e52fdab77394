// The shape of a document check (checks.ts, warnings.ts): a named function that reports problems
// at field paths, and the reporter that turns them into located diagnostics. Pure.

import { diagnostic, type Diagnostic, type ErrorCode, type Severity } from '../errors.js';
import { formatPath, type FieldPath } from './field-path.js';
import type { LoadedDocument } from './load.js';
import type { ManifestV1 } from './manifest-v1.js';

export type Report = (severity: Severity, code: ErrorCode, path: FieldPath, summary: string, extra?: { hint?: string; detail?: string; key?: boolean }) => void;

export interface DocumentCheck {
  readonly name: string;
  readonly run: (m: ManifestV1, report: Report) => void;
}

export function reporter(doc: LoadedDocument, out: Diagnostic[]): Report {
  return (severity, code, path, summary, extra = {}) => {
    out.push(diagnostic(severity, code, summary, {
      field: formatPath(path),
      source: doc.locate(path, extra.key ?? false),
      ...(doc.name ? { container: doc.name } : {}),
      ...(extra.hint ? { hint: extra.hint } : {}),
      ...(extra.detail ? { detail: extra.detail } : {}),
    }));
  };
}
