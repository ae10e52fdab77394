// A container cgroup holds its limits and two leaves: `monitor` for the container's monitor and
// `payload` for its processes, in the directories that act on the payload alone (the cgroup2 one,
// the v1 freezer); in the other v1 hierarchies both share the container's directory. "The
// container's processes" (placement, pids, freeze, kill) mean the payload; destroy takes both,
// depth-first. Handles stored before leaves, and before `leavesUnder` (leaves everywhere), keep
// working, and a manager with a root id acts on its own root's cgroups only. Runs on whatever
// layout the host has.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import {
  cloneIntoCgroupDir, handleDirs, monitorDirs, monitorProcsFiles, oomEventsFile, openCgroupManager, payloadDirs, payloadOnlyDirs, procsFiles, readMark, resourcesDrift,
  type CgroupHandle, type CgroupManager,
} from '../../../src/drivers/cgroups/index.js';
import { allHandlePids, leafDirs, payloadDir, splitDirs } from '../../../src/drivers/cgroups/handle.js';
import { readPids } from '../../../src/drivers/cgroups/knob.js';
import { UNSCOPED } from '../../../src/drivers/cgroups/mark.js';
import { hasCode } from '../../../src/errors.js';
import { requireRoot } from '../../support/root.js';
import { DEFAULT_POLICY, eventually, killSpawned, limits, spawnWaiting, testParentName, within } from './support.js';
import { rejection } from '../../support/rejection.js';

const maybe = requireRoot() ? describe : describe.skip;
const opened: CgroupManager[] = [];

async function open(parentName: string, rootId?: string): Promise<CgroupManager> {
  const m = await openCgroupManager({ parentName, ...(rootId ? { rootId } : {}) });
  opened.push(m);
  return m;
}

afterAll(async () => {
  killSpawned();
  for (const m of opened.reverse()) await m.removeAll().catch(() => undefined);
});

/** A process placed in the monitor's leaf, as the shim's monitor places itself. */
async function standInMonitor(handle: CgroupHandle) {
  const proc = await spawnWaiting('exec sleep 1000');
  for (const file of monitorProcsFiles(handle)) writeFileSync(file, String(proc.pid));
  proc.go();
  return proc;
}

