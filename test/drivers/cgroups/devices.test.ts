// The device allow-list, enforced by the kernel: a probe placed in a container cgroup opens and
// makes device nodes. Runs on every manager this host offers:
// - the detected one: on the hybrid dev host the v1 manager with the v1 `devices` controller, on
//   a cgroup2-only kernel (test/vm) the v2 manager with a device program;
// - the cgroup2 tree alone: on a hybrid host, the v2 manager on the controller-less cgroup2 tree,
//   so a device program on the hybrid twin (the kernel checks both the program and the v1 list).

import { existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  detectLayout, openCgroupManager, procsFiles, withoutV1, type CgroupHandle, type CgroupLayout, type CgroupManager, type DevicePolicy,
} from '../../../src/drivers/cgroups/index.js';
import { leafDirs, payloadDir } from '../../../src/drivers/cgroups/handle.js';
import { hasCode } from '../../../src/errors.js';
import { DEVICE_PROGRAM_NAME, deviceProgramBytes, programTags } from '../../../src/drivers/cgroups/device-program.js';
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_DEVICE, bpfProgAttach, bpfProgDetach, bpfProgGetFdById, bpfProgInfo, bpfProgInfoById,
  bpfProgLoad, bpfProgQuery,
} from '../../../src/sys/bpf.js';
import { closeFd } from '../../../src/sys/pidfd.js';
import { requireRoot } from '../../support/root.js';
import { DeviceProbe, type NodeName } from './device-probe.js';
import { ALLOW_ALL, DEFAULT_POLICY, DEFAULT_RULES, eventually, killSpawned, limits, spawnWaiting, testParentName, within } from './support.js';

const root = requireRoot();
const maybe = root ? describe : describe.skip;
const SLOW = 300_000;

const ALLOWED: readonly NodeName[] = ['null', 'zero', 'urandom'];
const DENIED: readonly NodeName[] = ['loop-control', 'kvm', 'tty0', 'console'];
const WITH_LOOP: DevicePolicy = { allowAll: false, rules: [...DEFAULT_RULES, { type: 'c', major: 10, minor: 237, access: 'rwm' }] };

/** Which managers to run: the detected layout, and the cgroup2 tree alone when that differs. */
function variants(): Array<[string, CgroupLayout]> {
  const detected = detectLayout();
  const out: Array<[string, CgroupLayout]> = [[`detected (${detected.kind})`, detected]];
  if (detected.kind === 'hybrid') out.push(['cgroup2 tree alone (device program on the hybrid twin)', withoutV1(detected)]);
  return out;
}

let probe: DeviceProbe | undefined;
beforeAll(() => {
  if (root) probe = new DeviceProbe();
}, SLOW);
afterAll(() => {
  killSpawned();
  probe?.close();
});

const opens = (names: readonly NodeName[]): string[] => names.map((n) => `open:r:${probe!.path(n)}`);
const mknods = (): Record<string, string> => ({
  block: `mknod:b:7:0:${probe!.freshPath('b7-0')}`,
  kvm: `mknod:c:10:232:${probe!.freshPath('c10-232')}`,
  null: `mknod:c:1:3:${probe!.freshPath('c1-3')}`,
});

