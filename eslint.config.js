// Lint: typescript-eslint's recommended rules on the TypeScript sources, plus the layer rules below.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The pure core: no Node, no host. tsconfig.core.json type-checks it without Node types: keep its
// `include` and this list the same.
const CORE = ['src/manifest', 'src/export', 'src/reconciler/plan', 'src/errors.ts', 'src/logger.ts', 'src/bounded-memo.ts', 'src/flat-string.ts', 'src/state/record.ts'];

// Every directory of src/drivers is one driver; a new one gets its rule without editing this file.
const DRIVERS = readdirSync(join(import.meta.dirname, 'src/drivers'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => `src/drivers/${entry.name}`);

// The layers: which files may not import what. A path is a file, or a directory and everything
// under it. `except` lists paths inside `mayNotImport` that stay allowed; `node: false` also forbids
// Node's built-in modules (`node:fs`, `fs`, ...). `node scripts/check-layers.mjs` proves the rules fire.
const LAYERS = [
  {
    files: CORE,
    node: false,
    mayNotImport: ['src/drivers', 'src/cli', 'src/agent', 'src/inputs', 'src/sys', 'src/watch'],
    why: 'The pure core (manifest, plan, errors, logger, state record) reaches the host only through interfaces it declares.',
  },
  {
    files: ['src/reconciler'],
    mayNotImport: ['src/drivers', 'src/cli', 'src/agent'],
    why: 'The reconciler reaches drivers only through src/reconciler/ports.ts; the composition root wires them.',
  },
  ...DRIVERS.map((driver) => ({
    files: [driver],
    mayNotImport: ['src/cli', 'src/agent', 'src/reconciler', 'src/drivers'],
    except: ['src/reconciler/ports.ts', driver],
    why: 'A driver implements a port (src/reconciler/ports.ts) and knows no CLI, agent, reconciler or other driver.',
  })),
  {
    files: ['src/agent'],
    mayNotImport: ['src/cli', 'src/drivers'],
    why: 'The agent receives its drivers and logger from the composition root.',
  },
  {
    files: ['src/watch', 'src/state'],
    mayNotImport: ['src/cli', 'src/agent', 'src/drivers'],
    why: 'Watching and state storage sit below the agent, the CLI and the drivers.',
  },
];

// import-x/no-restricted-paths takes one `from` per zone when exceptions are plain paths (each
// exception must lie inside its zone's `from`), so each row becomes one zone per forbidden path.
const here = (path) => join(import.meta.dirname, path);
const inside = (path, dir) => path === dir || path.startsWith(`${dir}/`);
const zones = LAYERS.flatMap(({ files, mayNotImport, except = [], why }) =>
  mayNotImport.map((from) => ({
    target: files.map(here),
    from: here(from),
    except: except.filter((path) => inside(path, from)).map((path) => relative(from, path)),
    message: why,
  })),
);
const asGlob = (path) => (path.endsWith('.ts') ? path : `${path}/**`);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.scratch/', 'test/vm/out/', 'src/drivers/namespaces/shim/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The layer rules. Imports are written `./x.js` for `./x.ts` (NodeNext): the resolver maps them.
    // An import it cannot resolve would escape the check, so no-unresolved makes that an error too.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-unresolved': 'error',
    },
  },
  ...LAYERS.filter((layer) => layer.node === false).map((layer) => ({
    files: layer.files.map(asGlob),
    rules: { 'import-x/no-nodejs-modules': 'error' },
  })),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