maybe('container cgroup leaves', () => {
  test('the cgroup2 directory and the v1 freezer hold a monitor leaf and a payload leaf, marked; the others none; the shim\'s files point into them', async () => {
    const cg = await open(testParentName());
    const handle = await cg.create('layout', limits({ pids: 16 }), DEFAULT_POLICY);
    expect(handle.leaves).toEqual({ monitor: 'monitor', payload: 'payload' });
    const split = handleDirs(handle).filter((d) => d === handle.unified || d === handle.v1['freezer']);
    expect(splitDirs(handle)).toEqual(split.length > 0 ? split : handleDirs(handle));
    for (const dir of handleDirs(handle)) {
      expect(readMark(dir)).toEqual({ role: 'container', rootId: null });
      for (const leaf of ['monitor', 'payload']) {
        if (splitDirs(handle).includes(dir)) expect(readMark(join(dir, leaf))).toEqual({ role: 'leaf', rootId: null });
        else expect(existsSync(join(dir, leaf))).toBe(false);
      }
    }
    // Where a directory holds leaves the payload goes to its leaf, elsewhere to the directory.
    const inDir = (dir: string, leaf: string): string => join(splitDirs(handle).includes(dir) ? join(dir, leaf) : dir, 'cgroup.procs');
    expect([...procsFiles(handle)].sort()).toEqual(handleDirs(handle).map((d) => inDir(d, 'payload')).sort());
    // The monitor joins its leaves first (allHandlePids relies on that order).
    const monitorFiles = monitorProcsFiles(handle);
    expect([...monitorFiles].sort()).toEqual(handleDirs(handle).map((d) => inDir(d, 'monitor')).sort());
    expect(monitorFiles.slice(0, splitDirs(handle).length).every((f) => f.endsWith('/monitor/cgroup.procs'))).toBe(true);
    expect(cloneIntoCgroupDir(handle)).toBe(handle.backend === 'v2' ? join(handle.unified!, 'payload') : null);
    const oom = oomEventsFile(handle);
    if (oom !== null) expect(oom).toBe(handle.backend === 'v2' ? join(handle.unified!, 'memory.events') : join(payloadDir(handle, handle.v1['memory']!), 'memory.oom_control'));
    // The listed handle is the created one.
    expect((await cg.list()).find((h) => h.name === 'layout')).toEqual(handle);
    await cg.destroy(handle);
  });

  test('pids, freeze and kill mean the payload: the monitor lives on; destroy takes both, depth-first', async () => {
    const cg = await open(testParentName());
    const handle = await cg.create('split', limits({ pids: 32 }), DEFAULT_POLICY);
    const monitor = await standInMonitor(handle);
    const payload = await spawnWaiting('sleep 1000 & wait');
    await cg.addProc(handle, payload.pid);
    payload.go();
    await eventually(async () => (await cg.pids(handle)).length === 2, 'the payload shell and its sleep');
    // The payload's leaves hold no monitor; the directories without leaves hold both.
    for (const dir of payloadOnlyDirs(handle)) expect(await readPids(dir)).not.toContain(monitor.pid);
    for (const dir of handleDirs(handle)) if (!splitDirs(handle).includes(dir)) expect(await readPids(dir)).toEqual(expect.arrayContaining([monitor.pid, payload.pid]));
    // pids.current counts the monitor too: the limit is the container's, the monitor's share included.
    if (cg.capabilities.features.pids.available) expect((await cg.stats(handle)).pids.current).toBeGreaterThanOrEqual(3);
    await cg.freeze(handle);
    await cg.thaw(handle);
    await cg.kill(handle);
    expect((await within(payload.exit, 'the payload to die')).signal).toBe('SIGKILL');
    expect(await cg.pids(handle)).toEqual([]);
    for (const dir of monitorDirs(handle)) expect(await readPids(dir)).toContain(monitor.pid);
    for (const dir of handleDirs(handle)) {
      if (!splitDirs(handle).includes(dir)) expect(await readPids(dir)).toEqual(expect.arrayContaining([monitor.pid]));
      expect(await readPids(dir)).not.toContain(payload.pid);
    }
    await cg.destroy(handle);
    expect((await within(monitor.exit, 'the stand-in monitor to die')).signal).toBe('SIGKILL');
    for (const dir of [...leafDirs(handle), ...handleDirs(handle)]) expect(existsSync(dir)).toBe(false);
  });

  test('a monitor exiting while the container\'s processes are listed is never taken for one of them', async () => {
    // The monitor leaves its leaves and the shared directories at once when it exits, which it
    // does the moment its payload dies: exactly when a kill lists what is left.
    const cg = await open(testParentName());
    const handle = await cg.create('exiting', limits({ pids: 16 }), DEFAULT_POLICY);
    const seen: number[] = [];
    for (let round = 0; round < 30; round++) {
      const monitor = await standInMonitor(handle);
      let exited = false;
      void monitor.exit.then(() => { exited = true; });
      for (let read = 0; !exited; read++) {
        if (read === round % 5) monitor.child.kill('SIGKILL');
        seen.push(...await allHandlePids(handle, 'payload'));
        // The knob reads are synchronous underneath: let the exit event through.
        await new Promise((r) => setImmediate(r));
      }
    }
    expect(seen).toEqual([]);
    await cg.destroy(handle);
  });

  test('limits live on the container cgroup, for both leaves; v1 cpusets nest through a live change', async () => {
    const cg = await open(testParentName());
    const cpuset = cg.capabilities.features.cpuset.available && cpus().length >= 2;
    const first = limits({ pids: 20, ...(cpuset ? { cpusetCpus: '0' } : {}) });
    const handle = await cg.create('nest', first, DEFAULT_POLICY);
    const monitor = await standInMonitor(handle);
    const leafCpus = (): string[] => (handle.v1['cpuset'] ? leafDirs(handle).filter((d) => d.startsWith(handle.v1['cpuset']!)) : []).map((d) => readFileSync(join(d, 'cpuset.cpus'), 'utf8').trim());
    if (cpuset) expect(leafCpus().every((c) => c === '0')).toBe(true);
    for (const second of [limits({ pids: 10, ...(cpuset ? { cpusetCpus: '1' } : {}) }), limits({ pids: 30 })]) {
      await cg.set(handle, second);
      expect(resourcesDrift(second, await cg.read(handle))).toEqual([]);
      if (cpuset && second.cpusetCpus !== null) expect(leafCpus().every((c) => c === second.cpusetCpus)).toBe(true);
    }
    monitor.child.kill('SIGKILL');
    await cg.destroy(handle);
  });

  test('a handle stored before leaves still places, lists, drifts, kills and destroys; the next create gives it leaves', async () => {
    const cg = await open(testParentName());
    const r = limits({ pids: 12 });
    const made = await cg.create('old', r, DEFAULT_POLICY);
    // What an older corral made and stored: no leaves.
    for (const leaf of leafDirs(made)) rmdirSync(leaf);
    const { leaves: _none, leavesUnder: _under, ...old } = made;
    const proc = await spawnWaiting('sleep 1000');
    await cg.addProc(old, proc.pid);
    for (const dir of handleDirs(old)) expect(await readPids(dir)).toEqual([proc.pid]);
    expect(await cg.pids(old)).toEqual([proc.pid]);
    proc.go();
    expect((await cg.list()).find((h) => h.name === 'old')).toEqual(old);
    expect(resourcesDrift(r, await cg.read(old))).toEqual([]);
    expect((await cg.checkDevices(old, DEFAULT_POLICY)).enforced).toBe(true);
    await cg.kill(old);
    expect((await within(proc.exit, 'the old-layout process to die')).signal).toBe('SIGKILL');
    // A restart adopts the cgroup and gives it its leaves.
    const again = await cg.create('old', r, DEFAULT_POLICY);
    expect(again.leaves).toBeDefined();
    for (const leaf of leafDirs(again)) expect(existsSync(leaf)).toBe(true);
    await cg.destroy(old);
    for (const dir of handleDirs(old)) expect(existsSync(dir)).toBe(false);
  });
});

