// Fault: damaged state records. A record is never silently dropped: a damaged one falls back to
// its kept previous version; with both unreadable the container is `unknown` and nothing of it is
// started, stopped, removed or cleaned up — its process keeps running, its writable layer keeps
// its data — until `corral state repair` rebuilds the record from the host.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireRoot } from '../support/root.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';

let sb: Sandbox;
beforeAll(() => {
  if (requireRoot()) sb = sandbox('fault-records');
});
afterAll(async () => {
  await sb?.cleanup();
});

const recordFile = (name: string): string => join(sb.root, 'state', `${name}.json`);
const truncate = (path: string): void => {
  const text = readFileSync(path, 'utf8');
  writeFileSync(path, text.slice(0, Math.floor(text.length / 2)));
};
const pidOf = (name: string): number | null => psJson(sb).find((c) => c.name === name)?.pid ?? null;

describe('damaged state records', () => {
  test('a truncated record falls back to its previous version: nothing changes on the host', () => {
    if (!sb) return;
    sb.write('a.yaml', sleeper('a'));
    sb.write('b.yaml', sleeper('b'));
    // A job that ends on its own: `state check` must not count that as a problem.
    sb.write('job.yaml', 'apiVersion: corral/v1\nkind: Container\nmetadata: {name: job}\nspec:\n  rootfs: {host: {}}\n  command: [/bin/true]\n  restartPolicy: Never\n');
    expect(sb.run('reconcile', '--once').code).toBe(0);
    for (let i = 0; i < 100 && psJson(sb).find((c) => c.name === 'job')?.status !== 'exited'; i++) spawnSync('sleep', ['0.1']);
    expect(sb.run('state', 'check')).toMatchObject({ code: 0, stdout: expect.stringMatching(/3 records, all consistent with the host/) });
    expect(sb.run('exec', 'a', '--', '/bin/sh', '-c', 'echo precious > /keep').code).toBe(0);
    // A few more writes of the record, as a running container's life makes them.
    expect(sb.run('restart', 'a').code).toBe(0);
    const pid = pidOf('a');
    truncate(recordFile('a'));
    expect(psJson(sb).find((c) => c.name === 'a')).toMatchObject({ status: 'running', pid });
    const r = sb.run('reconcile', '--once', '--output', 'json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.warnings).toContainEqual(expect.objectContaining({ code: 'STATE_CORRUPT', summary: expect.stringMatching(/using its previous version/) }));
    expect(report.actions.every((x: { action: string }) => x.action === 'none')).toBe(true);
    // The next write replaced the damaged file.
    expect(JSON.parse(readFileSync(recordFile('a'), 'utf8')).name).toBe('a');
    expect(pidOf('a')).toBe(pid);
  });

  test('with both versions unreadable the container is unknown, and left alone', () => {
    if (!sb) return;
    const pid = pidOf('a');
    const bPid = pidOf('b');
    writeFileSync(recordFile('a'), '{"format": 1, "name": "a", "stat');
    writeFileSync(`${recordFile('a')}.prev`, 'garbage');
    const a = psJson(sb).find((c) => c.name === 'a');
    expect(a).toMatchObject({ status: 'unknown', error: expect.stringMatching(/state record unreadable/) });
    const plan = JSON.parse(sb.run('plan', '--output', 'json').stdout);
    expect(plan.actions.find((x: { name: string }) => x.name === 'a')).toMatchObject({ action: 'none', reasons: [{ code: 'record-unknown', text: expect.stringMatching(/^record-unknown: /) }] });
    expect(plan.orphans).toEqual([]);
    const r = sb.run('reconcile', '--once', '--output', 'json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors.map((e: { code: string }) => e.code)).toContain('STATE_CORRUPT');
    // Untouched: the same process, the record file as it was, the other container as it was.
    expect(readFileSync(recordFile('a'), 'utf8')).toBe('{"format": 1, "name": "a", "stat');
    expect(pidOf('b')).toBe(bPid);
    expect(sb.run('stop', 'a').stderr).toMatch(/STATE_CORRUPT [^]*corral state repair a/);
    const check = sb.run('state', 'check');
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/problem a: .*corral state repair a/);
    // Its writable layer is where it was; exec needs the record's spec, so it is refused too.
    expect(readFileSync(join(sb.root, 'containers', 'a', 'upper', 'keep'), 'utf8')).toBe('precious\n');
    expect(sb.run('exec', 'a', '--', '/bin/true').stderr).toMatch(/STATE_CORRUPT/);
    expect(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[0])).toBe(pid);
  });

  test('state repair rebuilds the record; the next reconcile restarts it with its manifest, data kept', () => {
    if (!sb) return;
    const pid = pidOf('a');
    const repaired = sb.run('state', 'repair', 'a');
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toMatch(/record rebuilt from the host \(running.*the next reconcile restarts it/);
    const r = JSON.parse(sb.run('reconcile', '--once', '--output', 'json').stdout);
    expect(r.actions.find((x: { name: string }) => x.name === 'a')).toMatchObject({ action: 'restart', reasons: [{ code: 'record-repaired', text: expect.stringMatching(/^record-repaired: /) }] });
    const now = psJson(sb).find((c) => c.name === 'a')!;
    expect(now.status).toBe('running');
    expect(now.pid).not.toBe(pid);
    expect(sb.run('exec', 'a', '--', '/bin/cat', '/keep').stdout).toBe('precious\n');
    expect(sb.run('state', 'check').code).toBe(0);
    expect(JSON.parse(sb.run('plan', '--output', 'json').stdout).actions.every((x: { action: string }) => x.action === 'none')).toBe(true);
  });
});
