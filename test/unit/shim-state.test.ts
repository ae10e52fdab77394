// readShimState keeps the last parse of state.json by the file's stamp: a start writes a new file
// (temp, rename), which must be read, never the previous start's answer.

import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { readShimState } from '../../src/drivers/namespaces/records.js';

const state = (initPid: number) => JSON.stringify({ version: 1, name: 'web', monitorPid: initPid - 1, monitorStartTime: 1, initPid, initStartTime: 2, startedAtMs: initPid });

describe("the shim's state.json", () => {
  test('is read again when a start replaces it, and is null once gone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-shim-state-'));
    try {
      expect(readShimState(dir)).toBeNull();
      writeFileSync(join(dir, 'state.json'), state(100));
      const first = readShimState(dir);
      expect(first?.initPid).toBe(100);
      expect(readShimState(dir)).toBe(first);
      writeFileSync(join(dir, '.state.json.tmp'), state(200));
      renameSync(join(dir, '.state.json.tmp'), join(dir, 'state.json'));
      expect(readShimState(dir)?.initPid).toBe(200);
      rmSync(join(dir, 'state.json'));
      expect(readShimState(dir)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
