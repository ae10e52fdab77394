// The parts apply is made of, alone: the dependency scheduler, the step deadline that really
// stops a step, the status machine, driver handles read back field by field, and the null
// network driver that refuses what is not built.

import { describe, expect, test } from '@jest/globals';
import { decodeCgroupHandle, encodeCgroupHandle } from '../../src/drivers/cgroups/handle-codec.js';
import { leafDirs, monitorProcsFiles, procsFiles } from '../../src/drivers/cgroups/handle.js';
import { decodeRuntimeHandle, encodeRuntimeHandle } from '../../src/drivers/namespaces/runtime-handle.js';
import { nullNetworkPort } from '../../src/drivers/network/port.js';
import { isCorralError } from '../../src/errors.js';
import { withDeadline } from '../../src/reconciler/apply/deadline.js';
import { schedule, type Job } from '../../src/reconciler/apply/schedule.js';
import { canTransition, TRANSITIONS, transition, type ContainerStatus } from '../../src/state/record.js';
import { desiredOne, recordFor } from '../support/plan-fixtures.js';

const job = (name: string, waitsFor: string[] = [], needsSuccess = true): Job => ({ name, waitsFor, needsSuccess });
const never = new AbortController().signal;

describe('schedule', () => {
  test('a job starts only after what it waits for, and at most `parallelism` run at once', async () => {
    const events: string[] = [];
    let running = 0;
    let peak = 0;
    const results = await schedule([job('db'), job('web', ['db']), job('cache'), job('worker', ['db', 'cache'])], 2, never, async (j) => {
      running++;
      peak = Math.max(peak, running);
      events.push(`start ${j.name}`);
      await new Promise((r) => setTimeout(r, 5));
      events.push(`end ${j.name}`);
      running--;
      return { ok: true, name: j.name };
    });
    expect(results.map((r) => r.name)).toEqual(['db', 'web', 'cache', 'worker']);
    expect(peak).toBe(2);
    expect(events.indexOf('start web')).toBeGreaterThan(events.indexOf('end db'));
    expect(events.indexOf('start worker')).toBeGreaterThan(Math.max(events.indexOf('end db'), events.indexOf('end cache')));
  });

  test('a failed dependency blocks what needs it, not what merely waits for it', async () => {
    const blocked: Record<string, string | null> = {};
    await schedule([job('db'), job('web', ['db']), job('old', ['db'], false)], 4, never, async (j, by) => {
      blocked[j.name] = by;
      return { ok: j.name !== 'db' };
    });
    expect(blocked).toEqual({ db: null, web: 'db', old: null });
  });

  test('a cycle still runs, in order; an abort starts nothing new', async () => {
    const order: string[] = [];
    await schedule([job('a', ['b']), job('b', ['a'])], 2, never, async (j) => { order.push(j.name); return { ok: true }; });
    expect(order).toEqual(['a', 'b']);
    const ac = new AbortController();
    const ran: string[] = [];
    await schedule([job('x'), job('y', ['x'])], 1, ac.signal, async (j) => { ran.push(j.name); ac.abort(); return { ok: true }; });
    expect(ran).toEqual(['x']);
  });
});

describe('withDeadline', () => {
  test('a step past its deadline gets TIMEOUT, and its signal tells the driver to stop', async () => {
    let seen: AbortSignal | undefined;
    let stoppedWorking = false;
    const err = await withDeadline(never, 20, 'start the container', 'web', (signal) => {
      seen = signal;
      return new Promise((_, reject) => signal.addEventListener('abort', () => { stoppedWorking = true; reject(new Error('killed the shim')); }));
    }).catch((e: unknown) => e);
    expect(isCorralError(err) && err.code).toBe('TIMEOUT');
    expect(seen?.aborted).toBe(true);
    expect(stoppedWorking).toBe(true);
  });

  test('the pass being aborted stops the step too (ABORTED), even one that ignores its signal', async () => {
    const pass = new AbortController();
    setTimeout(() => pass.abort(), 10);
    const err = await withDeadline(pass.signal, 60_000, 'prepare the root filesystem', 'web', () => new Promise(() => undefined)).catch((e: unknown) => e);
    expect(isCorralError(err) && err.code).toBe('ABORTED');
  });

  test('a step in time returns its value and its own error code untouched', async () => {
    expect(await withDeadline(never, 1000, 'x', 'web', async () => 42)).toBe(42);
    const { CorralError } = await import('../../src/errors.js');
    const err = await withDeadline(never, 1000, 'x', 'web', async () => { throw new CorralError('CGROUP_WRITE_FAILED', 'nope'); }).catch((e: unknown) => e);
    expect(isCorralError(err) && err.code).toBe('CGROUP_WRITE_FAILED');
  });
});

