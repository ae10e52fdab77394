// The other paths, driven on whatever host runs the suite by hiding part of its layout:
// - without the cgroup2 tree, a v1 or hybrid host behaves like a v1-only host: freeze through the
//   v1 freezer, kill by freeze + SIGKILL + thaw (the path a hybrid host never takes otherwise);
// - without its v1 side, a hybrid host is a cgroup2 host whose tree has no controllers: freeze, kill
//   and placement still work there, and every resource knob is refused at plan time.
// On a cgroup2-only kernel the first part has no v1 hierarchy to use and says so.

import { existsSync } from 'node:fs';
import { afterAll, describe, expect, test } from '@jest/globals';
import {
  detectLayout, openCgroupManager, withoutUnified, withoutV1, type CgroupManager,
} from '../../../src/drivers/cgroups/index.js';
import { hasCode } from '../../../src/errors.js';
import { requireRoot } from '../../support/root.js';
import { DEFAULT_POLICY, eventually, killSpawned, limits, MiB, spawnWaiting, testParentName } from './support.js';

const root = requireRoot();
const maybe = root ? describe : describe.skip;

const opened: CgroupManager[] = [];

afterAll(async () => {
  killSpawned();
  for (const cg of opened) {
    await cg.removeAll();
    for (const dir of [...Object.values(cg.parents.v1), cg.parents.unified]) if (dir) expect(existsSync(dir)).toBe(false);
  }
});

async function busyPlaced(cg: CgroupManager, name: string) {
  const handle = await cg.create(name, limits({ pids: cg.capabilities.features.pids.available ? 16 : 'unlimited' }), DEFAULT_POLICY);
  const proc = await spawnWaiting('sleep 1000 & sleep 1000 & while :; do :; done');
  await cg.addProc(handle, proc.pid);
  proc.go();
  await eventually(async () => (await cg.pids(handle)).length === 3, 'the loop and its two sleeps');
  return { handle, proc };
}

maybe('v1 without the cgroup2 tree (v1-only host)', () => {
  const hasV1 = root && Object.keys(detectLayout().v1).length > 0;
  const maybeV1 = hasV1 ? test : test.skip;
  if (!hasV1) process.stderr.write('note: no v1 hierarchy on this host; the v1-only paths are not exercised here\n');

  maybeV1('freezer freezes, and kill is freeze + SIGKILL + thaw', async () => {
    const cg = await openCgroupManager({ parentName: testParentName(), layout: withoutUnified(detectLayout()) });
    opened.push(cg);
    expect(cg.backend).toBe('v1');
    expect(cg.parents.unified).toBeNull();
    expect(cg.capabilities.features.freeze).toEqual({ available: true, via: '`freezer.state`' });
    const { handle, proc } = await busyPlaced(cg, 'v1only');
    expect(handle.unified).toBeNull();
    await cg.freeze(handle);
    const at = (await cg.stats(handle)).cpu.usageUsec;
    await new Promise((r) => setTimeout(r, 200));
    expect((await cg.stats(handle)).cpu.usageUsec).toBe(at);
    await cg.thaw(handle);
    await cg.kill(handle);
    expect(await cg.pids(handle)).toEqual([]);
    expect((await proc.exit).signal).toBe('SIGKILL');
    await cg.destroy(handle);
  });
});

maybe('cgroup2 tree alone (a cgroup2 host; on a hybrid host, one without controllers)', () => {
  test('placement, freeze and kill work; resource knobs follow the tree\'s controllers', async () => {
    const layout = withoutV1(detectLayout());
    if (layout.unified === null) {
      process.stderr.write('note: no cgroup2 tree on this host\n');
      return;
    }
    const cg = await openCgroupManager({ parentName: testParentName(), layout });
    opened.push(cg);
    expect(cg.backend).toBe('v2');
    const memory = cg.capabilities.features.memory.available;
    const asks = limits({ memoryBytes: 64 * MiB, memorySwapBytes: 64 * MiB });
    if (!memory) {
      // Hybrid: the tree has no memory controller; the manifest's limit is a named plan-time error.
      expect(cg.checkResources(asks, 'web')).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'CGROUP_KNOB_UNAVAILABLE', field: 'spec.resources.memory', container: 'web' })]));
      let caught: unknown;
      await cg.create('nomem', asks, DEFAULT_POLICY).catch((err: unknown) => { caught = err; });
      expect(hasCode(caught, 'CGROUP_KNOB_UNAVAILABLE')).toBe(true);
    }
    const { handle, proc } = await busyPlaced(cg, 'core');
    await cg.freeze(handle);
    await cg.thaw(handle);
    await cg.kill(handle);
    expect(await cg.pids(handle)).toEqual([]);
    expect((await proc.exit).signal).toBe('SIGKILL');
    await cg.destroy(handle);
  });
});
