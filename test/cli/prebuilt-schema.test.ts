// The schema check compiled at build time (scripts/gen-validator.mjs → dist/manifest/schema-check.js)
// judges every fixture exactly as ajv compiling the schema at run time does, and the CLI that uses
// it never loads ajv's compiler; a command that logs nothing never loads winston either.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { compileSchema } from '../../src/manifest/schema-compile.js';
import { readSchema } from '../../src/inputs/schema.js';
import { DEFAULT_LIMITS, loadManifestText } from '../../src/manifest/load.js';
import { lazyLogger } from '../../src/cli/context.js';
import { REPO, UNUSED_ROOT } from '../support/cli.js';

type Check = ((value: unknown) => boolean) & { errors?: Array<{ instancePath: string; keyword: string; params: unknown; schemaPath: string }> | null };

function documents(): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const kind of ['valid', 'invalid']) {
    const dir = join(REPO, 'test/fixtures', kind);
    for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
      // corral's own loader: the fixtures include alias bombs and files over the size limit.
      for (const doc of loadManifestText(join(dir, file), readFileSync(join(dir, file)), DEFAULT_LIMITS).docs) out.push([`${kind}/${file}#${doc.index}`, doc.value]);
    }
  }
  return out;
}

const outcome = (check: Check, value: unknown): unknown => ({
  ok: check(value),
  errors: (check.errors ?? []).map((e) => ({ at: e.instancePath, keyword: e.keyword, params: e.params, schemaPath: e.schemaPath })),
});

describe('the build-time schema check', () => {
  test('gives the same verdict and the same errors as run-time compilation, for every fixture', async () => {
    const prebuilt = (await import(join(REPO, 'dist/manifest/schema-check.js'))) as { validate: Check };
    const runtime = compileSchema(readSchema()) as unknown as Check;
    const docs = documents();
    expect(docs.length).toBeGreaterThan(50);
    for (const [name, value] of docs) expect([name, outcome(prebuilt.validate, value)]).toEqual([name, outcome(runtime, value)]);
  });

  test('is what the CLI uses: checking manifests loads no ajv compiler', () => {
    const script = [
      "import { createRequire } from 'node:module';",
      `const { loadSchemaValidator } = await import(${JSON.stringify(join(REPO, 'dist/inputs/prebuilt-schema.js'))});`,
      'await loadSchemaValidator();',
      "const loaded = Object.keys(createRequire(import.meta.url).cache);",
      "console.log(JSON.stringify({ compiler: loaded.some((f) => f.includes('/ajv/dist/core.js')), runtime: loaded.some((f) => f.includes('/ajv/dist/runtime/')) }));",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ compiler: false, runtime: true });
  });

  test('`corral validate` of the bundled manifests loads neither ajv\'s compiler nor winston', () => {
    const script = [
      "import { createRequire } from 'node:module';",
      `const { main } = await import(${JSON.stringify(join(REPO, 'dist/cli/main.js'))});`,
      `const code = await main(['node', 'corral', '--log-level', 'warn', 'validate', '--dir', ${JSON.stringify(join(REPO, 'manifests'))}]);`,
      "const loaded = Object.keys(createRequire(import.meta.url).cache);",
      "console.error(JSON.stringify({ code, compiler: loaded.some((f) => f.includes('/ajv/dist/core.js')), winston: loaded.some((f) => f.includes('/node_modules/winston/')) }));",
    ].join('\n');
    // A state root that does not exist: validate reads the results a root keeps, never the machine's.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, CORRAL_ROOT: UNUSED_ROOT } });
    expect(r.stdout).toMatch(/^valid:/);
    expect(JSON.parse(r.stderr)).toEqual({ code: 0, compiler: false, winston: false });
  });
});

describe('the lazy logger', () => {
  test('makes the real logger at the first line at or above its level, and never for quieter ones', () => {
    const lines: string[] = [];
    let made = 0;
    const real = { log: (level: string, message: string) => lines.push(`${level} ${message}`) };
    const logger = lazyLogger('warn', () => {
      made++;
      return { ...real, error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
    });
    logger.debug('quiet');
    logger.info('quiet too');
    expect(made).toBe(0);
    logger.warn('loud', { x: 1 });
    logger.error('louder');
    expect(made).toBe(1);
    expect(lines).toEqual(['warn loud', 'error louder']);
  });
});