describe('the status machine', () => {
  const all = Object.keys(TRANSITIONS) as ContainerStatus[];

  test('a new record starts as `creating`; nothing else comes from nothing', () => {
    expect(all.filter((s) => canTransition(null, s))).toEqual(['creating']);
  });

  test('the table is tight: the moves a reconciler must never make are refused', () => {
    const forbidden: Array<[ContainerStatus, ContainerStatus]> = [
      ['creating', 'stopped'], ['creating', 'exited'], ['creating', 'stopping'], ['running', 'failed'], ['running', 'stopped'],
      ['stopping', 'creating'], ['stopping', 'exited'], ['stopped', 'stopping'], ['stopped', 'exited'], ['exited', 'stopping'],
      ['removing', 'running'], ['removing', 'stopped'], ['failed', 'exited'], ['crashloop', 'exited'],
    ];
    for (const [from, to] of forbidden) expect([from, to, canTransition(from, to)]).toEqual([from, to, false]);
    // A recreate of a container whose removal was interrupted goes through `creating`.
    expect(canTransition('removing', 'creating')).toBe(true);
  });

  test('transition() throws STATE_TRANSITION for a forbidden move', async () => {
    const r = recordFor(await desiredOne('web'), { status: 'removing' });
    expect(() => transition(r, 'running')).toThrow(/cannot go from `removing` to `running`/);
    expect(transition(r, 'creating').status).toBe('creating');
  });
});

describe('driver handles', () => {
  test('a cgroup handle survives the record, and one from before versions reads as version 1', () => {
    const h = { formatVersion: 1 as const, backend: 'v2' as const, name: 'web', v1: {}, unified: '/sys/fs/cgroup/corral/web', leaves: { monitor: 'monitor', payload: 'payload' } };
    expect(decodeCgroupHandle(encodeCgroupHandle(h))).toEqual(h);
    const { formatVersion: _v, leaves: _l, ...old } = h;
    expect(decodeCgroupHandle(old)).toEqual({ ...old, formatVersion: 1 });
    const hybrid = { formatVersion: 1 as const, backend: 'v1' as const, name: 'web', v1: { freezer: '/f/web', memory: '/m/web' }, unified: '/u/web', leaves: h.leaves, leavesUnder: ['/f/web', '/u/web'] };
    expect(decodeCgroupHandle(encodeCgroupHandle(hybrid))).toEqual(hybrid);
  });

  test('a damaged handle is STATE_CORRUPT naming the field, never cast', () => {
    const bad = (json: Parameters<typeof decodeCgroupHandle>[0]) => { try { decodeCgroupHandle(json); return null; } catch (e) { return isCorralError(e) ? `${e.code} ${e.summary}` : String(e); } };
    expect(bad({ backend: 'v3', name: 'web', v1: {}, unified: null })).toMatch(/^STATE_CORRUPT .*`backend`/);
    expect(bad({ backend: 'v2', name: 'web', v1: { memory: 7 }, unified: null })).toMatch(/`v1.memory`/);
    expect(bad({ formatVersion: 9, backend: 'v2', name: 'web', v1: {}, unified: null })).toMatch(/format version 9/);
    expect(bad('web')).toMatch(/STATE_CORRUPT/);
    expect(bad({ backend: 'v1', name: 'web', v1: {}, unified: null, leaves: { monitor: 'monitor', payload: 'payload' }, leavesUnder: '/f/web' })).toMatch(/`leavesUnder`/);
  });

  test('a forged `leavesUnder` naming directories outside the handle places no leaf and no procs file there', () => {
    const dirs = ['/f/web', '/m/web', '/u/web'];
    const forged = decodeCgroupHandle({
      backend: 'v1', name: 'web', v1: { freezer: '/f/web', memory: '/m/web' }, unified: '/u/web',
      leaves: { monitor: 'monitor', payload: 'payload' }, leavesUnder: ['/etc', '/f/web/../../etc', '/f/web'],
    });
    const inside = (file: string) => dirs.some((d) => file === d || file.startsWith(`${d}/`)) && !file.split('/').includes('..');
    const files = [...leafDirs(forged), ...monitorProcsFiles(forged), ...procsFiles(forged)];
    expect(files.filter((f) => !inside(f))).toEqual([]);
    // Only the one real directory it names holds leaves.
    expect(leafDirs(forged)).toEqual(['/f/web/monitor', '/f/web/payload']);
  });

  test('a runtime handle keeps pids with their start times', () => {
    const r = { name: 'web', monitor: { pid: 10, startTime: 5 }, init: { pid: 11, startTime: 6 }, startedAtMs: 1, shimDir: '/s', logDir: '/l', stopSignal: 15 };
    expect(decodeRuntimeHandle(encodeRuntimeHandle(r))).toEqual(r);
    expect(() => decodeRuntimeHandle({ ...r, init: { pid: '11', startTime: 6 } })).toThrow(/`pid`/);
  });
});

describe('what the network drivers refuse', () => {
  test('bridge, IPv4 ports and dns are supported; a port published on an IPv6 address is refused with NOT_SUPPORTED', async () => {
    const port = nullNetworkPort();
    const plain = (await desiredOne('web')).spec;
    expect(port.supports(plain)).toEqual([]);
    expect(await port.attach('web', plain, never)).toEqual({ netnsPath: null, handle: null, binds: [] });
    const bridged = (await desiredOne('web', 'network: {mode: bridge, ports: [{host: 8080, container: 80, hostIP: 127.0.0.1}], dns: {nameservers: [10.0.0.1]}}')).spec;
    expect(port.supports(bridged)).toEqual([]);
    const v6 = (await desiredOne('web', 'network: {mode: bridge, ports: [{host: 8080, container: 80}, {host: 8081, container: 81, hostIP: "::1"}]}')).spec;
    expect(port.supports(v6).map((d) => [d.code, d.field])).toEqual([['NOT_SUPPORTED', 'spec.network.ports[1].hostIP']]);
  });
});