maybe.each(variants())('device allow-list: %s', (_label, layout) => {
  let cg: CgroupManager;

  beforeAll(async () => {
    cg = await openCgroupManager({ parentName: testParentName(), layout });
  });

  afterAll(async () => {
    killSpawned();
    await cg?.removeAll();
    // Nothing of ours stays in any hierarchy, the devices one included.
    for (const dir of [...Object.values(cg?.parents.v1 ?? {}), cg?.parents.unified]) if (dir) expect(existsSync(dir)).toBe(false);
  }, SLOW);

  test('the manager offers devices, through the expected mechanism', () => {
    const support = cg.capabilities.features.devices;
    expect(support).toEqual({ available: true, via: cg.parents.v1['devices'] !== undefined ? 'devices controller (v1)' : 'device program (cgroup2 BPF)' });
  });

  test('default rules: null, zero, urandom open; host devices and mknod outside the list are EPERM', async () => {
    const handle = await cg.create('default', limits({}), DEFAULT_POLICY);
    if (handle.v1['devices'] !== undefined) expect(procsFiles(handle)).toContain(join(payloadDir(handle, handle.v1['devices']), 'cgroup.procs'));
    const m = mknods();
    const got = await probe!.run(cg, handle, [...opens(ALLOWED), ...opens(DENIED), ...Object.values(m)]);
    for (const n of ALLOWED) expect([n, got.get(`open:r:${probe!.path(n)}`)]).toEqual([n, 'ok']);
    for (const n of DENIED) expect([n, got.get(`open:r:${probe!.path(n)}`)]).toEqual([n, 'EPERM']);
    expect([got.get(m.block), got.get(m.kvm), got.get(m.null)]).toEqual(['EPERM', 'EPERM', 'ok']);
    expect(await cg.checkDevices(handle, DEFAULT_POLICY)).toEqual({ enforced: true, current: '8 rules' });
    expect((await cg.checkDevices(handle, ALLOW_ALL)).enforced).toBe(false);
    await cg.destroy(handle);
  }, SLOW);

  test('allow-all (privileged) lets every device open and be made', async () => {
    const handle = await cg.create('privileged', limits({}), ALLOW_ALL);
    const m = mknods();
    const got = await probe!.run(cg, handle, [...opens([...ALLOWED, ...DENIED]), ...Object.values(m)]);
    for (const n of [...ALLOWED, ...DENIED]) expect([n, got.get(`open:r:${probe!.path(n)}`)]).not.toEqual([n, 'EPERM']);
    expect([got.get(m.block), got.get(m.kvm), got.get(m.null)]).toEqual(['ok', 'ok', 'ok']);
    const check = await cg.checkDevices(handle, ALLOW_ALL);
    expect(check).toEqual({ enforced: true, current: handle.v1['devices'] !== undefined ? 'a *:* rwm' : 'no device program' });
    expect((await cg.checkDevices(handle, DEFAULT_POLICY)).enforced).toBe(false);
    await cg.destroy(handle);
  }, SLOW);

  test('a live update takes effect, and /dev/null never fails while the list changes', async () => {
    const handle = await cg.create('live', limits({}), DEFAULT_POLICY);
    const loop = `open:r:${probe!.path('loop-control')}`;
    expect((await probe!.run(cg, handle, [loop])).get(loop)).toBe('EPERM');
    await cg.setDevices(handle, WITH_LOOP);
    expect((await probe!.run(cg, handle, [loop])).get(loop)).not.toBe('EPERM');
    expect(await cg.checkDevices(handle, WITH_LOOP)).toEqual({ enforced: true, current: '9 rules' });
    expect(await cg.checkDevices(handle, DEFAULT_POLICY)).toMatchObject({ enforced: false });
    await cg.setDevices(handle, DEFAULT_POLICY);
    expect((await probe!.run(cg, handle, [loop])).get(loop)).toBe('EPERM');
    expect((await cg.checkDevices(handle, DEFAULT_POLICY)).enforced).toBe(true);

    // A process opening /dev/null in a loop while the list flips between the two: at least 20
    // times and for at least 250 ms, so that a probe the scheduler left waiting for a moment (two
    // cores, a VM beside) still opens while the list changes.
    const stop = probe!.freshPath('stop');
    const ready = probe!.freshPath('ready');
    const spin = `until:${stop}:${ready}:r:/dev/null`;
    const running = probe!.run(cg, handle, [spin]);
    await eventually(() => existsSync(ready), 'the spinning probe to start', 120_000);
    const flipping = Date.now();
    for (let i = 0; i < 20 || Date.now() - flipping < 250 || i % 2 === 1; i++) await cg.setDevices(handle, i % 2 === 0 ? WITH_LOOP : DEFAULT_POLICY);
    writeFileSync(stop, '');
    const result = (await running).get(spin)!;
    process.stderr.write(`note: /dev/null opened while the list flipped: ${result}\n`);
    expect(result).toMatch(/^opens=[1-9]\d* failures=0 last=ok$/);
    await cg.kill(handle);
    await cg.destroy(handle);
  }, SLOW);

  test('a hand edit is drift: checkDevices says so, and setDevices puts the list back', async () => {
    const handle = await cg.create('drift', limits({}), DEFAULT_POLICY);
    const dir = handle.v1['devices'];
    if (dir !== undefined) {
      writeFileSync(join(dir, 'devices.allow'), 'c 10:237 rwm');
      expect(await cg.checkDevices(handle, DEFAULT_POLICY)).toEqual({ enforced: false, current: '9 rules' });
    } else {
      // Detach corral's program by hand.
      const fd = openSync(handle.unified!, 'r');
      try {
        for (const id of bpfProgQuery(fd, BPF_CGROUP_DEVICE)) {
          const prog = bpfProgGetFdById(id);
          bpfProgDetach(fd, prog, BPF_CGROUP_DEVICE);
          closeFd(prog);
        }
      } finally {
        closeFd(fd);
      }
      expect(await cg.checkDevices(handle, DEFAULT_POLICY)).toEqual({ enforced: false, current: 'no device program' });
    }
    await cg.setDevices(handle, DEFAULT_POLICY);
    expect(await cg.checkDevices(handle, DEFAULT_POLICY)).toEqual({ enforced: true, current: '8 rules' });
    const loop = `open:r:${probe!.path('loop-control')}`;
    expect((await probe!.run(cg, handle, [loop])).get(loop)).toBe('EPERM');
    await cg.destroy(handle);
  }, SLOW);

  test('a handle from a corral without device control gets its devices cgroup through setDevices', async () => {
    const made = await cg.create('legacy', limits({}), ALLOW_ALL);
    const devicesDir = made.v1['devices'];
    if (devicesDir === undefined) {
      process.stderr.write('note: no v1 devices hierarchy here; old handles have nothing to migrate\n');
      await cg.destroy(made);
      return;
    }
    // What an older corral stored and left: no leaves, no `devices` entry, no directory.
    for (const leaf of leafDirs(made)) rmdirSync(leaf);
    const { devices: _dropped, ...v1 } = made.v1;
    const { leaves: _none, ...rest } = made;
    const old: CgroupHandle = { ...rest, v1 };
    rmdirSync(devicesDir);
    const loop = `open:r:${probe!.path('loop-control')}`;
    let pid = 0;
    const got = probe!.run(cg, old, [loop], async (p) => {
      pid = p;
      expect(existsSync(devicesDir)).toBe(false);
      const updated = await cg.setDevices(old, DEFAULT_POLICY);
      expect(updated).toEqual({ ...old, v1: { ...old.v1, devices: devicesDir } });
      expect(readFileSync(join(devicesDir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(pid));
    });
    expect((await got).get(loop)).toBe('EPERM');
    expect(await cg.checkDevices(old, DEFAULT_POLICY)).toEqual({ enforced: true, current: '8 rules' });
    // The old handle still finds, kills and removes everything, the new directory included.
    const sleeper = await spawnWaiting('sleep 1000');
    await cg.addProc(old, sleeper.pid);
    expect(readFileSync(join(devicesDir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(sleeper.pid));
    sleeper.go();
    await cg.kill(old);
    expect((await within(sleeper.exit, 'the sleeper to die')).signal).toBe('SIGKILL');
    await cg.destroy(old);
    expect(existsSync(devicesDir)).toBe(false);
  }, SLOW);
});

maybe('bpf(2) on a throw-away cgroup2 directory', () => {
  test('load, tag, attach, query, detach; a refused program carries the verifier log', () => {
    const unified = detectLayout().unified;
    if (unified === null) {
      process.stderr.write('note: no cgroup2 tree here\n');
      return;
    }
    const dir = join(unified.mountPoint, testParentName());
    mkdirSync(dir);
    const fd = openSync(dir, 'r');
    try {
      const bytes = deviceProgramBytes(DEFAULT_RULES);
      const prog = bpfProgLoad({ type: BPF_PROG_TYPE_CGROUP_DEVICE, insns: bytes, license: 'Apache-2.0', name: DEVICE_PROGRAM_NAME });
      let id: number;
      try {
        const info = bpfProgInfo(prog);
        id = info.id;
        expect(info).toMatchObject({ type: BPF_PROG_TYPE_CGROUP_DEVICE, name: DEVICE_PROGRAM_NAME });
        // The kernel's tag is the start of a hash of the instructions: which one depends on the kernel.
        const [sha1Tag, sha256Tag] = programTags(bytes);
        expect([sha1Tag, sha256Tag]).toContain(info.tag);
        process.stderr.write(`note: this kernel tags programs with ${info.tag === sha1Tag ? 'SHA-1' : 'SHA-256'} (${info.tag})\n`);
        bpfProgAttach(fd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
      } finally {
        closeFd(prog);
      }
      // Attached, the program outlives its fd.
      expect(bpfProgQuery(fd, BPF_CGROUP_DEVICE)).toEqual([id]);
      expect(bpfProgInfoById(id).name).toBe(DEVICE_PROGRAM_NAME);
      const again = bpfProgGetFdById(id);
      bpfProgDetach(fd, again, BPF_CGROUP_DEVICE);
      closeFd(again);
      expect(bpfProgQuery(fd, BPF_CGROUP_DEVICE)).toEqual([]);

      let caught: unknown;
      try {
        bpfProgLoad({ type: BPF_PROG_TYPE_CGROUP_DEVICE, insns: bytes.subarray(0, bytes.length - 8), license: 'Apache-2.0', name: 'broken' });
      } catch (err) {
        caught = err;
      }
      expect(hasCode(caught, 'SYSCALL_FAILED')).toBe(true);
      expect((caught as Error).message).toMatch(/^bpf \(cmd `BPF_PROG_LOAD`, type 15, name `broken`, insns \d+, verifier log `[^`]*exit[^`]*`\): EINVAL/);
    } finally {
      closeFd(fd);
      rmdirSync(dir);
    }
  });
});

describe('devices without cgroups (null manager)', () => {
  test('unavailable, and an allow-list is refused at create rather than dropped', async () => {
    const cg = await openCgroupManager({ enabled: false });
    expect(cg.capabilities.features.devices.available).toBe(false);
    let caught: unknown;
    await cg.create('web', limits({}), DEFAULT_POLICY).catch((err: unknown) => { caught = err; });
    expect(hasCode(caught, 'CGROUP_KNOB_UNAVAILABLE')).toBe(true);
    const handle = await cg.create('web', limits({}), ALLOW_ALL);
    expect(await cg.checkDevices(handle, ALLOW_ALL)).toMatchObject({ enforced: true });
    expect(await cg.checkDevices(handle, DEFAULT_POLICY)).toMatchObject({ enforced: false });
  });
});
