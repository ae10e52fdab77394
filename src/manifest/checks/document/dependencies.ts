// `dependsOn` as far as one manifest can tell: a container naming itself. Names that no manifest
// defines, and cycles through several containers, need the whole set (set.ts). Pure.

import type { DocumentCheck } from '../report.js';

export const selfDependency: DocumentCheck = {
  name: 'self-dependency',
  run: ({ metadata, spec }, report) => {
    (spec.dependsOn ?? []).forEach((dep, i) => {
      if (dep === metadata.name) report('error', 'MANIFEST_DEPENDENCY_CYCLE', ['spec', 'dependsOn', i], 'a container cannot depend on itself');
    });
  },
};