maybe('container cgroup leaves, stored before leavesUnder', () => {
  test('a handle with leaves in every directory still places, kills the payload alone and destroys; the next create keeps leaves where they are needed only', async () => {
    const cg = await open(testParentName());
    const made = await cg.create('every', limits({ pids: 16 }), DEFAULT_POLICY);
    if (made.leavesUnder === undefined) {
      process.stderr.write('note: every directory holds leaves on this host (v2, or v1 without freezer and cgroup2)\n');
      await cg.destroy(made);
      return;
    }
    // What a corral from before leavesUnder made and stored: the two leaves in every directory.
    const { leavesUnder: _under, ...every } = made;
    for (const dir of handleDirs(every)) {
      for (const leaf of ['monitor', 'payload']) {
        if (existsSync(join(dir, leaf))) continue;
        mkdirSync(join(dir, leaf));
        UNSCOPED.mark(join(dir, leaf), 'leaf');
        // A new v1 cpuset starts empty and takes no process until filled, as corral filled it.
        if (dir === every.v1['cpuset']) for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(dir, leaf, f), readFileSync(join(dir, f)));
      }
    }
    expect(leafDirs(every)).toHaveLength(2 * handleDirs(every).length);
    expect((await cg.list()).find((h) => h.name === 'every')).toEqual(every);
    const monitor = await standInMonitor(every);
    for (const dir of monitorDirs(every)) expect(await readPids(dir)).toContain(monitor.pid);
    const payload = await spawnWaiting('sleep 1000');
    await cg.addProc(every, payload.pid);
    for (const dir of payloadDirs(every)) expect(await readPids(dir)).toEqual([payload.pid]);
    expect(await cg.pids(every)).toEqual([payload.pid]);
    payload.go();
    await cg.kill(every);
    expect((await within(payload.exit, 'the payload to die')).signal).toBe('SIGKILL');
    for (const dir of monitorDirs(every)) expect(await readPids(dir)).toContain(monitor.pid);
    monitor.child.kill('SIGKILL');
    await within(monitor.exit, 'the stand-in monitor to die');
    // The next start: the idle leaves of the directories that need none are removed.
    const again = await cg.create('every', limits({ pids: 16 }), DEFAULT_POLICY);
    expect(again).toEqual(made);
    for (const dir of handleDirs(again)) for (const leaf of ['monitor', 'payload']) expect(existsSync(join(dir, leaf))).toBe(splitDirs(again).includes(dir));
    await cg.destroy(again);
    for (const dir of handleDirs(again)) expect(existsSync(dir)).toBe(false);
  });
});

