// User-namespace id ranges, the pure half: /etc/subuid parsing, where corral's pool goes, slots
// cut from it, and the plan-time errors of explicit maps.

import { describe, expect, test } from '@jest/globals';
import { plan } from '../../src/reconciler/plan/plan.js';
import type { Actual, ActualContainer, Desired } from '../../src/reconciler/plan/types.js';
import {
  appendSubidLine, choosePoolStart, chooseSlot, findEntry, parseSubids, POOL_COUNT, POOL_MIN_START, poolEntries, poolOf, SLOT_SIZE, slotFits,
  userMapProblems, type IdPool,
} from '../../src/reconciler/user-ranges.js';
import { desiredOne, recordFor, RUNNING, T0 } from '../support/plan-fixtures.js';

const POOL: IdPool = { start: 2 * POOL_MIN_START, count: 8 * SLOT_SIZE };

describe('subuid files', () => {
  test('entries are name:start:count; comments, blank and malformed lines are skipped', () => {
    const text = [
      '# comment',
      '',
      'alice:100000:65536',
      '  bob:165536:65536  ',
      'bad:1:2:3',
      'neg:-5:10',
      'hex:0x10:10',
      'zero:200000:0',
      ':300000:10',
      'big:4294967290:10',
      '1000:400000:65536',
      'corral:1048576:536870912',
      'corral:9999999:1',
    ].join('\n');
    const entries = parseSubids(text);
    expect(entries.map((e) => e.name)).toEqual(['alice', 'bob', '1000', 'corral', 'corral']);
    expect(findEntry(entries, 'corral')).toEqual({ name: 'corral', start: 1_048_576, count: 536_870_912 });
    // By name only: a numeric uid is a different name.
    expect(findEntry(entries, '999')).toBeNull();
  });

  test('the pool starts slot-aligned above every entry of both files, and at least at 1,048,576', () => {
    expect(choosePoolStart([], [])).toBe(POOL_MIN_START);
    expect(choosePoolStart(parseSubids('alice:100000:65536\n'), [])).toBe(POOL_MIN_START);
    // 1,048,576 + 1 ends past the minimum: next multiple of 65536.
    expect(choosePoolStart(parseSubids('x:1048576:1\n'), [])).toBe(POOL_MIN_START + SLOT_SIZE);
    // The max of both files: subgid has the higher end.
    expect(choosePoolStart(parseSubids('a:100000:65536\n'), parseSubids('b:5000000:70000\n'))).toBe(Math.ceil(5_070_000 / SLOT_SIZE) * SLOT_SIZE);
    // An end exactly on a slot boundary is kept.
    expect(choosePoolStart(parseSubids(`a:${3 * SLOT_SIZE * 16}:${SLOT_SIZE * 16}\n`), [])).toBe(4 * SLOT_SIZE * 16);
    expect(() => choosePoolStart(parseSubids('a:4000000000:100000000\n'))).toThrow(RangeError);
  });

  test('appending keeps every line and ends with a newline', () => {
    const entry = { name: 'corral', start: POOL_MIN_START, count: POOL_COUNT };
    expect(appendSubidLine('', entry)).toBe('corral:1048576:536870912\n');
    expect(appendSubidLine('# x\nalice:100000:65536\n', entry)).toBe('# x\nalice:100000:65536\ncorral:1048576:536870912\n');
    expect(appendSubidLine('alice:100000:65536', entry)).toBe('alice:100000:65536\ncorral:1048576:536870912\n');
  });

  test('poolEntries: kept, copied to the other file when it fits, or the same new start in both', () => {
    const uid = parseSubids('alice:100000:65536\n');
    const gid = parseSubids('alice:100000:65536\nsvc:2000000:65536\n');
    const fresh = poolEntries('corral', uid, gid);
    expect(fresh).toEqual({ uid: fresh.gid, gid: fresh.uid, appendUid: true, appendGid: true });
    expect(fresh.uid).toEqual({ name: 'corral', start: Math.ceil(2_065_536 / SLOT_SIZE) * SLOT_SIZE, count: POOL_COUNT });

    const have = { name: 'corral', start: 3 * POOL_MIN_START, count: POOL_COUNT };
    expect(poolEntries('corral', [...uid, have], [...gid, have])).toEqual({ uid: have, gid: have, appendUid: false, appendGid: false });
    expect(poolEntries('corral', [...uid, have], gid)).toEqual({ uid: have, gid: have, appendUid: false, appendGid: true });
    // Copying would overlap an entry of subgid: a fresh one above everything instead.
    const clash = poolEntries('corral', [...uid, have], [...gid, { name: 'x', start: 3 * POOL_MIN_START + 5, count: 10 }]);
    expect(clash).toMatchObject({ uid: have, appendUid: false, appendGid: true });
    expect(clash.gid.start).toBeGreaterThanOrEqual(have.start + have.count);
    // ... which leaves no ids both grant: refused.
    expect(() => poolOf(clash.uid, clash.gid)).toThrow(/share fewer than/);
  });

  test('poolOf: the ids both files grant; host id 0 is refused', () => {
    expect(poolOf({ name: 'c', start: POOL_MIN_START, count: 10 * SLOT_SIZE }, { name: 'c', start: POOL_MIN_START + SLOT_SIZE, count: 10 * SLOT_SIZE }))
      .toEqual({ start: POOL_MIN_START + SLOT_SIZE, count: 9 * SLOT_SIZE });
    expect(() => poolOf({ name: 'c', start: 0, count: POOL_COUNT }, { name: 'c', start: 0, count: POOL_COUNT })).toThrow(/host id 0/);
  });
});

