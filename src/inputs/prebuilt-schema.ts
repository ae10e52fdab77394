// The manifest validator for the CLI: the check compiled at build time (scripts/gen-validator.mjs
// writes dist/manifest/schema-check.js) when it was compiled from this very schema file, so that
// neither ajv nor the schema's compilation is paid at every start; otherwise (run from src/, a
// schema edited after the build) the one ./schema.ts compiles. Both judge every document alike.

import { createHash } from 'node:crypto';
import type { SchemaNode } from '../manifest/schema-fields.js';
import { createSchemaValidator, type SchemaCheck, type SchemaValidator } from '../manifest/validate.js';
import { readSchemaText } from './schema-file.js';

const PREBUILT = new URL('../manifest/schema-check.js', import.meta.url);

interface PrebuiltModule {
  readonly SCHEMA_SHA256?: unknown;
  readonly validate?: unknown;
}

let cached: Promise<SchemaValidator> | undefined;

export function loadSchemaValidator(): Promise<SchemaValidator> {
  cached ??= load();
  return cached;
}

/**
 * Drops the validator loaded while dist/corral.blob was built (src/cli/snapshot-warm-up.ts): each
 * run reads the schema file again and checks it against the prebuilt check's digest.
 */
export function forgetSchemaValidator(): void {
  cached = undefined;
}

async function load(): Promise<SchemaValidator> {
  const text = readSchemaText();
  const prebuilt = await import(PREBUILT.href).then((m: PrebuiltModule) => m, () => null);
  if (typeof prebuilt?.validate === 'function' && prebuilt.SCHEMA_SHA256 === createHash('sha256').update(text).digest('hex')) {
    return createSchemaValidator(JSON.parse(text) as SchemaNode, prebuilt.validate as SchemaCheck);
  }
  return (await import('./schema.js')).schemaValidator();
}
