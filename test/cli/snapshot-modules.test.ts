// dist/corral.blob holds the CLI's modules evaluated and its warm-up run (src/cli/snapshot-warm-up.ts):
// whatever they read from the host while the blob is built is served to every later run, on any
// host. snapshot-load-probe.mjs runs the same code with the host's readers trapped.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import { REPO } from '../support/cli.js';

interface Read {
  readonly what: string;
  readonly where: string;
}

function probe(env: Record<string, string> = {}): Read[] {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, 'snapshot-load-probe.mjs')], {
    cwd: REPO, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Read[];
}

test('building the snapshot reads nothing of the host: no environment, clock, os fact or file outside the checkout', () => {
  expect(probe()).toEqual([]);
});

test('the probe sees a read made at load (the check is not blind)', () => {
  // CORRAL_PROBE_SELF_TEST makes the probe load a module of its own that reads the host at load.
  const reads = probe({ CORRAL_PROBE_SELF_TEST: '1' });
  expect(reads.map((r) => r.what)).toEqual(expect.arrayContaining(['cpus()', 'process.env.HOME', 'readFileSync("/proc/self/status")']));
});