describe('slots', () => {
  test('the lowest free slot, aligned to the pool start; freed slots are reused', () => {
    expect(chooseSlot(POOL, 65536, [])).toEqual({ hostId: POOL.start, size: 65536, slot: 0 });
    const taken = [{ hostId: POOL.start, size: 65536 }, { hostId: POOL.start + 2 * SLOT_SIZE, size: 1000 }];
    expect(chooseSlot(POOL, 1000, taken)).toEqual({ hostId: POOL.start + SLOT_SIZE, size: 1000, slot: 1 });
    // A range from before the pool (unaligned) blocks every slot it touches.
    expect(chooseSlot(POOL, 10, [{ hostId: POOL.start + 100, size: SLOT_SIZE }])).toMatchObject({ slot: 2 });
  });

  test('a size above 65536 takes consecutive slots', () => {
    const taken = [{ hostId: POOL.start + SLOT_SIZE, size: 1 }];
    expect(chooseSlot(POOL, 2 * SLOT_SIZE + 1, taken)).toEqual({ hostId: POOL.start + 2 * SLOT_SIZE, size: 2 * SLOT_SIZE + 1, slot: 2 });
    expect(chooseSlot(POOL, 8 * SLOT_SIZE, [])).toMatchObject({ slot: 0 });
    expect(chooseSlot(POOL, 8 * SLOT_SIZE + 1, [])).toBeNull();
    expect(chooseSlot(POOL, 7 * SLOT_SIZE, taken)).toBeNull();
  });

  test('a container keeps its previous slot while it fits, else moves', () => {
    const previous = { hostId: POOL.start + 5 * SLOT_SIZE, size: 65536, slot: 5 };
    expect(chooseSlot(POOL, 65536, [], previous)).toEqual(previous);
    expect(chooseSlot(POOL, 1000, [], previous)).toEqual({ ...previous, size: 1000 });
    // Grown into a slot someone else has: the lowest free run.
    expect(chooseSlot(POOL, 2 * SLOT_SIZE, [{ hostId: POOL.start + 6 * SLOT_SIZE, size: 1 }], previous)).toMatchObject({ slot: 0 });
    // A slot of another pool (moved start) is not kept.
    expect(chooseSlot(POOL, 65536, [], { ...previous, hostId: previous.hostId + 1 })).toMatchObject({ slot: 0 });
    expect(slotFits(POOL, previous)).toBe(true);
    expect(slotFits(POOL, { hostId: POOL.start + 7 * SLOT_SIZE, size: SLOT_SIZE + 1, slot: 7 })).toBe(false);
  });
});

