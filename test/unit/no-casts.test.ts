// Driver handles and records are read back field by field (src/state/handle-reader.ts), never
// forced into a type: no double cast anywhere in the sources.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test } from '@jest/globals';
import { REPO } from '../support/cli.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

test('no `as unknown as` in src/', () => {
  const offenders = sources(join(REPO, 'src')).flatMap((file) => readFileSync(file, 'utf8').split('\n')
    .map((line, i) => (/\bas unknown as\b/.test(line) ? `${relative(REPO, file)}:${i + 1}` : null))
    .filter((x): x is string => x !== null));
  expect(offenders).toEqual([]);
});
