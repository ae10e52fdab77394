// validate (rules half): what JSON Schema cannot say, as small named checks (runc's validator
// works the same way). Three kinds, one place each:
//   document/    errors about one manifest alone (cross-field rules, paths, ranges);
//   warnings.ts  settings that are allowed but weaken containment (never block);
//   set.ts       errors that need every manifest of the set (names, references, shared ports,
//                shared volumes).
// This file fixes the order they run in. Diagnostics are sorted by position afterwards, and the
// sort is stable: two found at one position keep this order, so the output never reshuffles.
// They run only on documents that passed the schema, so the types in manifest-v1.ts hold. Pure.

import type { Diagnostic } from '../../errors.js';
import { selfDependency } from './document/dependencies.js';
import { files } from './document/files.js';
import { namespacesAndNetwork, sysctls, userNamespace } from './document/namespaces.js';
import { canonicalPaths, devices, mounts, rootfsSource, seccompFile } from './document/paths.js';
import { capabilities, commandRequired, env, user } from './document/process.js';
import { cpusetAndIo, memory, storage, ulimits } from './document/resources.js';
import { reporter, type CheckedDocument, type DocumentCheck, type SetCheck, type SetContext } from './report.js';
import { dependencyCycles, duplicateNames, hostPortConflicts, references, volumeAccessConflicts } from './set.js';
import { DOCUMENT_WARNINGS } from './warnings.js';

export type { CheckedDocument, DocumentCheck, SetCheck, SetContext };

export const DOCUMENT_CHECKS: readonly DocumentCheck[] = [
  commandRequired,
  rootfsSource,
  canonicalPaths,
  mounts,
  devices,
  storage,
  seccompFile,
  env,
  files,
  user,
  memory,
  cpusetAndIo,
  ulimits,
  namespacesAndNetwork,
  userNamespace,
  capabilities,
  sysctls,
  selfDependency,
];

export const SET_CHECKS: readonly SetCheck[] = [duplicateNames, references, dependencyCycles, hostPortConflicts, volumeAccessConflicts];

/** The document checks, then the containment warnings, as one list for the document. */
export function runDocumentChecks(checked: CheckedDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporter(checked.doc, out);
  for (const check of [...DOCUMENT_CHECKS, ...DOCUMENT_WARNINGS]) check.run(checked.manifest, report);
  return out;
}

export function runSetChecks(docs: readonly CheckedDocument[], context: SetContext = { invalidNames: new Set() }): Diagnostic[] {
  return SET_CHECKS.flatMap((c) => c.run(docs, context));
}
