// The systemd unit is checked as systemd would read it (this machine's PID 1 is not systemd, so
// it cannot be run here).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';

const UNIT = join(import.meta.dirname, '../../contrib/corral.service');

describe('contrib/corral.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  test('leaves the containers running when the agent stops, and delegates cgroups', () => {
    expect(text).toMatch(/^KillMode=process$/m);
    expect(text).toMatch(/^Delegate=yes$/m);
    expect(text).toMatch(/^ExecStart=.* agent\b/m);
    expect(text).toMatch(/^ExecReload=.*-HUP/m);
  });

  test('its command line, Node flags included, runs this checkout', () => {
    const m = /^ExecStart=\/usr\/bin\/env node((?: --\S+)*) \/opt\/corral\/bin\/corral (agent .*)$/m.exec(text);
    expect(m).not.toBeNull();
    const flags = m![1]!.split(' ').filter(Boolean);
    const bin = join(import.meta.dirname, '../../bin/corral');
    const r = spawnSync(process.execPath, [...flags, bin, '--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('systemd-analyze verify accepts it', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    if (r.error && process.env['CI'] !== 'true') return;
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
