// contrib/corral-pull.{service,timer}, the supported way to pull the manifest repository, checked as
// systemd would read them (this machine's PID 1 is not systemd, so they cannot be run here).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';

const CONTRIB = join(import.meta.dirname, '../../contrib');

describe('contrib/corral-pull.service and .timer', () => {
  const service = readFileSync(join(CONTRIB, 'corral-pull.service'), 'utf8');
  const timer = readFileSync(join(CONTRIB, 'corral-pull.timer'), 'utf8');

  test('fast-forward only, into the directory corral.service watches; the timer repeats', () => {
    const watched = /^Environment=CORRAL_MANIFESTS=(.+)$/m.exec(readFileSync(join(CONTRIB, 'corral.service'), 'utf8'))![1];
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^ExecStart=\S*git pull --ff-only\b/m);
    expect(service).toContain(`WorkingDirectory=${watched}\n`);
    expect(service).toContain('merge.verifySignatures');
    expect(timer).toMatch(/^OnUnitInactiveSec=/m);
    expect(timer).toMatch(/^WantedBy=timers.target$/m);
  });

  test('systemd-analyze verify accepts them', () => {
    const r = spawnSync('systemd-analyze', ['verify', join(CONTRIB, 'corral-pull.service'), join(CONTRIB, 'corral-pull.timer')], { encoding: 'utf8' });
    if (r.error && process.env['CI'] !== 'true') return;
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
