// Seeded fuzzing of the whole front half (load → validate → checks → normalize): 1,000 random and
// mutated inputs. The loader reports problems as diagnostics; it may throw nothing but its own
// typed error, and every diagnostic it returns points into the file.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { isCorralError } from '../../src/errors.js';
import { mulberry32 } from '../support/random.js';
import { loadSet } from '../support/schema.js';

const SEED = Number(process.env['CORRAL_FUZZ_SEED'] ?? 20261129);
const CASES = 1000;


const FIXTURES = [join(import.meta.dirname, '../fixtures/valid'), join(import.meta.dirname, '../fixtures/invalid')];
const corpus = FIXTURES.flatMap((dir) => readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => readFileSync(join(dir, f))));
const TOKENS = ['apiVersion: corral/v1\n', 'kind: Container\n', 'metadata:\n', '  name: x\n', 'spec:\n', '  rootfs: {host: {}}\n',
  '  command: [a]\n', '- ', ': ', '&a ', '*a ', '<<: ', '!!binary ', '? ', '[', ']', '{', '}', ',', '"', "'", '#', '\n', '  ', '\t',
  '---\n', '...\n', '%YAML 1.2\n', '|\n', '>-\n', '~', 'null', 'true', '0x1F', '1e400', '-.inf', '\u0000', '\ufeff', 'é', '😀'];

function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  const bytes = Array.from(input);
  const edits = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (bytes.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0: bytes[at] = Math.floor(rand() * 256); break;
      case 1: bytes.splice(at, 1 + Math.floor(rand() * 16)); break;
      case 2: bytes.splice(at, 0, ...new TextEncoder().encode(TOKENS[Math.floor(rand() * TOKENS.length)]!)); break;
      case 3: { const from = Math.floor(rand() * bytes.length); bytes.splice(at, 0, ...bytes.slice(from, from + 1 + Math.floor(rand() * 40))); break; }
      case 4: bytes.splice(at, 0, 0x20, 0x20); break;
      default: { const nl = bytes.indexOf(0x0a, at); if (nl >= 0) bytes.splice(at, nl - at); }
    }
  }
  return new Uint8Array(bytes);
}

function randomText(rand: () => number): Uint8Array {
  let s = '';
  const n = Math.floor(rand() * 60);
  for (let i = 0; i < n; i++) s += TOKENS[Math.floor(rand() * TOKENS.length)]!;
  return new TextEncoder().encode(s);
}

describe(`loader fuzzing (seed ${SEED})`, () => {
  test(`${CASES} random and mutated inputs never crash the loader`, async () => {
    const rand = mulberry32(SEED);
    let withErrors = 0;
    for (let i = 0; i < CASES; i++) {
      const kind = rand();
      const input = kind < 0.15 ? new Uint8Array(Array.from({ length: Math.floor(rand() * 512) }, () => Math.floor(rand() * 256)))
        : kind < 0.35 ? randomText(rand)
        : mutate(rand, corpus[Math.floor(rand() * corpus.length)]!);
      try {
        const set = await loadSet({ '/fuzz/input.yaml': input });
        for (const d of set.diagnostics) {
          expect(d.source?.file).toBe('/fuzz/input.yaml');
          expect(d.source!.line).toBeGreaterThanOrEqual(1);
          expect(d.source!.column).toBeGreaterThanOrEqual(1);
        }
        if (set.diagnostics.some((d) => d.severity === 'error')) withErrors++;
      } catch (err) {
        if (!isCorralError(err)) {
          throw new Error(`case ${i} (seed ${SEED}) threw ${String(err)}; input: ${JSON.stringify(Buffer.from(input).toString('latin1').slice(0, 400))}`);
        }
      }
    }
    // The mutations are effective: most inputs are broken.
    expect(withErrors).toBeGreaterThan(CASES / 2);
  });
});
