// apply's logic against an in-memory host: order, isolation of failures, and recovery from a
// crash at every step. The same scenarios run against the real kernel in test/reconciler/.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { reconcileOnce } from '../../src/reconciler/reconcile.js';
import { layout } from '../../src/state/layout.js';
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
    // The store dies with the process: a write after the crash point never reaches the disk.
    const dying = new StateStore(store.layout);
    const put = dying.put.bind(dying);
    const remove = dying.remove.bind(dying);
    dying.put = async (r) => { host.tick(`store.put ${r.name}`); return put(r); };
    dying.remove = async (n) => { host.tick(`store.remove ${n}`); return remove(n); };
    await reconcileOnce(set, host.ports(), dying, OPTS).catch((err) => { if (!(err instanceof Crash)) throw err; });
    const crashed = host.dead;
    host.crashAt = Infinity;
    host.dead = false;
    // The next run, a fresh corral process, converges; the one after has nothing to do.
    const again = await reconcileOnce(set, host.ports(), new StateStore(store.layout), OPTS);
    expect(again.failures).toBe(false);
    const final = await reconcileOnce(set, host.ports(), new StateStore(store.layout), OPTS);
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
