// Hostile sources of secrets and config files (src/drivers/overlay/file-tree.ts, mount-sources.ts):
// a FIFO put where a source file was is refused at once (opened non-blocking, checked on the open
// file), never waited on with the state lock held; a /proc file that says size 0 is read only to
// the limit; a source inside the state root (another container's secrets) is refused at plan time.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { MAX_FILE_BYTES, readSource } from '../../../src/drivers/overlay/file-tree.js';
import { fileSourceOverlaps } from '../../../src/drivers/overlay/mount-sources.js';
import type { ContainerSpec, FileSpec } from '../../../src/manifest/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-file-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secret = (path: string): FileSpec => ({
  kind: 'secret', name: 'db', source: { kind: 'file', path }, target: '/run/secrets/db', owner: { uid: 0, gid: 0 }, mode: 0o400, onChange: { kind: 'restart' },
});

describe('hostile sources', () => {
  test('a FIFO is refused without blocking; a directory too', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Nobody writes to it: a blocking open would never return and this test would time out.
    expect(() => readSource(secret(fifo))).toThrow(expect.objectContaining({ code: 'FILE_SOURCE_UNAVAILABLE', summary: expect.stringContaining('is not a regular file') }));
    expect(() => readSource(secret(dir))).toThrow(expect.objectContaining({ code: 'FILE_SOURCE_UNAVAILABLE' }));
  });

  test('a file over the limit is refused after reading one byte past it, whatever its size says', () => {
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(MAX_FILE_BYTES + 10, 1));
    expect(() => readSource(secret(big))).toThrow(expect.objectContaining({ summary: expect.stringContaining(`larger than ${MAX_FILE_BYTES} bytes`) }));
    const exact = join(dir, 'exact');
    writeFileSync(exact, Buffer.alloc(MAX_FILE_BYTES, 2));
    expect(readSource(secret(exact)).length).toBe(MAX_FILE_BYTES);
  });

  test('a source inside the state root (another container\'s delivered secret) is refused', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'files', 'other', '..data', 'secret'), { recursive: true });
    writeFileSync(join(root, 'files', 'other', '..data', 'secret', 'db'), 'theirs');
    const spec = { name: 'thief', files: [secret(join(root, 'files', 'other', '..data', 'secret', 'db'))] } as unknown as ContainerSpec; // only the fields read
    expect(fileSourceOverlaps(root, spec).map((d) => d.code)).toEqual(['MANIFEST_PATH_TRICK']);
    expect(fileSourceOverlaps(root, { ...spec, files: [secret(join(dir, 'elsewhere'))] })).toEqual([]);
  });
});