maybe('state roots on one parent', () => {
  const A = 'a'.repeat(32);
  const B = 'b'.repeat(32);

  test('each root lists, kills and removes only its own cgroups; one from before root ids is adopted, then its', async () => {
    const parentName = testParentName();
    const a = await open(parentName, A);
    const b = await open(parentName, B);
    const none = await open(parentName);
    const one = await a.create('one', limits({}), DEFAULT_POLICY);
    const two = await b.create('two', limits({}), DEFAULT_POLICY);
    expect(readMark(handleDirs(one)[0]!)).toEqual({ role: 'container', rootId: A });
    expect(readMark(join(splitDirs(one)[0]!, 'payload'))).toEqual({ role: 'leaf', rootId: A });
    expect((await a.list()).map((h) => h.name)).toEqual(['one']);
    expect((await b.list()).map((h) => h.name)).toEqual(['two']);
    // One name alone (a start or a teardown among many): the same answer, the same ownership rules.
    expect(await a.list('one')).toEqual((await a.list()).filter((h) => h.name === 'one'));
    expect(await a.list('two')).toEqual([]);
    expect((await b.list('two')).map((h) => h.name)).toEqual(['two']);
    for (const trick of ['..', '.', '', 'one/payload']) expect(await a.list(trick)).toEqual([]);
    // All but some (orphan detection leaves out the names it has records for).
    const three = await a.create('three', limits({}), DEFAULT_POLICY);
    expect((await a.list({ except: new Set(['one']) })).map((h) => h.name)).toEqual(['three']);
    expect((await a.list({ except: new Set(['one', 'three']) }))).toEqual([]);
    await a.destroy(three);

    // Another root's cgroup: never killed, removed or taken over.
    for (const attempt of [a.kill(two), a.destroy(two), a.set(two, limits({ pids: 5 })), a.create('two', limits({}), DEFAULT_POLICY)]) {
      const err = await rejection(attempt);
      expect(hasCode(err, 'CGROUP_NOT_OWNED')).toBe(true);
      expect((err as Error).message).toContain('belongs to another corral state root');
    }
    for (const dir of handleDirs(two)) expect(existsSync(dir)).toBe(true);

    // Made before root ids (no id in the mark): neither root's until one adopts it.
    const old = await none.create('old', limits({}), DEFAULT_POLICY);
    expect((await a.list()).map((h) => h.name)).toEqual(['one']);
    expect((await a.listWithoutRootId()).map((h) => h.name)).toEqual(['old']);
    await a.adopt(old);
    for (const dir of [...handleDirs(old), ...leafDirs(old)]) expect(readMark(dir)?.valueOf()).toMatchObject({ rootId: A });
    expect((await a.list()).map((h) => h.name)).toEqual(['old', 'one']);
    expect(await b.listWithoutRootId()).toEqual([]);

    // A's uninstall leaves B's cgroup, and the parent B still uses.
    await a.removeAll();
    for (const dir of [...handleDirs(one), ...handleDirs(old)]) expect(existsSync(dir)).toBe(false);
    for (const dir of handleDirs(two)) expect(existsSync(dir)).toBe(true);
    await b.removeAll();
    for (const dir of handleDirs(two)) expect(existsSync(join(dir, '..'))).toBe(false);
  });
});
