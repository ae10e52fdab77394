// The driver's contract beyond enforcement: ownership, adoption, read-back, placement files for the
// shim, serialised handles, refusals that leave nothing behind. Runs on whatever layout the host has.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  cloneIntoCgroupDir, destroyHandle, handleDirs, killHandle, openCgroupManager, procsFiles, resolveBlockDevice, resourcesDrift,
  type CgroupFeature, type CgroupHandle, type CgroupManager,
} from '../../../src/drivers/cgroups/index.js';
import { adoptLeftover, ownerRole } from '../../../src/drivers/cgroups/index.js';
import { hasCode } from '../../../src/errors.js';
import type { ResourcesSpec } from '../../../src/manifest/spec.js';
import { requireRoot } from '../../support/root.js';
import { DEFAULT_POLICY, killSpawned, limits, MiB, someDisk, spawnWaiting, testParentName } from './support.js';
import { rejection } from '../../support/rejection.js';

const root = requireRoot();
const maybe = root ? describe : describe.skip;

maybe('cgroup lifecycle (detected layout)', () => {
  let cg: CgroupManager;
  const parentName = testParentName();
  const parentDirs = (): string[] => [...new Set([...Object.values(cg.parents.v1), ...(cg.parents.unified ? [cg.parents.unified] : [])])];

  beforeAll(async () => {
    cg = await openCgroupManager({ parentName });
  });

  afterAll(async () => {
    killSpawned();
    await cg?.removeAll();
    for (const dir of cg ? parentDirs() : []) expect(existsSync(dir)).toBe(false);
  });

  test('corral\'s parents exist in every hierarchy, and opening again adopts them', async () => {
    for (const dir of parentDirs()) expect(existsSync(dir)).toBe(true);
    const again = await openCgroupManager({ parentName });
    expect(again.parents).toEqual(cg.parents);
    expect(again.backend).toBe(cg.backend);
  });

  test('what was asked reads back, cpuset included', async () => {
    const r: ResourcesSpec = limits({
      memoryBytes: 64 * MiB, memorySwapBytes: 64 * MiB, memoryReservationBytes: 32 * MiB, cpuMillis: 1500, cpuWeight: 1,
      cpusetCpus: '0', cpusetMems: '0', pids: 42,
    });
    const handle = await cg.create('readback', r, DEFAULT_POLICY);
    const applied = await cg.read(handle);
    expect(resourcesDrift(r, applied)).toEqual([]);
    expect(applied).toMatchObject({ memoryBytes: 64 * MiB, memoryReservationBytes: 32 * MiB, cpuMillis: 1500, cpuWeight: 1, cpusetCpus: '0', pids: 42 });
    await cg.destroy(handle);
  });

  test('the shim can place a process by writing its pid into procsFiles; the handle is plain JSON', async () => {
    const made = await cg.create('shim', limits({ pids: 8 }), DEFAULT_POLICY);
    const handle = JSON.parse(JSON.stringify(made)) as CgroupHandle;
    expect(handle).toEqual(made);
    expect(cloneIntoCgroupDir(handle)).toBe(handle.backend === 'v2' ? join(handle.unified!, 'payload') : null);
    const proc = await spawnWaiting('sleep 1000');
    for (const file of procsFiles(handle)) writeFileSync(file, String(proc.pid));
    for (const file of procsFiles(handle)) expect(readFileSync(file, 'utf8').split('\n')).toContain(String(proc.pid));
    // Kill and destroy from the stored handle alone, with its creator's backend.
    await killHandle(handle);
    await destroyHandle(handle);
    for (const dir of handleDirs(handle)) expect(existsSync(dir)).toBe(false);
    expect((await proc.exit).signal).toBe('SIGKILL');
  });

  test('create adopts a cgroup corral made earlier (a crash before the state record)', async () => {
    const first = await cg.create('adopt', limits({ pids: 10 }), DEFAULT_POLICY);
    const second = await cg.create('adopt', limits({ pids: 20 }), DEFAULT_POLICY);
    expect(second).toEqual(first);
    expect((await cg.read(second)).pids).toBe(20);
    expect((await cg.list()).map((h) => h.name)).toContain('adopt');
    await cg.destroy(second);
  });

  test('a cgroup corral did not create is neither listed nor touched', async () => {
    const foreign = join(parentDirs()[parentDirs().length - 1]!, 'foreign');
    mkdirSync(foreign);
    try {
      expect((await cg.list()).map((h) => h.name)).not.toContain('foreign');
      const err = await rejection(cg.create('foreign', limits({ pids: 5 }), DEFAULT_POLICY));
      expect(hasCode(err, 'CGROUP_NOT_OWNED')).toBe(true);
      expect((err as Error).message).toContain(foreign);
      const fake: CgroupHandle = { formatVersion: 1, backend: cg.backend, name: 'foreign', v1: {}, unified: foreign };
      expect(hasCode(await rejection(destroyHandle(fake)), 'CGROUP_NOT_OWNED')).toBe(true);
      expect(existsSync(foreign)).toBe(true);
    } finally {
      rmdirSync(foreign);
    }
    // The half-made `foreign` cgroups in the other hierarchies were removed by the failed create.
    for (const dir of parentDirs()) expect(existsSync(join(dir, 'foreign'))).toBe(false);
  });

  test('a leftover of a crash between mkdir and mark can be adopted; one outside corral\'s parent cannot', async () => {
    const dir = join(parentDirs()[0]!, 'leftover');
    mkdirSync(dir);
    expect(ownerRole(dir)).toBeNull();
    expect(adoptLeftover(dir)).toBe(true);
    expect(ownerRole(dir)).toBe('container');
    // Killed between a leaf's mkdir and its mark: the leaf is taken back too.
    mkdirSync(join(dir, 'payload'));
    expect(ownerRole(join(dir, 'payload'))).toBeNull();
    expect(adoptLeftover(dir)).toBe(true);
    expect(ownerRole(join(dir, 'payload'))).toBe('leaf');
    expect(adoptLeftover(dir)).toBe(false);
    const handle = await cg.create('leftover', limits({ pids: 5 }), DEFAULT_POLICY);
    expect((await cg.list()).map((h) => h.name)).toContain('leftover');
    await cg.destroy(handle);
    const outside = join(parentDirs()[0]!, '..', `${testParentName()}-outside`);
    mkdirSync(outside);
    try {
      expect(adoptLeftover(outside)).toBe(false);
    } finally {
      rmdirSync(outside);
    }
  });

  test('a parent name taken by someone else is refused, and nothing is left behind', async () => {
    const name = testParentName();
    const taken = join(parentDirs()[parentDirs().length - 1]!, '..', name);
    mkdirSync(taken);
    try {
      expect(hasCode(await rejection(openCgroupManager({ parentName: name })), 'CGROUP_NOT_OWNED')).toBe(true);
    } finally {
      rmdirSync(taken);
    }
    for (const dir of parentDirs()) expect(existsSync(join(dir, '..', name))).toBe(false);
  });

  test('a limit the host cannot enforce is refused at create (and by checkResources), never dropped', async () => {
    const asks: Array<[CgroupFeature, Partial<ResourcesSpec>]> = [
      ['ioWeight', { ioWeight: 500 }], ['memorySwap', { memoryBytes: 64 * MiB, memorySwapBytes: 128 * MiB }], ['cpuset', { cpusetCpus: '0' }],
    ];
    const missing = asks.find(([f]) => !cg.capabilities.features[f].available);
    if (!missing) {
      process.stderr.write('note: this host enforces every knob probed here; only the positive path ran\n');
      return;
    }
    const r = limits(missing[1]);
    expect(cg.checkResources(r).map((d) => d.code)).toContain('CGROUP_KNOB_UNAVAILABLE');
    expect(hasCode(await rejection(cg.create('unenforceable', r, DEFAULT_POLICY)), 'CGROUP_KNOB_UNAVAILABLE')).toBe(true);
    for (const dir of parentDirs()) expect(existsSync(join(dir, 'unenforceable'))).toBe(false);
  });

  test('io throttles on a real disk apply, read back, and lift live', async () => {
    const disk = someDisk();
    if (!cg.capabilities.features.ioLimits.available || disk === null) {
      process.stderr.write(`note: no io throttling here (${disk ?? 'no whole disk'}); skipped the io part\n`);
      return;
    }
    const r = limits({ ioLimits: [{ device: disk, readBps: 1048576, writeBps: null, readIops: null, writeIops: 100 }] });
    const handle = await cg.create('io', r, DEFAULT_POLICY);
    expect((await cg.read(handle)).ioLimits).toEqual([{ device: resolveBlockDevice(disk), readBps: 1048576, writeBps: null, readIops: null, writeIops: 100 }]);
    expect(resourcesDrift(r, await cg.read(handle), resolveBlockDevice)).toEqual([]);
    await cg.set(handle, limits({}));
    expect((await cg.read(handle)).ioLimits).toEqual([]);
    await cg.destroy(handle);
  });
});