describe('explicit maps at plan time', () => {
  const maps = (uid: number, gid = uid, size = 65536): string => `namespaces:\n  user:\n    enabled: true\n    uidMap: [{containerID: 0, hostID: ${uid}, size: ${size}}]\n    gidMap: [{containerID: 0, hostID: ${gid}, size: ${size}}]`;
  const desiredWith = (...containers: Desired['containers'][number][]): Desired => ({ containers, elsewhere: [], invalidNames: [], brokenFiles: [], missing: false, diagnostics: [] });
  const actualOf = (...containers: ActualContainer[]): Actual => ({ containers, orphans: [], serial: 1 });

  test('overlapping maps of two containers: both refused; apart or uid against gid: fine', async () => {
    const a = await desiredOne('a', maps(200000));
    const b = await desiredOne('b', maps(250000));
    const c = await desiredOne('c', maps(500000, 600000));
    const d = await desiredOne('d', maps(600000, 500000, 1000));
    const problems = userMapProblems([a.spec, b.spec, c.spec, d.spec], null);
    expect([...problems.keys()].sort()).toEqual(['a', 'b']);
    expect(problems.get('a')![0]).toMatchObject({ code: 'MANIFEST_CONFLICT', container: 'a', field: 'spec.namespaces.user.uidMap[0]', summary: expect.stringContaining('`b`') });

    const p = plan(desiredWith(a, b, c), actualOf(), { now: T0, allowEmpty: false });
    expect(p.changes.map((x) => [x.name, x.action])).toEqual([['a', 'none'], ['b', 'none'], ['c', 'create']]);
    expect(p.changes[0]!.reasons[0]).toMatchObject({ code: 'manifest-invalid' });
    expect(p.diagnostics.filter((x) => x.code === 'MANIFEST_CONFLICT').map((x) => x.container)).toEqual(['a', 'b']);
    expect(p.complete).toBe(false);
  });

  test('a running container is not held back by a newcomer that overlaps it', async () => {
    const a = await desiredOne('a', maps(200000));
    const b = await desiredOne('b', maps(250000));
    const p = plan(desiredWith(a, b), actualOf({ record: recordFor(a), live: RUNNING }), { now: T0, allowEmpty: false });
    expect(p.changes.map((x) => [x.name, x.action])).toEqual([['a', 'none'], ['b', 'none']]);
    expect(p.changes[0]!.reasons[0]!.code).toBe('up-to-date');
    expect(p.diagnostics.filter((x) => x.code === 'MANIFEST_CONFLICT').map((x) => x.container)).toEqual(['b']);
  });

  test('a map that reaches into corral\'s pool is refused', async () => {
    const inside = await desiredOne('inside', maps(100000, POOL.start + POOL.count - 1, 10));
    const below = await desiredOne('below', maps(POOL.start - 65536));
    const problems = userMapProblems([inside.spec, below.spec], POOL);
    expect([...problems.keys()]).toEqual(['inside']);
    expect(problems.get('inside')![0]).toMatchObject({ code: 'MANIFEST_CONFLICT', field: 'spec.namespaces.user.gidMap[0]', summary: expect.stringContaining('pool') });
    const p = plan(desiredWith(inside, below), actualOf(), { now: T0, allowEmpty: false, userIdPool: POOL });
    expect(p.changes.map((x) => [x.name, x.action])).toEqual([['below', 'create'], ['inside', 'none']]);
    // Without the pool known, only overlaps between containers are checked.
    expect(plan(desiredWith(inside, below), actualOf(), { now: T0, allowEmpty: false }).changes.every((x) => x.action === 'create')).toBe(true);
  });
});
