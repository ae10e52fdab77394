// Credentials, limits, sysctls, privileged mode, and setup failures surfacing as typed errors.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { isShimError } from '../../../src/drivers/namespaces/shim-error.js';
import { start } from '../../../src/drivers/namespaces/runtime.js';
import { hasCode } from '../../../src/errors.js';
import { hostCapabilityMask } from '../../../src/sys/proc.js';
import { requireRoot } from '../../support/root.js';
import { makeHarness, mountsLeaked, specOf, type Harness } from './harness.js';

const root = requireRoot();
(root ? describe : describe.skip)('the container process', () => {
  let h: Harness;
  let dir: string;
  beforeAll(() => {
    h = makeHarness('proc');
    dir = mkdtempSync(join(tmpdir(), 'corral-bind-'));
    writeFileSync(join(dir, 'data.txt'), 'from the host\n');
  });
  afterAll(async () => {
    await h?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('uid, gid, groups, rlimits, cwd and sysctls are applied', async () => {
    const spec = await specOf('creds', [
      'user: {uid: 1000, gid: 1001, groups: [10, 20]}',
      'workingDir: /tmp',
      'ulimits: {nofile: {soft: 512, hard: 1024}, nproc: {soft: 100, hard: 200}}',
      'security: {sysctls: {net.ipv4.ip_forward: "1"}}',
      'command: [/bin/sh, -c, "id -u; id -g; id -G; ulimit -n; ulimit -Hn; ulimit -u; pwd; cat /proc/sys/net/ipv4/ip_forward; grep CapEff /proc/self/status"]',
    ].join('\n'));
    const r = await h.run(spec);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['1000', '1001', '1001 10 20', '512', '1024', '100', '/tmp', '1', 'CapEff:\t0000000000000000', '']);
  });

  test('binds: read-only host directory, tmpfs with its size', async () => {
    const spec = await specOf('binds', [
      `mounts: [{type: bind, source: ${dir}, target: /data, readOnly: true}, {type: tmpfs, target: /scratch, size: 1Mi}]`,
      'command: [/bin/sh, -c, "cat /data/data.txt; touch /data/x 2>/dev/null || echo ro; df -k /scratch | tail -1 | tr -s \' \' | cut -d\' \' -f2"]',
    ].join('\n'));
    const r = await h.run(spec);
    expect(r.stdout).toBe('from the host\nro\n1024\n');
  });

  test('privileged keeps every capability the agent has, and unmasks paths', async () => {
    const spec = await specOf('priv', 'security: {privileged: true}\ncommand: [/bin/sh, -c, "grep CapEff /proc/self/status; wc -c < /proc/timer_list"]');
    const r = await h.run(spec, { hostCapabilities: hostCapabilityMask() });
    const [capLine, timerBytes] = r.stdout.split('\n');
    expect(capLine).toBe(`CapEff:\t${hostCapabilityMask().toString(16).padStart(16, '0')}`);
    expect(Number(timerBytes)).toBeGreaterThan(0);
  });

  test('a failing setup step is a typed error naming the step', async () => {
    const spec = await specOf('badcwd', 'workingDir: /nonexistent\ncommand: [/bin/true]');
    const err = await start(h.spawnSpec(spec)).catch((e: unknown) => e);
    expect(hasCode(err, 'CONTAINER_SETUP_FAILED')).toBe(true);
    expect(isShimError(err) && err.shortMessage).toBe('workdir /nonexistent: ENOENT');
    expect(isShimError(err) && err.stage).toBe('workdir');

    const bad = await specOf('badbind', 'mounts: [{type: bind, source: /nonexistent-corral, target: /x}]\ncommand: [/bin/true]');
    const err2 = await start(h.spawnSpec(bad)).catch((e: unknown) => e);
    expect(isShimError(err2) && err2.shortMessage).toBe('bind source /nonexistent-corral: ENOENT');

    const exe = await specOf('badexe', 'command: [/no/such/binary]');
    const err3 = await start(h.spawnSpec(exe)).catch((e: unknown) => e);
    expect((err3 as Error).message).toBe('container `badexe`: exec /no/such/binary: ENOENT');

    const rl = await specOf('badrlimit', 'ulimits: {nofile: {soft: 100, hard: 100000000}}\ncommand: [/bin/true]');
    const err4 = await start(h.spawnSpec(rl)).catch((e: unknown) => e);
    expect(isShimError(err4) && err4.shortMessage).toMatch(/^setrlimit resource 7 soft 100 hard 100000000: EPERM$/);
  });
});
