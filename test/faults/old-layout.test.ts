// Fault: a container started by a corral from before leaves and root ids keeps running across the
// upgrade. Its record's cgroup handle has no leaves, its processes sit in the container's cgroup
// itself, its monitor outside it, its cgroups' marks carry no root id. The new corral sees no
// drift and no orphan, stops it (the forced kill through the old layout, the exit recorded by the
// monitor), and gives it the new layout at its next start; removing it works too.

import { readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { handleDirs, leafDirs, payloadOnlyDirs } from '../../src/drivers/cgroups/handle.js';
import { readMark, type CgroupHandle } from '../../src/drivers/cgroups/index.js';
import { readPids } from '../../src/drivers/cgroups/knob.js';
import { OWNER_XATTR } from '../../src/drivers/cgroups/mark.js';
import { setXattr } from '../../src/sys/xattr.js';
import { psJson, sandbox, type Sandbox } from '../support/host-sandbox.js';
import { requireRoot } from '../support/root.js';

let sb: Sandbox | undefined;
beforeAll(() => {
  if (requireRoot()) sb = sandbox('fault-oldlayout');
});
afterAll(async () => {
  await sb?.cleanup();
});

const MANIFEST = `apiVersion: corral/v1
kind: Container
metadata: {name: svc}
spec:
  rootfs: {host: {}}
  command: [/bin/sleep, "100000"]
  stopTimeout: 1s
`;

type Rec = { runtime: { monitor: { pid: number }; init: { pid: number } }; cgroup: CgroupHandle; checksum?: string };

/** Turns the running `svc` into what an older corral left: no leaves, no root ids, monitor outside, a record without a checksum. */
async function downgrade(box: Sandbox): Promise<Rec> {
  const file = join(box.root, 'state', 'svc.json');
  const rec = JSON.parse(readFileSync(file, 'utf8')) as Rec;
  const h = rec.cgroup;
  for (const dir of handleDirs(h)) {
    // The monitor back where the agent started it (here: the hierarchy's root), the container's
    // processes in the cgroup itself.
    writeFileSync(join(dirname(dirname(dir)), 'cgroup.procs'), String(rec.runtime.monitor.pid));
    for (const pid of await readPids(join(dir, 'payload'))) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }
  for (const leaf of leafDirs(h)) rmdirSync(leaf);
  for (const dir of handleDirs(h)) setXattr(dir, OWNER_XATTR, 'container');
  const { leaves: _none, ...old } = h;
  const { checksum: _sum, ...rest } = rec;
  writeFileSync(file, `${JSON.stringify({ ...rest, cgroup: old }, null, 2)}\n`);
  rmSync(`${file}.prev`, { force: true });
  return { ...rest, cgroup: old };
}

describe('a container started before leaves and root ids', () => {
  test('is left as it runs, stopped with its exit recorded, and started again in the new layout', async () => {
    if (!sb) return;
    sb.write('svc.yaml', MANIFEST);
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const old = await downgrade(sb);
    for (const dir of handleDirs(old.cgroup)) expect(await readPids(dir)).toEqual([old.runtime.init.pid]);

    // No drift, no orphan, nothing to do.
    expect(sb.run('plan', '--detailed-exitcode').code).toBe(0);
    expect(sb.run('reconcile', '--once', '--detailed-exitcode').code).toBe(0);
    expect(psJson(sb).find((c) => c.name === 'svc')).toMatchObject({ status: 'running', pid: old.runtime.init.pid });

    // sleep as PID 1 ignores SIGTERM: the forced kill goes through the old layout's cgroup, the
    // monitor (outside it) records the SIGKILL; the cgroup is adopted with this root's id.
    expect(sb.run('stop', 'svc').code).toBe(0);
    expect(psJson(sb).find((c) => c.name === 'svc')).toMatchObject({ status: 'stopped', lastExit: { signal: 'SIGKILL', code: null } });
    for (const dir of handleDirs(old.cgroup)) expect(readMark(dir)).toEqual({ role: 'container', rootId: sb.rootId() });

    expect(sb.run('start', 'svc').code).toBe(0);
    const now = JSON.parse(sb.run('inspect', 'svc').stdout) as Rec;
    expect(now.cgroup.leaves).toEqual({ monitor: 'monitor', payload: 'payload' });
    for (const dir of payloadOnlyDirs(now.cgroup)) expect(await readPids(dir)).toEqual([now.runtime.init.pid]);

    sb.remove('svc.yaml');
    expect(sb.run('reconcile', '--once', '--allow-empty').code).toBe(0);
    expect(psJson(sb)).toEqual([]);
  }, 120_000);
});
