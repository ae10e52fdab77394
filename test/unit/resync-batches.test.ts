import { describe, expect, test } from '@jest/globals';
import { nameBucket, resyncBatch } from '../../src/agent/resync-batches.js';

describe('resync batches', () => {
  test('up to 50 containers, every resync reads everything', () => {
    expect(resyncBatch(0, 0)).toBe('full');
    expect(resyncBatch(7, 50)).toBe('full');
  });

  test.each([51, 500, 1000])('beyond, each of %i containers is read exactly once per round of ten resyncs, orphans with the first', (count) => {
    const names = Array.from({ length: count }, (_, i) => `c${i}`);
    const rounds = 10;
    const seen = new Map<string, number>();
    let orphanLooks = 0;
    for (let r = 0; r < rounds; r++) {
      const scope = resyncBatch(r, names.length);
      if (typeof scope === 'string') throw new Error('expected a batch');
      if (scope.orphans) orphanLooks++;
      for (const n of names) if (scope.drift(n)) seen.set(n, (seen.get(n) ?? 0) + 1);
    }
    expect(orphanLooks).toBe(1);
    expect(seen.size).toBe(names.length);
    expect([...seen.values()].every((v) => v === 1)).toBe(true);
    // Batches are of a similar size (a stable hash, not a sort order a new name would shift).
    const sizes = Array.from({ length: rounds }, (_, b) => names.filter((n) => nameBucket(n, rounds) === b).length);
    expect(Math.min(...sizes)).toBeGreaterThan(count / rounds / 3);
  });

  test('a name keeps its batch from pass to pass', () => {
    expect(nameBucket('web', 7)).toBe(nameBucket('web', 7));
  });
});
