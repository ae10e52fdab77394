// What identifies this build of corral for caches of its own results (src/state/manifest-cache.ts):
// dist/build-id, a digest of the compiled code that scripts/bundle.mjs writes at `npm run build`,
// plus the manifest schema as it is now (it can be edited after the build). null when run from
// src/ (the tests' ts-jest) or a build without it: then nothing is cached.

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readSchemaText } from './schema-file.js';

const BUILD_ID = new URL('../build-id', import.meta.url);

export function buildId(): string | null {
  let code: string;
  try {
    code = readFileSync(BUILD_ID, 'utf8').trim();
  } catch {
    return null;
  }
  return `${code}.${createHash('sha256').update(readSchemaText()).digest('hex').slice(0, 16)}`;
}
