// Fault: two corral installations on one host. Each state root has an id, marks its cgroups with
// it and (by default) gets a cgroup parent of its own; a root only ever lists, adopts, kills or
// removes its own cgroups. Two roots with default settings run side by side with a container of
// the same name; an orphan cleanup and a prune in one leave the other's containers running with
// the same pids. Roots configured onto one shared parent still keep apart, and a cgroup marked
// before root ids is left to the root whose record names it.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { handleDirs, leafDirs } from '../../src/drivers/cgroups/handle.js';
import { openCgroupManager, readMark, type CgroupHandle } from '../../src/drivers/cgroups/index.js';
import { OWNER_XATTR } from '../../src/drivers/cgroups/mark.js';
import { setXattr } from '../../src/sys/xattr.js';
import { BIN } from '../support/cli.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';
import { requireRoot } from '../support/root.js';
import { NO_LIMITS } from '../drivers/cgroups/support.js';

const SLOW = 300_000;
let a: Sandbox | undefined;
let b: Sandbox | undefined;

beforeAll(() => {
  if (!requireRoot()) return;
  a = sandbox('roots-a', { defaultParent: true });
  b = sandbox('roots-b', { defaultParent: true });
});
afterAll(async () => {
  await a?.cleanup();
  await b?.cleanup();
});

