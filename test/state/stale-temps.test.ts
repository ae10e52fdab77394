// Temp files of atomic writes: a crash's leftovers are removed when a state root is opened, but
// never the temp file of a writer that still runs (a `corral ps` beside the agent).

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import { removeStaleTemps } from '../../src/state/atomic-write.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-temps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a dead writer\'s temp file goes; a live writer\'s stays; real files stay', async () => {
  // 2^31 - 2 is above any pid_max: no such process.
  const files = ['a.json', `.a.json.tmp-${process.pid}-0123abcd`, '.b.json.tmp-2147483646-0123abcd', '.c.json.tmp-1'];
  for (const f of files) writeFileSync(join(dir, f), '{}');
  expect((await removeStaleTemps(dir)).sort()).toEqual(['.b.json.tmp-2147483646-0123abcd', '.c.json.tmp-1']);
  expect(readdirSync(dir).sort()).toEqual([`.a.json.tmp-${process.pid}-0123abcd`, 'a.json']);
});
