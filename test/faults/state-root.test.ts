// Faults of the state root and the host around it: a read-only state root, a stale lock note from
// a dead process, a truncated serial file, a container cgroup removed by hand. Each leaves every
// container running and its data in place, fails (if at all) with a typed error, and the next
// run converges.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { openCgroupManager } from '../../src/drivers/cgroups/index.js';
import { corral, type CliResult } from '../support/cli.js';
import { requireRoot } from '../support/root.js';
import { sleeper } from '../support/host-sandbox.js';

let base: string;
let root: string;
let manifests: string;
let env: Record<string, string>;
const parent = `corral-test-sroot-${process.pid}`;
const run = (...args: string[]): CliResult => corral(args, { env });
const ps = (): Array<{ name: string; status: string; pid: number | null }> => JSON.parse(run('ps', '--output', 'json').stdout);

beforeAll(() => {
  if (!requireRoot()) return;
  base = mkdtempSync(join(tmpdir(), 'corral-sroot-'));
  root = join(base, 'root');
  manifests = join(base, 'manifests');
  mkdirSync(root);
  mkdirSync(manifests);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0755', 'tmpfs', root]);
  env = { CORRAL_ROOT: root, CORRAL_MANIFESTS: manifests, CORRAL_CGROUP_PARENT: parent, CORRAL_LOG_LEVEL: 'warn' };
  writeFileSync(join(manifests, 'svc.yaml'), sleeper('svc'));
});

afterAll(async () => {
  if (!base) return;
  spawnSync('sh', ['-c', `while grep -q " ${root} .* ro," /proc/self/mountinfo; do umount ${root} || break; done`]);
  corral(['reconcile', '--once', '--allow-empty', '--dir', join(base, 'nothing')], { env });
  await (await openCgroupManager({ parentName: parent })).removeAll();
  spawnSync('umount', ['-l', root]);
  rmSync(base, { recursive: true, force: true });
});

describe('state root faults', () => {
  test('a read-only state root: a typed error, containers untouched; read-write again, it converges', () => {
    if (!base) return;
    expect(run('reconcile', '--once').code).toBe(0);
    const pid = ps()[0]!.pid;
    // A read-only mount over the state root (remounting the filesystem itself would wait for the
    // monitors' open log files): every new write corral makes there is refused with EROFS.
    execFileSync('mount', ['--bind', root, root]);
    execFileSync('mount', ['-o', 'remount,bind,ro', root]);
    writeFileSync(join(manifests, 'other.yaml'), sleeper('other'));
    const r = run('reconcile', '--once');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/READ_ONLY_FILESYSTEM .*read-only/);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(ps()).toEqual([expect.objectContaining({ name: 'svc', status: 'running', pid })]);
    execFileSync('umount', [root]);
    expect(run('reconcile', '--once').code).toBe(0);
    expect(ps().map((c) => [c.name, c.status])).toEqual([['other', 'running'], ['svc', 'running']]);
    expect(ps().find((c) => c.name === 'svc')!.pid).toBe(pid);
  });

  test('a lock note left by a dead process does not block anyone', () => {
    if (!base) return;
    writeFileSync(join(root, 'lock'), JSON.stringify({ pid: 4_000_000, command: 'corral reconcile --once', since: '2020-01-01T00:00:00Z' }));
    const r = run('reconcile', '--once', '--lock-timeout', '1s');
    expect(r.code).toBe(0);
  });

  test('a truncated serial file: the serial is found again from the records', () => {
    if (!base) return;
    writeFileSync(join(root, 'state', 'meta.json'), '{"ser');
    const plan = JSON.parse(run('plan', '--output', 'json').stdout);
    expect(plan.stateSerial).toBeGreaterThan(0);
    expect(plan.actions.every((a: { action: string }) => a.action === 'none')).toBe(true);
    expect(run('reconcile', '--once').code).toBe(0);
  });

  test('a container cgroup removed by hand: restarted into a new one, nothing left behind', () => {
    if (!base) return;
    const inspect = JSON.parse(run('inspect', 'svc').stdout);
    const pid = inspect.runtime.init.pid as number;
    // Empty the cgroup (its leaves too) into corral's parent (a hand at work), then remove it in one hierarchy.
    const pidsDir = inspect.cgroup.v1.pids as string | undefined ?? inspect.cgroup.unified as string;
    const inside = [...['monitor', 'payload'].map((leaf) => join(pidsDir, leaf)).filter((d) => existsSync(d)), pidsDir];
    for (const d of inside) for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(dirname(pidsDir), 'cgroup.procs'), p);
    for (const d of inside) rmdirSync(d);
    const r = JSON.parse(run('reconcile', '--once', '--output', 'json').stdout);
    expect(r.actions.find((a: { name: string }) => a.name === 'svc')).toMatchObject({ action: 'restart', reasons: [{ code: 'cgroup-missing', text: 'its cgroup disappeared: limits are not enforced' }] });
    const now = ps().find((c) => c.name === 'svc')!;
    expect(now.status).toBe('running');
    expect(now.pid).not.toBe(pid);
    // The old init, and with it its pid namespace, is gone: nothing leaked into the parent.
    expect(spawnSync('kill', ['-0', String(pid)]).status).not.toBe(0);
    expect(readFileSync(join(dirname(pidsDir), 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)).toEqual([]);
  });
});