/** `corral ARGS` in a sandbox without waiting: two roots at once. */
function runAsync(sb: Sandbox, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: '/root', ...sb.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function events(sb: Sandbox): Array<{ kind: string; container?: string }> {
  const file = join(sb.root, 'events.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

const pids = (sb: Sandbox): Record<string, number | null> => Object.fromEntries(psJson(sb).map((c) => [c.name, c.pid]));
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

/** Removes a container's state record by hand (its current and kept previous versions). */
function dropRecord(sb: Sandbox, name: string): void {
  for (const f of [`${name}.json`, `${name}.json.prev`]) rmSync(join(sb.root, 'state', f), { force: true });
}

describe('two state roots with default settings on one host', () => {
  test('run side by side with a container of the same name: both converge, nothing is an orphan to the other', async () => {
    if (!a || !b) return;
    a.write('web.yaml', sleeper('web'));
    a.write('api.yaml', sleeper('api'));
    b.write('web.yaml', sleeper('web'));
    b.write('db.yaml', sleeper('db'));
    const [ra, rb] = await Promise.all([runAsync(a, 'reconcile', '--once'), runAsync(b, 'reconcile', '--once')]);
    expect({ a: ra.code, b: rb.code, err: `${ra.stderr}${rb.stderr}` }).toEqual({ a: 0, b: 0, err: '' });

    // Each root has its own id and its own parent, derived from it.
    expect(a.rootId()).toMatch(/^[0-9a-f]{32}$/);
    expect(a.rootId()).not.toBe(b.rootId());
    expect(a.cgroupParent).toBe(`corral-${a.rootId()!.slice(0, 8)}`);
    expect(b.cgroupParent).toBe(`corral-${b.rootId()!.slice(0, 8)}`);
    const info = JSON.parse(a.run('info', '--output', 'json').stdout);
    expect(info.root).toEqual({ path: a.root, id: a.rootId() });
    expect(info.cgroups.parentName).toBe(a.cgroupParent);

    // Converged, both, at once again; and nobody cleaned up anybody's cgroups.
    const [again, againB] = await Promise.all([runAsync(a, 'reconcile', '--once', '--detailed-exitcode'), runAsync(b, 'reconcile', '--once', '--detailed-exitcode')]);
    expect([again.code, againB.code]).toEqual([0, 0]);
    for (const sb of [a, b]) expect(events(sb).filter((e) => e.kind === 'orphan-cleaned')).toEqual([]);
    expect(psJson(a).map((c) => [c.name, c.status])).toEqual([['api', 'running'], ['web', 'running']]);
    expect(psJson(b).map((c) => [c.name, c.status])).toEqual([['db', 'running'], ['web', 'running']]);
    expect(pids(a)['web']).not.toBe(pids(b)['web']);
  }, SLOW);

  test('an orphan cleanup and a prune in one root leave every container of the other running, same pids', async () => {
    if (!a || !b) return;
    const before = pids(b);
    const apiPid = pids(a)['api']!;
    dropRecord(a, 'api');
    const orphaned = a.run('reconcile', '--once', '--output', 'json');
    expect(orphaned.code).toBe(0);
    expect(JSON.parse(orphaned.stdout).orphans.map((o: { kind: string; name: string }) => `${o.kind}:${o.name}`)).toContain('cgroup:api');
    expect(alive(apiPid)).toBe(false);
    expect(pids(b)).toEqual(before);

    const empty = join(a.root, '..', 'empty');
    mkdirSync(empty);
    expect(a.run('reconcile', '--once', '--allow-empty', '--dir', empty).code).toBe(0);
    expect(psJson(a)).toEqual([]);
    expect(pids(b)).toEqual(before);
    for (const pid of Object.values(before)) expect(alive(pid!)).toBe(true);
    expect(b.run('reconcile', '--once', '--detailed-exitcode').code).toBe(0);
    expect(events(b).filter((e) => e.kind === 'orphan-cleaned')).toEqual([]);
  }, SLOW);
});

describe('two state roots configured onto one cgroup parent', () => {
  let c: Sandbox | undefined;
  let d: Sandbox | undefined;
  const shared = `corral-test-shared-${process.pid}`;
  beforeAll(() => {
    if (!requireRoot()) return;
    c = sandbox('roots-c');
    d = sandbox('roots-d');
    // Both on one parent, as CORRAL_CGROUP_PARENT can make them: only the marks keep them apart.
    c.env['CORRAL_CGROUP_PARENT'] = shared;
    d.env['CORRAL_CGROUP_PARENT'] = shared;
  });
  afterAll(async () => {
    await c?.cleanup();
    await d?.cleanup();
    if (c) await (await openCgroupManager({ parentName: shared })).removeAll();
  });

  const handleOf = async (name: string): Promise<CgroupHandle> => {
    const h = (await (await openCgroupManager({ parentName: shared })).list()).find((x) => x.name === name);
    if (!h) throw new Error(`no cgroup ${name} under ${shared}`);
    return h;
  };

  test('neither lists, cleans up or takes over the other\'s cgroups; a name taken by the other is refused', async () => {
    if (!c || !d) return;
    c.write('x.yaml', sleeper('x'));
    d.write('y.yaml', sleeper('y'));
    const [rc, rd] = await Promise.all([runAsync(c, 'reconcile', '--once'), runAsync(d, 'reconcile', '--once')]);
    expect([rc.code, rd.code]).toEqual([0, 0]);
    expect(readMark(handleDirs(await handleOf('x'))[0]!)).toEqual({ role: 'container', rootId: c.rootId() });
    expect(readMark(handleDirs(await handleOf('y'))[0]!)).toEqual({ role: 'container', rootId: d.rootId() });
    const before = { x: pids(c)['x'], y: pids(d)['y'] };
    for (const sb of [c, d]) {
      expect(sb.run('reconcile', '--once', '--detailed-exitcode').code).toBe(0);
      expect(events(sb).filter((e) => e.kind === 'orphan-cleaned')).toEqual([]);
    }
    // `x` in d too: the cgroup is c's, so d's create is refused and c's container runs on.
    d.write('x.yaml', sleeper('x'));
    const taken = JSON.parse(d.run('reconcile', '--once', '--output', 'json').stdout);
    expect(JSON.stringify(taken)).toContain('CGROUP_NOT_OWNED');
    d.remove('x.yaml');
    expect(d.run('reconcile', '--once').code).toBe(0);
    expect({ x: pids(c)['x'], y: pids(d)['y'] }).toEqual(before);
    expect(alive(before.x!)).toBe(true);
  }, SLOW);

  test('a cgroup marked before root ids is the root\'s whose record names it (stamped when adopted); the other warns once and leaves it', async () => {
    if (!c || !d) return;
    const x = await handleOf('x');
    // What a corral from before root ids wrote.
    for (const dir of handleDirs(x)) setXattr(dir, OWNER_XATTR, 'container');
    for (const dir of leafDirs(x)) setXattr(dir, OWNER_XATTR, 'leaf');
    const xPid = pids(c)['x']!;

    const other = d.run('reconcile', '--once', '--detailed-exitcode');
    expect(other.code).toBe(0);
    expect(other.stderr).toMatch(/cgroup `x` under `corral-test-shared-\d+` was made by a corral from before root ids/);
    expect(alive(xPid)).toBe(true);
    expect(readMark(handleDirs(x)[0]!)).toEqual({ role: 'container', rootId: null });

    // Its own root: not an orphan; a restart adopts it and stamps the id.
    expect(c.run('reconcile', '--once', '--detailed-exitcode').code).toBe(0);
    expect(alive(xPid)).toBe(true);
    expect(c.run('restart', 'x').code).toBe(0);
    expect(pids(c)['x']).not.toBe(xPid);
    for (const dir of handleDirs(x)) expect(readMark(dir)).toEqual({ role: 'container', rootId: c.rootId() });
    expect(d.run('reconcile', '--once', '--detailed-exitcode').stderr).not.toMatch(/before root ids/);
  }, SLOW);

  test('an unattributed cgroup no record names is never removed, by either root', async () => {
    if (!c || !d) return;
    // A manager without a root id marks as corral did before root ids.
    const manager = await openCgroupManager({ parentName: shared });
    const made = await manager.create('ghost', NO_LIMITS, { allowAll: true });
    const ghost = handleDirs(made);
    expect(readMark(ghost[0]!)).toEqual({ role: 'container', rootId: null });
    for (const sb of [c, d]) {
      const r = sb.run('reconcile', '--once', '--detailed-exitcode');
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/cgroup `ghost` .* left alone/);
    }
    for (const dir of ghost) expect(existsSync(dir)).toBe(true);
    await manager.destroy(made);
  }, SLOW);
});
