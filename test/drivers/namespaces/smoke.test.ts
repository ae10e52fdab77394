import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireRoot } from '../../support/root.js';
import { makeHarness, mountsLeaked, specOf, type Harness } from './harness.js';

const root = requireRoot();
(root ? describe : describe.skip)('smoke', () => {
  let h: Harness;
  beforeAll(() => { h = makeHarness('smoke'); });
  afterAll(async () => { await h?.cleanup(); expect(mountsLeaked(h)).toEqual([]); });

  test('runs a command and records its exit code', async () => {
    const spec = await specOf('smoke1', 'command: [/bin/sh, -c, "echo hello; echo oops >&2; exit 3"]');
    const r = await h.run(spec);
    expect(r.stdout).toBe('hello\n');
    expect(r.stderr).toBe('oops\n');
    expect(r.status.state).toBe('exited');
    if (r.status.state === 'exited') expect(r.status.exit.exitCode).toBe(3);
  });
});
