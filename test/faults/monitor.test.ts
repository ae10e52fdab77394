// Fault: the container's monitor is killed. The container keeps running with nobody to record its
// exit or read its output; every `ps`, `plan` and `reconcile` must notice (by pid and start time),
// and the plan restarts it under a new monitor, its last exit recorded as unknown, not lost.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireRoot } from '../support/root.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';

let sb: Sandbox;
beforeAll(() => {
  if (requireRoot()) sb = sandbox('fault-monitor');
});
afterAll(async () => {
  await sb?.cleanup();
});

function runtimeOf(name: string): { monitor: { pid: number }; init: { pid: number } } {
  return JSON.parse(sb.run('inspect', name).stdout).runtime;
}

const alive = (pid: number): boolean => {
  try {
    // A zombie left by the dead monitor counts as gone.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

describe('a killed monitor', () => {
  test('is noticed, and the container is restarted under a new one with an unknown last exit', () => {
    if (!sb) return;
    sb.write('svc.yaml', sleeper('svc'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const before = runtimeOf('svc');
    process.kill(before.monitor.pid, 'SIGKILL');

    const ps = psJson(sb).find((c) => c.name === 'svc')!;
    expect(ps).toMatchObject({ status: 'unmonitored', pid: before.init.pid });
    const plan = JSON.parse(sb.run('plan', '--output', 'json').stdout);
    expect(plan.actions[0]).toMatchObject({ name: 'svc', action: 'restart', reasons: [{ code: 'monitor-lost', text: expect.stringMatching(/^monitor-lost: /) }] });

    const r = JSON.parse(sb.run('reconcile', '--once', '--output', 'json').stdout);
    expect(r.actions[0]).toMatchObject({ name: 'svc', action: 'restart' });
    const after = runtimeOf('svc');
    expect(after.init.pid).not.toBe(before.init.pid);
    expect(alive(before.init.pid)).toBe(false);
    expect(alive(after.monitor.pid)).toBe(true);
    const now = psJson(sb).find((c) => c.name === 'svc')!;
    expect(now).toMatchObject({ status: 'running', lastExit: { code: null, signal: null, unknown: true } });
    expect(JSON.parse(sb.run('plan', '--output', 'json').stdout).actions[0].action).toBe('none');
  });

  test('a monitor and its container both gone (a host reboot): exited, exit unknown, started again', () => {
    if (!sb) return;
    const before = runtimeOf('svc');
    process.kill(before.monitor.pid, 'SIGKILL');
    process.kill(before.init.pid, 'SIGKILL');
    const r = JSON.parse(sb.run('reconcile', '--once', '--output', 'json').stdout);
    expect(r.actions[0]).toMatchObject({ name: 'svc', action: 'start' });
    const now = psJson(sb).find((c) => c.name === 'svc')!;
    expect(now).toMatchObject({ status: 'running', lastExit: { unknown: true } });
    expect(runtimeOf('svc').init.pid).not.toBe(before.init.pid);
  });
});
