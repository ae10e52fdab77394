// Finds and reads schemas/container.schema.json next to the code, whether it runs from dist/ or
// from src/ (tests).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SchemaNode } from '../manifest/schema-fields.js';
import { createSchemaValidator, type SchemaValidator } from '../manifest/validate.js';

export const SCHEMA_PATH = fileURLToPath(new URL('../../schemas/container.schema.json', import.meta.url));

let cached: SchemaValidator | undefined;

export function readSchema(): SchemaNode {
  return JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as SchemaNode;
}

/** The compiled validator; compiled once per process (ajv compilation costs tens of ms). */
export function schemaValidator(): SchemaValidator {
  cached ??= createSchemaValidator(readSchema());
  return cached;
}
