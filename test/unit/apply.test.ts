// apply's logic against an in-memory host: order, isolation of failures, and recovery from a
// crash at every step. The same scenarios run against the real kernel in test/reconciler/.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { CorralError } from '../../src/errors.js';
import { reconcileOnce } from '../../src/reconciler/reconcile.js';
import { layout } from '../../src/state/layout.js';
import { canTransition, type ContainerStatus } from '../../src/state/record.js';
import { StateStore } from '../../src/state/store.js';
import { manifest } from '../support/memory-source.js';
import { loadSet } from '../support/schema.js';
import { Crash, FakeHost } from '../support/fake-host.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function freshStore(): StateStore {
  const root = mkdtempSync(join(tmpdir(), 'corral-apply-'));
  roots.push(root);
  return new StateStore(layout(root));
}

const OPTS = { dryRun: false, allowEmpty: false, parallelism: 4, stepTimeoutMs: 5000 };

function manifests(n: number, extra: (i: number) => string = () => ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`/m/c${i}.yaml`] = manifest(`c${i}`, extra(i));
  return files;
}

describe('apply', () => {
  test('creates, then a second run is a no-op', async () => {
    const host = new FakeHost();
    const store = freshStore();
    const set = await loadSet(manifests(3));
    const first = await reconcileOnce(set, host.ports(), store, OPTS);
    expect(first.changed).toBe(true);
    expect(first.failures).toBe(false);
    expect(first.applied!.results.map((r) => [r.name, r.action, r.ok])).toEqual([['c0', 'create', true], ['c1', 'create', true], ['c2', 'create', true]]);
    const pids = [...host.processes.values()].map((p) => p.pid);
    const second = await reconcileOnce(set, host.ports(), store, OPTS);
    expect(second.changed).toBe(false);
    expect(second.plan.changes.every((c) => c.action === 'none')).toBe(true);
    expect([...host.processes.values()].map((p) => p.pid)).toEqual(pids);
  });

  test('dependencies start first; a failed dependency blocks its dependents only', async () => {
    const host = new FakeHost();
    host.failStart.add('db');
    const set = await loadSet({ '/m/app.yaml': manifest('app', 'dependsOn: [db]'), '/m/db.yaml': manifest('db'), '/m/solo.yaml': manifest('solo') });
    const out = await reconcileOnce(set, host.ports(), freshStore(), OPTS);
    const byName = Object.fromEntries(out.applied!.results.map((r) => [r.name, r]));
    expect(byName['db']!.ok).toBe(false);
    expect(byName['app']!.error!.summary).toBe('not started: dependency `db` failed');
    expect(byName['solo']!.ok).toBe(true);
    expect(out.failures).toBe(true);
    expect(host.log.indexOf('runtime.start db')).toBeGreaterThanOrEqual(0);
    expect(host.log).not.toContain('runtime.start app');
  });

  test('a driver\'s error code reaches the result untouched; a step past its deadline is stopped, not left running', async () => {
    const host = new FakeHost();
    const ports = host.ports();
    let sawAbort = false;
    const hanging: typeof ports = {
      ...ports,
      cgroups: {
        ...ports.cgroups,
        create: async (name, ...rest) => {
          if (name === 'bad') throw new CorralError('CGROUP_WRITE_FAILED', 'write `1` to `memory.max`: EBUSY');
          return ports.cgroups.create(name, ...rest);
        },
      },
      runtime: {
        ...ports.runtime,
        start: (req, signal) => (req.name === 'slow'
          ? new Promise((_, reject) => signal.addEventListener('abort', () => { sawAbort = true; reject(new Error('shim killed')); }))
          : ports.runtime.start(req, signal)),
      },
    };
    const set = await loadSet({ '/m/bad.yaml': manifest('bad'), '/m/slow.yaml': manifest('slow'), '/m/fine.yaml': manifest('fine') });
    const out = await reconcileOnce(set, hanging, freshStore(), { ...OPTS, stepTimeoutMs: 50 });
    const byName = Object.fromEntries(out.applied!.results.map((r) => [r.name, r]));
    expect(byName['bad']!.error!.code).toBe('CGROUP_WRITE_FAILED');
    expect(byName['slow']!.error!.code).toBe('TIMEOUT');
    expect(byName['slow']!.error!.summary).toMatch(/start the container took longer than/);
    expect(sawAbort).toBe(true);
    expect(byName['fine']!.ok).toBe(true);
  });

  test('a container killed after its stopTimeout is a STOP_TIMEOUT warning of the pass, not silence', async () => {
    const host = new FakeHost();
    const store = freshStore();
    await reconcileOnce(await loadSet({ '/m/a.yaml': manifest('a') }), host.ports(), store, OPTS);
    const ports = host.ports();
    const stubborn = { ...ports, runtime: { ...ports.runtime, stop: async (...args: Parameters<typeof ports.runtime.stop>) => ({ ...(await ports.runtime.stop(...args)), killedAfterTimeout: true }) } };
    const out = await reconcileOnce(await loadSet({ '/m/a.yaml': manifest('a', 'env: {V: "2"}') }), stubborn, store, OPTS);
    expect(out.plan.changes[0]!.action).toBe('restart');
    expect(out.failures).toBe(false);
    expect(out.diagnostics.filter((d) => d.code === 'STOP_TIMEOUT').map((d) => [d.severity, d.container])).toEqual([['warning', 'a']]);
  });

  test('an exit is reported by the pass that records it, and by no later one', async () => {
    const host = new FakeHost();
    const store = freshStore();
    const set = await loadSet({ '/m/a.yaml': manifest('a') });
    await reconcileOnce(set, host.ports(), store, OPTS);
    const p = host.processes.get('a')!;
    const exit = { code: 3, signal: null, oomKilled: false, at: new Date().toISOString() };
    host.processes.set('a', { ...p, running: false, exit });
    const first = await reconcileOnce(set, host.ports(), store, OPTS);
    expect(first.exits).toEqual([{ name: 'a', exit }]);
    expect(first.plan.changes[0]).toMatchObject({ action: 'none', reasons: [{ code: 'exited' }] });
    const second = await reconcileOnce(set, host.ports(), store, OPTS);
    expect(second.plan.changes[0]).toMatchObject({ action: 'none', reasons: [{ code: 'exited' }] });
    expect(second.exits).toEqual([]);
  });

  test('a memory change is applied live: same process, new limit', async () => {
    const host = new FakeHost();
    const store = freshStore();
    await reconcileOnce(await loadSet({ '/m/a.yaml': manifest('a', 'resources: {memory: 64Mi}') }), host.ports(), store, OPTS);
    const pid = host.processes.get('a')!.pid;
    const out = await reconcileOnce(await loadSet({ '/m/a.yaml': manifest('a', 'resources: {memory: 128Mi}') }), host.ports(), store, OPTS);
    expect(out.plan.changes[0]!.action).toBe('update');
    expect(host.processes.get('a')!.pid).toBe(pid);
    expect(host.cgroups.get('a')!.memoryBytes).toBe(128 * 2 ** 20);
  });

  test.each(Array.from({ length: 60 }, (_, i) => i + 1))('a crash at step %i of a 6-container converge is repaired by the next run', async (crashAt) => {
    const host = new FakeHost();
    const store = freshStore();
    // Half the containers exist already with an old spec, so the crash can land in restarts and removals too.
    await reconcileOnce(await loadSet({ ...manifests(4, () => 'env: {V: "1"}'), '/m/old.yaml': manifest('old') }), host.ports(), store, OPTS);
    const set = await loadSet(manifests(6, (i) => (i % 2 ? 'env: {V: "2"}' : 'env: {V: "1"}\nresources: {memory: 32Mi}')));
    host.crashAt = host.stepCount + crashAt;
    // Every status written, by every run, is a move the status machine allows (src/state/record.ts).
    const statuses = new Map<string, ContainerStatus | null>((await store.load()).records.map((r) => [r.name, r.status]));
    const illegal: string[] = [];
    const checked = (s: StateStore, before?: (what: string) => void): StateStore => {
      const put = s.put.bind(s);
      const remove = s.remove.bind(s);
      s.put = async (r) => {
        before?.(`store.put ${r.name}`);
        const from = statuses.get(r.name) ?? null;
        if (!canTransition(from, r.status)) illegal.push(`${r.name}: ${from} → ${r.status}`);
        const written = await put(r);
        statuses.set(r.name, r.status);
        return written;
      };
      s.remove = async (n) => { before?.(`store.remove ${n}`); await remove(n); statuses.set(n, null); };
      return s;
    };
    // The store dies with the process: a write after the crash point never reaches the disk.
    const dying = checked(new StateStore(store.layout), (what) => host.tick(what));
    await reconcileOnce(set, host.ports(), dying, OPTS).catch((err) => { if (!(err instanceof Crash)) throw err; });
    const crashed = host.dead;
    host.crashAt = Infinity;
    host.dead = false;
    // What the dead process did write is what the next one starts from.
    statuses.clear();
    for (const r of (await new StateStore(store.layout).load()).records) statuses.set(r.name, r.status);
    // The next run, a fresh corral process, converges; the one after has nothing to do.
    const again = await reconcileOnce(set, host.ports(), checked(new StateStore(store.layout)), OPTS);
    expect(again.failures).toBe(false);
    const final = await reconcileOnce(set, host.ports(), checked(new StateStore(store.layout)), OPTS);
    expect(illegal).toEqual([]);
    expect(final.plan.changes.map((c) => c.action).filter((a) => a !== 'none')).toEqual([]);
    const names = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
    for (const n of names) expect(host.runningCount(n)).toBe(1);
    expect([...host.cgroups.keys()].sort()).toEqual(names);
    expect([...host.rootfs].sort()).toEqual(names);
    expect([...host.processes.keys()].sort()).toEqual(names);
    expect((await new StateStore(store.layout).load()).records.map((r) => r.name)).toEqual(names);
    // Past the last step, the converge simply completed.
    if (crashAt <= 30) expect(crashed).toBe(true);
  });
});

