// readOptionalKnob remembers knob names it found missing and asks for them before reading: the
// answer must still follow the file, which a scheduler loaded later can make appear.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { readOptionalKnob } from '../../src/drivers/cgroups/knob.js';

describe('an optional knob', () => {
  test('is null while missing, read once it appears, null again once gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-knob-'));
    const other = mkdtempSync(join(tmpdir(), 'corral-knob-'));
    try {
      expect(await readOptionalKnob(dir, 'blkio.weight')).toBeNull();
      expect(await readOptionalKnob(dir, 'blkio.weight')).toBeNull();
      writeFileSync(join(other, 'blkio.weight'), '500\n');
      expect(await readOptionalKnob(other, 'blkio.weight')).toBe('500');
      writeFileSync(join(dir, 'blkio.weight'), '100\n');
      expect(await readOptionalKnob(dir, 'blkio.weight')).toBe('100');
      rmSync(join(dir, 'blkio.weight'));
      expect(await readOptionalKnob(dir, 'blkio.weight')).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    }
  });
});
