// Builds dist/corral.blob and dist/corral-validate.blob, the startup snapshots bin/corral starts
// from (src/cli/snapshot-entry.ts says why). Run by `npm run build` after tsc and gen-validator:
//   1. esbuild bundles dist/cli/snapshot-entry.js and everything it can reach into one CommonJS
//      file (a snapshot is built from a single script); for corral-validate.blob, every other
//      command's module is left out (an empty stand-in) and src/cli/snapshot-commands.ts says so;
//   2. `node --build-snapshot` runs that file and writes the heap to the blob. A V8 snapshot
//      starts in time that grows with its size (~3 ms per MB here: Node's own is 4.1 MB, the
//      whole CLI's 7.7, validate's alone 6.6), so `validate`, which should answer about as fast
//      as Node starts, has one of its own;
//   3. dist/build-id: a digest of the compiled code, so that caches of corral's own results
//      (src/inputs/build-id.ts) are never reused by another build;
//   4. dist/version, what `corral --version` prints, which bin/corral answers without Node;
//   5. dist/corral.blob.root records the checkout it was built in: every path the bundle holds
//      (the shim, the schema, package.json) is absolute, so bin/corral uses the blob only there.
// Without the blob (a failed build, another Node binary) bin/corral loads dist/ as plain modules.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const blob = join(dist, 'corral.blob');

/** The snapshots: all commands but `agent`, and `validate` alone (bin/corral picks by command). */
const SNAPSHOTS = [
  { blob, bundle: join(dist, 'corral-snapshot.cjs'), commands: null },
  { blob: join(dist, 'corral-validate.blob'), bundle: join(dist, 'corral-validate-snapshot.cjs'), commands: ['validate'] },
];

/**
 * Source rewrites the bundle needs, each checked so that a refactor cannot drop one silently:
 * every `import.meta.url` becomes the module's own file URL, and the one dynamic import of a
 * computed path (the prebuilt schema check) becomes a literal esbuild can follow. `commands`:
 * those the snapshot holds (null: all); the others' modules, imported by dist/cli/main.js, are
 * left out.
 */
const rewrites = (commands) => ({
  name: 'corral-snapshot',
  setup(b) {
    if (commands !== null) {
      b.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (args) => {
        const name = /commands\/([a-z-]+)\.js$/.exec(args.path)[1];
        return commands.includes(name) ? undefined : { path: args.path, namespace: 'left-out' };
      });
      b.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({ contents: 'export {};', loader: 'js' }));
      b.onResolve({ filter: /^\.\/snapshot-commands\.js$/ }, (args) => ({ path: args.path, namespace: 'snapshot-commands' }));
      b.onLoad({ filter: /.*/, namespace: 'snapshot-commands' }, () => ({ contents: `export const SNAPSHOT_COMMANDS = ${JSON.stringify(commands)};`, loader: 'js' }));
    }
    b.onLoad({ filter: /[/\\]dist[/\\].*\.js$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      if (args.path.endsWith(join('inputs', 'prebuilt-schema.js'))) text = replaceOnce(text, 'import(PREBUILT.href)', "import('../manifest/schema-check.js')", args.path);
      if (args.path.endsWith(join('manifest', 'schema-check.js'))) {
        // ajv's runtime helpers: plain require() calls that esbuild can bundle.
        text = replaceOnce(text, 'const require = createRequire(import.meta.url);', '', args.path);
      }
      text = text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href));
      return { contents: text, loader: 'js' };
    });
  },
});

function replaceOnce(text, from, to, file) {
  if (!text.includes(from)) throw new Error(`scripts/bundle.mjs: ${file} no longer contains ${JSON.stringify(from)}; update the rewrite`);
  return text.replace(from, to);
}

/** Runs a program to its end; its exit status and what it wrote on stderr. */
function run(file, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stderr }));
  });
}

function buildId() {
  const hash = createHash('sha256');
  const files = readdirSync(dist, { recursive: true }).filter((f) => f.endsWith('.js')).sort();
  for (const f of files) hash.update(`${f}\0`).update(readFileSync(join(dist, f))).update('\0');
  return hash.digest('hex').slice(0, 32);
}

rmSync(`${blob}.root`, { force: true });
rmSync(join(dist, 'version'), { force: true });
// What bin/corral learnt of the old blob (loads here, refused here) says nothing of the new one.
for (const f of readdirSync(dist)) if (/^corral(-[a-z]+)?\.blob\.(loads|refused)\./.test(f)) rmSync(join(dist, f), { force: true });
writeFileSync(join(dist, 'build-id'), `${buildId()}\n`);
// Bundled one after the other (esbuild is quick), the snapshots built side by side (~3 s each).
for (const snapshot of SNAPSHOTS) {
  await build({
    entryPoints: [join(dist, 'cli', 'snapshot-entry.js')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    outfile: snapshot.bundle,
    // koffi is a native addon: src/sys/libc.ts loads it with createRequire when first needed.
    external: ['koffi'],
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [rewrites(snapshot.commands)],
  });
}
await Promise.all(SNAPSHOTS.map(async (snapshot) => {
  const made = await run(process.execPath, ['--snapshot-blob', `${snapshot.blob}.tmp`, '--build-snapshot', snapshot.bundle]);
  // V8 refuses a snapshot built under other V8 flags (--max-old-space-size, say): bin/corral never
  // uses it when NODE_OPTIONS is set. Node warns that some built-in modules are "not yet fully
  // verified" in snapshots; the CLI's tests run through the blobs, so those warnings are noise
  // here unless the build fails.
  if (made.status !== 0) {
    process.stderr.write(made.stderr);
    throw new Error(`scripts/bundle.mjs: node --build-snapshot of ${snapshot.bundle} failed (exit ${made.status})`);
  }
  renameSync(`${snapshot.blob}.tmp`, snapshot.blob);
}));
// What `corral --version` prints, for bin/corral to answer without starting Node.
writeFileSync(join(dist, 'version'), `${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
writeFileSync(`${blob}.root`, `${root}\n`);