describe('apply: networks', () => {
  const back = 'apiVersion: corral/v1\nkind: Network\nmetadata: {name: back}\nspec: {subnet: 10.90.0.0/24}\n';

  test('a network is made before the containers that join it and removed after they left; a second pass does nothing', async () => {
    const host = new FakeHost();
    const store = freshStore();
    const files = { '/m/back.yaml': back, '/m/web.yaml': manifest('web', 'network: {mode: bridge, name: back}') };
    const first = await reconcileOnce(await loadSet(files), host.ports(), store, OPTS);
    expect(first.applied!.networks.map((r) => [r.name, r.action, r.ok])).toEqual([['back', 'create', true]]);
    expect(host.log.indexOf('network.ensure back')).toBeLessThan(host.log.indexOf('runtime.start web'));
    const second = await reconcileOnce(await loadSet(files), host.ports(), store, OPTS);
    expect(second.changed).toBe(false);
    expect(second.plan.networks.map((n) => n.action)).toEqual(['none']);
    host.log.length = 0;
    const third = await reconcileOnce(await loadSet({ '/m/other.yaml': manifest('other') }), host.ports(), store, OPTS);
    expect(third.applied!.networks.map((r) => [r.name, r.action, r.ok])).toEqual([['back', 'remove', true]]);
    expect(host.log.indexOf('network.remove back')).toBeGreaterThan(host.log.indexOf('runtime.stop web'));
    expect(host.networks.size).toBe(0);
  });

  test('a network that cannot be made blocks the containers on it only', async () => {
    const host = new FakeHost();
    host.failNetwork.add('back');
    const files = { '/m/back.yaml': back, '/m/web.yaml': manifest('web', 'network: {mode: bridge, name: back}'), '/m/solo.yaml': manifest('solo') };
    const out = await reconcileOnce(await loadSet(files), host.ports(), freshStore(), OPTS);
    expect(out.applied!.networks[0]).toMatchObject({ name: 'back', ok: false, error: { network: 'back' } });
    const byName = Object.fromEntries(out.applied!.results.map((r) => [r.name, r]));
    expect(byName['web']!.error!.summary).toBe('not started: network `back` could not be made');
    expect(byName['solo']!.ok).toBe(true);
    expect(out.failures).toBe(true);
  });
});
