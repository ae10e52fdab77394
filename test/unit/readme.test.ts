// The README documents every field of the schema, its generated reference is current, and the
// fields reserved for bridge networking say that they are refused.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { ErrorCodes } from '../../src/errors.js';
import { readSchema } from '../../src/inputs/schema.js';
import { listManifestFields, renderReference, REFERENCE_BEGIN, REFERENCE_END } from '../../src/manifest/reference.js';

const README = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
const schema = readSchema();

describe('README manifest reference', () => {
  test.each(listManifestFields(schema).map((f) => f.path))('documents `%s`', (path) => {
    expect(README).toContain(`| \`${path}\` |`);
  });

  test('every field has a description in the schema', () => {
    expect(listManifestFields(schema).filter((f) => !f.description).map((f) => f.path)).toEqual([]);
  });

  test('the generated block is current (run `npm run docs` when this fails)', () => {
    const block = README.slice(README.indexOf(REFERENCE_BEGIN), README.indexOf(REFERENCE_END) + REFERENCE_END.length);
    expect(block).toBe(renderReference(schema));
  });

  test('what the format allows and corral has not built (ports on IPv6 addresses) says it is refused with NOT_SUPPORTED', () => {
    expect(ErrorCodes).toHaveProperty('NOT_SUPPORTED');
    const descriptions = new Map(listManifestFields(schema).map((f) => [f.path, f.description]));
    for (const path of ['spec.network.ports[].hostIP']) {
      const row = README.split('\n').find((line) => line.startsWith(`| \`${path}\` |`));
      expect({ path, schema: descriptions.get(path), readme: row }).toEqual({
        path, schema: expect.stringContaining('`NOT_SUPPORTED`'), readme: expect.stringContaining('`NOT_SUPPORTED`'),
      });
    }
  });

  test('the README starts with the two quick-start commands', () => {
    const quick = README.slice(README.indexOf('## Quick start'));
    const commands = /```sh\n([^`]+)```/.exec(quick)![1]!.trim().split('\n');
    expect(commands[0]).toMatch(/^npm ci && npm start\b/);
    expect(commands[1]).toMatch(/^npm test\b/);
  });
});
