// The manifest validator compiled by ajv in this process: what tests and `corral` run from src/
// use, and the CLI's fallback when the build's compiled check is missing or stale
// (./prebuilt-schema.ts).

import { compileSchema } from '../manifest/schema-compile.js';
import { createSchemaValidator, type SchemaValidator } from '../manifest/validate.js';
import { readSchema } from './schema-file.js';

export { readSchema, SCHEMA_PATH } from './schema-file.js';

let cached: SchemaValidator | undefined;

/** Compiled once per process (a third of a second here). */
export function schemaValidator(): SchemaValidator {
  if (cached) return cached;
  const schema = readSchema();
  cached = createSchemaValidator(schema, compileSchema(schema));
  return cached;
}
