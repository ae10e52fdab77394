// The cgroup port's reads of many containers (src/drivers/cgroups/port.ts): for a drift check of
// all of them (src/reconciler/inspect.ts) one listing of corral's parents (`survey`) answers
// whether a container's directories exist, and the read-back skips the knobs the comparison does
// not use; `corral ps` reads two counters, not all. None may hide a cgroup that is gone, nor a
// limit changed by hand, I/O throttles included.

import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { handleDirs, openCgroupManager, type CgroupManager } from '../../../src/drivers/cgroups/index.js';
import { comparedFields } from '../../../src/drivers/cgroups/drift.js';
import { encodeCgroupHandle } from '../../../src/drivers/cgroups/handle-codec.js';
import { cgroupPort } from '../../../src/drivers/cgroups/port.js';
import type { CgroupHandle } from '../../../src/drivers/cgroups/types.js';
import type { DevicesSpec } from '../../../src/manifest/spec.js';
import type { CgroupPort } from '../../../src/reconciler/ports.js';
import { requireRoot } from '../../support/root.js';
import { DEFAULT_POLICY, DEFAULT_RULES, limits, MiB, someDisk, testParentName } from './support.js';

const maybe = requireRoot() ? describe : describe.skip;
const DEVICES: DevicesSpec = { allowAll: false, allow: [...DEFAULT_RULES], host: [] };
const LIMITS = limits({ memoryBytes: 64 * MiB, pids: 32 });

maybe('drift checks with a survey of the parents', () => {
  let cg: CgroupManager;
  let port: CgroupPort;
  const parentName = testParentName();

  beforeAll(async () => {
    cg = await openCgroupManager({ parentName });
    port = cgroupPort(cg, { records: { has: () => false, handle: async () => null }, warn: () => undefined });
  });

  afterAll(async () => {
    await cg?.removeAll();
  });

  /** Removes one directory of a container (its leaves first), as a hand at work would. */
  const removeDir = (dir: string): void => {
    for (const leaf of ['monitor', 'payload']) if (existsSync(join(dir, leaf))) rmdirSync(join(dir, leaf));
    rmdirSync(dir);
  };

  test('a survey sees every directory of an intact container: the same answer as without one', async () => {
    const h = await cg.create('intact', LIMITS, DEFAULT_POLICY);
    const survey = await port.survey!();
    for (const d of handleDirs(h)) expect(survey.has(d)).toBe(true);
    expect(survey.has(join(dirname(handleDirs(h)[0]!), 'nobody'))).toBe(false);
    expect(await port.drift(encodeCgroupHandle(h), LIMITS, DEVICES, survey)).toEqual([]);
    expect(await port.drift(encodeCgroupHandle(h), LIMITS, DEVICES)).toEqual([]);
    // A limit written by hand is drift either way.
    const pidsDir = h.v1['pids'] ?? h.unified!;
    writeFileSync(join(pidsDir, 'pids.max'), '7');
    expect(await port.drift(encodeCgroupHandle(h), LIMITS, DEVICES, survey)).toEqual([expect.objectContaining({ path: 'resources.pids', before: 7, after: 32 })]);
    await cg.destroy(h);
  });

  test('each directory of a container removed before the survey: the cgroup is missing', async () => {
    // One container per directory a handle has, each missing a different one.
    const made: CgroupHandle[] = [await cg.create('before-0', LIMITS, DEFAULT_POLICY)];
    while (made.length < handleDirs(made[0]!).length) made.push(await cg.create(`before-${made.length}`, LIMITS, DEFAULT_POLICY));
    made.forEach((h, i) => removeDir(handleDirs(h)[i]!));
    const survey = await port.survey!();
    for (const h of made) expect(await port.drift(encodeCgroupHandle(h), LIMITS, DEVICES, survey)).toBeNull();
  });

  test('a directory whose knobs are read, removed after the survey: the failed read asks again, and the cgroup is missing', async () => {
    const h = await cg.create('after', LIMITS, DEFAULT_POLICY);
    const survey = await port.survey!();
    removeDir(h.v1['memory'] ?? h.unified!);
    expect(await port.drift(encodeCgroupHandle(h), LIMITS, DEVICES, survey)).toBeNull();
  });

  test('orphan listing with a survey: nothing when every name is known, the unknown one otherwise', async () => {
    const known = await cg.create('known', LIMITS, DEFAULT_POLICY);
    const names = new Set((await port.list()).filter((n) => n !== 'stray'));
    expect(names.has('known')).toBe(true);
    expect(await port.list(names, await port.survey!())).toEqual([]);
    const stray = await cg.create('stray', LIMITS, DEFAULT_POLICY);
    expect(await port.list(names, await port.survey!())).toEqual(['stray']);
    await cg.destroy(stray);
    await cg.destroy(known);
  });

  test('an I/O throttle changed by hand is drift, for a spec that sets one', async () => {
    const disk = someDisk();
    if (!cg.capabilities.features.ioLimits.available || disk === null) {
      process.stderr.write(`note: no io throttling here (${disk ?? 'no whole disk'}); skipped\n`);
      return;
    }
    const r = limits({ ioLimits: [{ device: disk, readBps: 1048576, writeBps: null, readIops: null, writeIops: null }] });
    const h = await cg.create('io', r, DEFAULT_POLICY);
    expect(await port.drift(encodeCgroupHandle(h), r, DEVICES)).toEqual([]);
    const number = cg.resolveDevice(disk);
    if (h.backend === 'v1') writeFileSync(join(h.v1['blkio']!, 'blkio.throttle.read_bps_device'), `${number} 2097152`);
    else writeFileSync(join(h.unified!, 'io.max'), `${number} rbps=2097152`);
    const drift = await port.drift(encodeCgroupHandle(h), r, DEVICES);
    expect(drift).toEqual([expect.objectContaining({ path: 'resources.ioLimits', effect: 'live' })]);
    await cg.destroy(h);
  });

  test('stats of scope `usage`: memory in use and CPU time, nothing else; the full read has the rest', async () => {
    const h = await cg.create('usage', LIMITS, DEFAULT_POLICY);
    const usage = await port.stats(encodeCgroupHandle(h), 'usage');
    expect(typeof usage['memoryBytes']).toBe('number');
    expect(typeof usage['cpuSeconds']).toBe('number');
    expect(usage).toMatchObject({ pids: null, oomKills: null, memoryPeakBytes: null, throttledPeriods: null });
    const all = await port.stats(encodeCgroupHandle(h));
    expect(all).toMatchObject({ memoryBytes: usage['memoryBytes'], pids: 0, oomKills: 0 });
    await cg.destroy(h);
  });

  test('the read-back for a drift check skips what it does not compare, and a full read still has it', async () => {
    const h = await cg.create('fields', limits({ cpusetCpus: '0', memoryBytes: 64 * MiB }), DEFAULT_POLICY);
    const cpusetDir = h.v1['cpuset'] ?? h.unified!;
    expect(readFileSync(join(cpusetDir, 'cpuset.cpus'), 'utf8').trim()).toBe('0');
    expect((await cg.read(h)).cpusetCpus).toBe('0');
    // A spec that does not pin a cpuset does not read it: the cpuset follows the parent.
    expect((await cg.read(h, comparedFields(LIMITS, false))).cpusetCpus).toBeNull();
    expect((await cg.read(h, comparedFields(limits({ cpusetCpus: '0' }), false))).cpusetCpus).toBe('0');
    await cg.destroy(h);
  });
});
