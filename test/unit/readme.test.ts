// The README documents every field of the schema, and its generated reference is current.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { readSchema } from '../../src/host/schema.js';
import { renderReference, REFERENCE_BEGIN, REFERENCE_END } from '../../src/manifest/reference.js';
import { listSchemaFields } from '../../src/manifest/schema-fields.js';

const README = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
const schema = readSchema();

describe('README manifest reference', () => {
  test.each(listSchemaFields(schema, true).map((f) => f.path))('documents `%s`', (path) => {
    expect(README).toContain(`| \`${path}\` |`);
  });

  test('every field has a description in the schema', () => {
    expect(listSchemaFields(schema, true).filter((f) => !f.description).map((f) => f.path)).toEqual([]);
  });

  test('the generated block is current (run `npm run docs` when this fails)', () => {
    const block = README.slice(README.indexOf(REFERENCE_BEGIN), README.indexOf(REFERENCE_END) + REFERENCE_END.length);
    expect(block).toBe(renderReference(schema));
  });

  test('the README starts with the two quick-start commands', () => {
    const quick = README.slice(README.indexOf('## Quick start'));
    const commands = /```sh\n([^`]+)```/.exec(quick)![1]!.trim().split('\n');
    expect(commands[0]).toMatch(/^npm ci && npm start\b/);
    expect(commands[1]).toMatch(/^npm test\b/);
  });
});
