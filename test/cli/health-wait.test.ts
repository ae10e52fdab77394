// `reconcile --once --wait`: the health checks of what the pass started run without an agent,
// until each container is healthy or unhealthy; the JSON report says which and the exit status
// gates on it (Ansible); `ps` shows the health found, its age, and that no agent keeps it fresh.

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';
import { requireRoot } from '../support/root.js';

const root = requireRoot();
(root ? describe : describe.skip)('reconcile --once --wait', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = sandbox('health-wait');
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('healthy passes the gate; unhealthy fails it, named in the report; ps shows both, stale without an agent', () => {
    sb.write('good.yaml', sleeper('good', 'healthcheck: {exec: [/bin/true], interval: 200ms, retries: 2}'));
    const good = sb.run('reconcile', '--once', '--wait', '-o', 'json');
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout).health).toEqual([{ name: 'good', status: 'healthy', failures: 0, output: '' }]);

    sb.write('bad.yaml', sleeper('bad', 'healthcheck: {exec: [/bin/sh, -c, "echo nope; exit 1"], interval: 200ms, retries: 2}'));
    const bad = sb.run('reconcile', '--once', '--wait', '--wait-timeout', '60s');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^Health: bad unhealthy \(2 failures: nope\)\.$/m);

    const ps = sb.run('ps').stdout;
    expect(ps).toMatch(/^good\s+running \(healthy, \d+s ago; stale: no agent checks it\)/m);
    expect(ps).toMatch(/^bad\s+running \(unhealthy, \d+s ago; stale: no agent checks it\)/m);
    // Nothing started: nothing to wait for.
    expect(sb.run('reconcile', '--once', '--wait').stdout).toContain('Health: nothing started has a healthcheck.');
  });
});
