// Atomic writes into one directory share its fsync (src/state/atomic-write.ts › syncDirectory):
// apply writes several containers' records at once, and each must still find its rename durable
// when its write resolves.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import { directoryFsyncsIssued, syncDirectory, writeFileAtomic } from '../../src/state/atomic-write.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-group-commit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('twenty concurrent writes into one directory cost at most two directory fsyncs each round', async () => {
  const before = directoryFsyncsIssued();
  await Promise.all(Array.from({ length: 20 }, (_, i) => writeFileAtomic(join(dir, `r${i}.json`), `{"n":${i}}`)));
  const used = directoryFsyncsIssued() - before;
  expect(used).toBeGreaterThanOrEqual(1);
  expect(used).toBeLessThan(20);
  for (let i = 0; i < 20; i++) expect(readFileSync(join(dir, `r${i}.json`), 'utf8')).toBe(`{"n":${i}}`);
});

test('a caller arriving while an fsync runs waits for one that starts after it', async () => {
  const before = directoryFsyncsIssued();
  const first = syncDirectory(dir);
  // Joins neither the running one (it may predate this caller's rename) nor makes a third.
  const second = syncDirectory(dir);
  const third = syncDirectory(dir);
  expect(second).toBe(third);
  expect(second).not.toBe(first);
  await Promise.all([first, second, third]);
  expect(directoryFsyncsIssued() - before).toBe(2);
  // Nothing queued any more: the next caller starts its own.
  await syncDirectory(dir);
  expect(directoryFsyncsIssued() - before).toBe(3);
});

test('a directory that cannot be synced fails every caller that shares the fsync', async () => {
  const gone = join(dir, 'missing');
  const calls = [syncDirectory(gone), syncDirectory(gone), syncDirectory(gone)];
  for (const c of calls) await expect(c).rejects.toMatchObject({ code: 'ENOENT' });
  // The failure is not remembered.
  await expect(syncDirectory(dir)).resolves.toBeUndefined();
});

test('a write that need not be durable (a cache) issues no directory fsync and is still atomic', async () => {
  const before = directoryFsyncsIssued();
  await writeFileAtomic(join(dir, 'cache.json'), '{"v":1}', { durable: false });
  await writeFileAtomic(join(dir, 'cache.json'), '{"v":2}', { durable: false });
  expect(directoryFsyncsIssued() - before).toBe(0);
  expect(readFileSync(join(dir, 'cache.json'), 'utf8')).toBe('{"v":2}');
});
