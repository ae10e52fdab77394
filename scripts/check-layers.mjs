// Proves that the layer rules of eslint.config.js still fire: lints small snippets as if they were
// files of each layer (nothing is written to disk) and fails when an import that crosses a layer
// passes, or an allowed one is refused. Usage: node scripts/check-layers.mjs
import { ESLint } from 'eslint';

const LAYER_RULES = new Set(['import-x/no-restricted-paths', 'import-x/no-nodejs-modules', 'import-x/no-unresolved']);
const PATHS = 'import-x/no-restricted-paths';

// [file the snippet pretends to be, the snippet, the rule that must refuse it or null: allowed].
// The imported files must exist: a missing one is refused by no-unresolved instead.
const CASES = [
  ['src/manifest/x.ts', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;", 'import-x/no-nodejs-modules'],
  ['src/manifest/x.ts', "import { join } from 'path';\nexport const f = join;", 'import-x/no-nodejs-modules'],
  ['src/reconciler/plan/x.ts', "import { libcFunction } from '../../sys/libc.js';\nexport const f = libcFunction;", PATHS],
  ['src/errors.ts', "import { ManifestWatcher } from './watch/watcher.js';\nexport const f = ManifestWatcher;", PATHS],
  ['src/manifest/x.ts', "import { directorySource } from '../inputs/manifest-source.js';\nexport const f = directorySource;", PATHS],
  ['src/reconciler/x.ts', "import { ensureMounted } from '../drivers/overlay/index.js';\nexport const f = ensureMounted;", PATHS],
  ['src/reconciler/x.ts', "import type { RootfsPort } from './ports.js';\nexport type P = RootfsPort;", null],
  ['src/drivers/cgroups/x.ts', "import { ensureMounted } from '../overlay/index.js';\nexport const f = ensureMounted;", PATHS],
  ['src/drivers/cgroups/x.ts', "import type { Plan } from '../../reconciler/plan/types.js';\nexport type P = Plan;", PATHS],
  ['src/drivers/cgroups/x.ts', "import type { RootfsPort } from '../../reconciler/ports.js';\nimport { readKnob } from './knob.js';\nexport type P = RootfsPort;\nexport const f = readKnob;", null],
  ['src/drivers/overlay/x.ts', "export const m = await import('../../cli/main.js');", PATHS],
  ['src/agent/x.ts', "import { createLogger } from '../cli/logging.js';\nexport const f = createLogger;", PATHS],
  ['src/state/x.ts', "import { ensureMounted } from '../drivers/overlay/index.js';\nexport const f = ensureMounted;", PATHS],
  ['src/watch/x.ts', "import { nothing } from './no-such-file.js';\nexport const f = nothing;", 'import-x/no-unresolved'],
];

const eslint = new ESLint();
let failed = 0;
for (const [filePath, code, rule] of CASES) {
  const [result] = await eslint.lintText(code, { filePath });
  const hits = result.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId));
  const ok = rule === null ? hits.length === 0 : hits.length > 0 && hits.every((m) => m.ruleId === rule);
  if (!ok) failed++;
  const what = code.split('\n')[0];
  console.log(`${ok ? 'ok ' : 'BAD'} ${filePath}: ${what} → ${hits.length > 0 ? hits.map((m) => m.ruleId).join(', ') : 'allowed'}`);
}
console.log(`${CASES.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
