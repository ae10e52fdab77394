// src/sys/libc.ts opens the koffi addon that `npm run build` recorded (scripts/locate-koffi.mjs)
// without koffi's loader, and falls back to that loader whenever the record does not hold.
// Each case runs the compiled module in a fresh Node: an addon is loaded once per process.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { REPO } from '../support/cli.js';

const RECORD = join(REPO, 'dist/koffi-addon.json');

interface Loaded {
  readonly pidMatches: boolean;
  /** koffi's own JS loader ran. */
  readonly viaLoader: boolean;
}

/** Loads koffi in a child from `record` (the build's when null), calls getpid through it. */
function load(record: string | null): Loaded {
  const script = `
    import { createRequire } from 'node:module';
    import { pathToFileURL } from 'node:url';
    const libc = await import(${JSON.stringify(join(REPO, 'dist/sys/libc.js'))});
    const record = process.argv[1];
    const k = record ? libc.loadKoffi(pathToFileURL(record)) : libc.koffi();
    const getpid = k.load('libc.so.6').func('int getpid(void)');
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ pidMatches: getpid() === process.pid, viaLoader: cache.some((f) => f.includes('/koffi/')) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, record ?? ''], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Loaded;
}

let dir: string;
let built: { path: string; size: number; mtimeMs: number; version: string };
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'corral-koffi-'));
  built = JSON.parse(readFileSync(RECORD, 'utf8')) as typeof built;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function record(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

test('the build records the addon koffi picks, and libc opens it without koffi\'s loader', () => {
  expect(built.path).toMatch(/koffi.*\.node$/);
  expect(load(null)).toEqual({ pidMatches: true, viaLoader: false });
});

test.each([
  ['a record of another size (the addon was reinstalled)', () => record('size.json', { ...built, size: built.size + 1 })],
  ['a record of another mtime', () => record('mtime.json', { ...built, mtimeMs: built.mtimeMs - 1000 })],
  ['a record of another koffi version', () => record('version.json', { ...built, version: '0.0.1' })],
  ['a record naming a file that is gone', () => record('gone.json', { ...built, path: join(dir, 'gone.node') })],
  ['a file of the recorded size and mtime that is not an addon', () => {
    const fake = record('fake.node', 'not an ELF file');
    const { size, mtimeMs } = statSync(fake);
    return record('not-addon.json', { ...built, path: fake, size, mtimeMs });
  }],
  ['a damaged record', () => record('damaged.json', '{"path": ')],
  ['no record at all', () => join(dir, 'missing.json')],
])('%s: koffi\'s own loader, which works', (_what, make) => {
  expect(load(make())).toEqual({ pidMatches: true, viaLoader: true });
});
