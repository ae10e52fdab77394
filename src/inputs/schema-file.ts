// Where schemas/manifest.schema.json is, next to the code, whether it runs from dist/ or from
// src/ (tests).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SchemaNode } from '../manifest/schema-fields.js';

export const SCHEMA_PATH = fileURLToPath(new URL('../../schemas/manifest.schema.json', import.meta.url));

export function readSchemaText(): string {
  return readFileSync(SCHEMA_PATH, 'utf8');
}

export function readSchema(): SchemaNode {
  return JSON.parse(readSchemaText()) as SchemaNode;
}
