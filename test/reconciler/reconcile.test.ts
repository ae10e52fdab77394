// reconcile --once against the real kernel, as a config-management tool would run it.

import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireRoot } from '../support/root.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';
import { someDisk } from '../drivers/cgroups/support.js';

let sb: Sandbox;
beforeAll(() => {
  if (requireRoot()) sb = sandbox('reconcile');
});
afterAll(async () => {
  await sb?.cleanup();
});

function reconcile(...extra: string[]) {
  const r = sb.run('reconcile', '--once', '--detailed-exitcode', '--output', 'json', ...extra);
  return { code: r.code, report: r.stdout ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

function memoryLimit(name: string): number {
  const inspect = JSON.parse(sb.run('inspect', name).stdout);
  const handle = inspect.cgroup as { v1: Record<string, string>; unified: string | null };
  const file = handle.v1['memory'] ? `${handle.v1['memory']}/memory.limit_in_bytes` : `${handle.unified}/memory.max`;
  return Number(readFileSync(file, 'utf8').trim());
}

describe('reconcile --once', () => {
  test('first run creates (changed, exit 2); the second is a no-op (exit 0, same pids)', () => {
    if (!sb) return;
    sb.write('db.yaml', sleeper('db'));
    sb.write('app.yaml', sleeper('app', 'dependsOn: [db]\nresources: {memory: 64Mi}\nenv: {MODE: one}'));
    const first = reconcile();
    expect(first.report.errors).toEqual([]);
    expect(first.code).toBe(2);
    expect(first.report.changed).toBe(true);
    expect(first.report.actions.map((a: { name: string; action: string }) => [a.name, a.action])).toEqual([['db', 'create'], ['app', 'create']]);
    const pids = psJson(sb).map((c) => [c.name, c.status, c.pid]);
    expect(pids.every(([, status, pid]) => status === 'running' && typeof pid === 'number')).toBe(true);
    const second = reconcile();
    expect(second.code).toBe(0);
    expect(second.report.changed).toBe(false);
    expect(second.report.actions.every((a: { action: string }) => a.action === 'none')).toBe(true);
    expect(psJson(sb).map((c) => [c.name, c.status, c.pid])).toEqual(pids);
  });

  test('dependsOn orders starts: the dependency runs first', () => {
    if (!sb) return;
    const started = (name: string) => Date.parse(JSON.parse(sb.run('inspect', name).stdout).startedAt);
    expect(started('db')).toBeLessThanOrEqual(started('app'));
  });

  test('a second writer waits for the lock, then exits 1 naming the holder', async () => {
    if (!sb) return;
    const { acquireLock } = await import('../../src/state/lock.js');
    const held = await acquireLock(`${sb.root}/lock`, 'corral agent (test)', 1000);
    try {
      const r = sb.run('reconcile', '--once', '--lock-timeout', '1s');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/STATE_LOCKED .*pid \d+ \(`corral agent \(test\)`/);
    } finally {
      held.dispose();
    }
  });

  test('a memory change is applied live: same pid, new limit enforced', () => {
    if (!sb) return;
    const pid = psJson(sb).find((c) => c.name === 'app')!.pid;
    sb.write('app.yaml', sleeper('app', 'dependsOn: [db]\nresources: {memory: 48Mi}\nenv: {MODE: one}'));
    const r = reconcile();
    expect(r.report.actions.find((a: { name: string }) => a.name === 'app')).toMatchObject({ action: 'update', diff: expect.arrayContaining([expect.objectContaining({ path: 'resources.memoryBytes', effect: 'live' })]) });
    expect(psJson(sb).find((c) => c.name === 'app')!.pid).toBe(pid);
    expect(memoryLimit('app')).toBe(48 * 2 ** 20);
    // Enforced: a process asking for more inside the container is OOM-killed.
    const hog = sb.run('exec', 'app', '--', '/bin/sh', '-c', 'head -c 200000000 /dev/zero | tail > /dev/null');
    expect(hog.code).toBe(137);
    expect(psJson(sb).find((c) => c.name === 'app')!.pid).toBe(pid);
  });

  test('the device allow-list is drift like a limit: a rule added by hand goes, a container an older corral left without one gets it, live', () => {
    if (!sb) return;
    const inspect = (): { cgroup: { v1: Record<string, string> } } => JSON.parse(sb.run('inspect', 'app').stdout);
    const devicesDir = inspect().cgroup.v1['devices'];
    if (!devicesDir) return; // a cgroup2 host: the device program is covered by test/drivers/cgroups
    const pid = psJson(sb).find((c) => c.name === 'app')!.pid!;
    writeFileSync(join(devicesDir, 'devices.allow'), 'c 10:232 rwm');
    expect(readFileSync(join(devicesDir, 'devices.list'), 'utf8')).toMatch(/c 10:232 rwm/);
    const fixed = reconcile();
    expect(fixed.report.actions.find((a: { name: string }) => a.name === 'app')).toMatchObject({ action: 'update', diff: [expect.objectContaining({ path: 'devices', effect: 'live' })] });
    expect(readFileSync(join(devicesDir, 'devices.list'), 'utf8')).not.toMatch(/10:232/);

    // What an older corral left: no devices cgroup, and a handle that does not name one. (Its
    // processes sit in the cgroup's leaves now: they leave with it.)
    const parent = dirname(devicesDir);
    const inside = [...['monitor', 'payload'].map((leaf) => join(devicesDir, leaf)).filter((d) => existsSync(d)), devicesDir];
    for (const d of inside) for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(parent, 'cgroup.procs'), p);
    for (const d of inside) rmdirSync(d);
    const recordFile = join(sb.root, 'state', 'app.json');
    const record = JSON.parse(readFileSync(recordFile, 'utf8'));
    delete record.cgroup.v1.devices;
    delete record.checksum; // records of that corral carried none

    writeFileSync(recordFile, JSON.stringify(record));
    const upgraded = reconcile();
    expect(upgraded.report.actions.find((a: { name: string }) => a.name === 'app')).toMatchObject({ action: 'update', reasons: [{ code: 'drift', text: expect.stringMatching(/drift: devices/) }] });
    expect(psJson(sb).find((c) => c.name === 'app')!.pid).toBe(pid);
    expect(inspect().cgroup.v1['devices']).toBe(devicesDir);
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toMatch(new RegExp(`:devices:/.*/app(/payload)?\\n`));
    expect(readFileSync(join(devicesDir, 'devices.list'), 'utf8')).toMatch(/^c 1:3 rwm$/m);
    expect(reconcile().report.actions.every((a: { action: string }) => a.action === 'none')).toBe(true);
  });

  test('an I/O throttle changed by hand is drift: put back live, same pid', () => {
    if (!sb) return;
    const disk = someDisk();
    if (disk === null) return; // no whole disk here: the throttles are covered by test/drivers/cgroups where there is one
    sb.write('io.yaml', sleeper('io', `resources: {io: {limits: [{device: ${disk}, readBps: 1048576}]}}`));
    expect(reconcile().report.actions.find((a: { name: string }) => a.name === 'io')).toMatchObject({ action: 'create' });
    const handle = JSON.parse(sb.run('inspect', 'io').stdout).cgroup as { v1: Record<string, string>; unified: string | null };
    const number = readFileSync(`/sys/block/${disk.replace('/dev/', '')}/dev`, 'utf8').trim();
    const [file, line] = handle.v1['blkio'] ? [join(handle.v1['blkio'], 'blkio.throttle.read_bps_device'), `${number} 2097152`] : [join(handle.unified!, 'io.max'), `${number} rbps=2097152`];
    const pid = psJson(sb).find((c) => c.name === 'io')!.pid;
    writeFileSync(file, line);
    const fixed = reconcile();
    expect(fixed.report.actions.find((a: { name: string }) => a.name === 'io')).toMatchObject({ action: 'update', diff: [expect.objectContaining({ path: 'resources.ioLimits', effect: 'live' })] });
    expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`^${number} (rbps=)?1048576`, 'm'));
    expect(psJson(sb).find((c) => c.name === 'io')!.pid).toBe(pid);
    expect(reconcile().report.actions.every((a: { action: string }) => a.action === 'none')).toBe(true);
    sb.remove('io.yaml');
  });

  test('an env change restarts (new pid); a rootfs change recreates', () => {
    if (!sb) return;
    const before = psJson(sb).find((c) => c.name === 'app')!.pid;
    sb.write('app.yaml', sleeper('app', 'dependsOn: [db]\nresources: {memory: 48Mi}\nenv: {MODE: two}'));
    expect(reconcile().report.actions.find((a: { name: string }) => a.name === 'app').action).toBe('restart');
    const after = psJson(sb).find((c) => c.name === 'app')!.pid;
    expect(after).not.toBe(before);
    expect(sb.run('exec', 'app', '--', '/bin/sh', '-c', 'echo $MODE').stdout.trim()).toBe('two');
    sb.run('exec', 'app', '--', '/bin/sh', '-c', 'echo kept > /var/tmp/marker');
    sb.write('app.yaml', sleeper('app', 'dependsOn: [db]\nresources: {memory: 48Mi}\nenv: {MODE: two}\nreadOnlyRootfs: true'));
    expect(reconcile().report.actions.find((a: { name: string }) => a.name === 'app').action).toBe('restart');
    expect(sb.run('exec', 'app', '--', '/bin/cat', '/var/tmp/marker').stdout.trim()).toBe('kept');
    sb.write('app.yaml', sleeper('app', 'dependsOn: [db]\nresources: {memory: 48Mi}\nenv: {MODE: two}\nnamespaces: {ipc: host}'));
    expect(reconcile().report.actions.find((a: { name: string }) => a.name === 'app').action).toBe('recreate');
    // A recreate starts from a fresh writable layer.
    expect(sb.run('exec', 'app', '--', '/bin/cat', '/var/tmp/marker').code).not.toBe(0);
  });

  test('an invalid edit keeps the container running on its last spec', () => {
    if (!sb) return;
    const pid = psJson(sb).find((c) => c.name === 'app')!.pid;
    sb.write('app.yaml', sleeper('app', 'resources: {memroy: 1Gi}'));
    const r = reconcile();
    expect(r.code).toBe(1);
    expect(r.report.errors[0]).toMatchObject({ code: 'MANIFEST_UNKNOWN_FIELD' });
    expect(psJson(sb).find((c) => c.name === 'app')).toMatchObject({ status: 'running', pid });
    sb.write('app.yaml', 'apiVersion: corral/v1\nkind: Cont');
    expect(reconcile().code).toBe(1);
    expect(psJson(sb).find((c) => c.name === 'app')).toMatchObject({ status: 'running', pid });
  });

  test('what cannot be built (a port on ::1, IPv6 on the IPv4-only default network) is refused by plan and apply alike, before anything runs', () => {
    if (!sb) return;
    const pid = psJson(sb).find((c) => c.name === 'app')!.pid;
    sb.write('app.yaml', sleeper('app', 'network: {mode: bridge, ports: [{host: 8080, container: 80, hostIP: "::1"}]}'));
    sb.write('web2.yaml', sleeper('web2', 'network: {mode: bridge, ports: [{host: 8081, container: 80, hostIP: "::"}]}'));
    const plan = sb.run('plan', '--output', 'json');
    const planned = JSON.parse(plan.stdout);
    // `::1` cannot be published at all; `::` not on the default network, which is IPv4 only.
    expect(planned.errors.map((e: { code: string; container: string }) => [e.code, e.container]).sort()).toEqual([['MANIFEST_CONFLICT', 'web2'], ['NOT_SUPPORTED', 'app']]);
    expect(planned.actions.find((a: { name: string }) => a.name === 'web2')).toBeUndefined();
    const r = reconcile();
    expect(r.code).toBe(1);
    expect(psJson(sb).find((c) => c.name === 'web2')).toBeUndefined();
    expect(psJson(sb).find((c) => c.name === 'app')).toMatchObject({ status: 'running', pid });
    sb.remove('web2.yaml');
  });

  test('an empty directory prunes nothing without --allow-empty; removal prunes', () => {
    if (!sb) return;
    sb.remove('app.yaml');
    sb.remove('db.yaml');
    const guarded = reconcile();
    expect(guarded.code).toBe(1);
    expect(guarded.report.errors.map((e: { code: string }) => e.code)).toContain('PRUNE_REFUSED');
    expect(psJson(sb).map((c) => c.status)).toEqual(['running', 'running']);
    const removed = sb.run('reconcile', '--once', '--allow-empty', '--output', 'json');
    // Dependents go first: app is removed before db.
    expect(JSON.parse(removed.stdout).actions.map((a: { name: string; action: string }) => [a.name, a.action])).toEqual([['app', 'remove'], ['db', 'remove']]);
    expect(psJson(sb)).toEqual([]);
  });
});
