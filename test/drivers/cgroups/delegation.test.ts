// systemd `Delegate=yes`, staged without systemd (PID 1 here is not systemd): a unit-like cgroup
// `<name>.service` carrying `trusted.delegate=1`, holding a stand-in agent process. The manager,
// told that it runs in that unit, must move the agent to the unit's `agent` leaf, enable the
// controllers in the unit, and keep every container cgroup inside the unit. Runs on the cgroup2
// tree of any host (on a hybrid host that tree has no controllers; the VM has them all).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { detectLayout, openCgroupManager, withoutV1 } from '../../../src/drivers/cgroups/index.js';
import { readDelegationFacts } from '../../../src/drivers/cgroups/owner.js';
import { removeCgroupDir } from '../../../src/drivers/cgroups/remove.js';
import { setXattr } from '../../../src/sys/xattr.js';
import { requireRoot } from '../../support/root.js';
import { DEFAULT_POLICY, limits, spawnWaiting, testParentName } from './support.js';

const root = requireRoot();
const maybe = root ? describe : describe.skip;

const procs = (dir: string): string[] => readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);

maybe('systemd delegation (staged)', () => {
  test('the agent moves to the unit\'s leaf and containers live inside the unit', async () => {
    const layout = withoutV1(detectLayout());
    if (layout.unified === null || layout.unified.root !== '/') {
      process.stderr.write('note: no cgroup2 tree mounted at its root here; delegation not staged\n');
      return;
    }
    const unitName = `${testParentName()}.service`;
    const unitDir = join(layout.unified.mountPoint, unitName);
    const leafDir = join(unitDir, 'agent');
    mkdirSync(unitDir);
    const agent = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const agentExit = new Promise((r) => agent.once('exit', r));
    let cg: Awaited<ReturnType<typeof openCgroupManager>> | undefined;
    try {
      setXattr(unitDir, 'trusted.delegate', '1');
      await new Promise((r) => agent.once('spawn', r));
      writeFileSync(join(unitDir, 'cgroup.procs'), String(agent.pid));
      const parentName = testParentName();
      cg = await openCgroupManager({ parentName, layout, delegationFacts: { ...readDelegationFacts(layout), selfPath: `/${unitName}` } });

      expect(cg.parents.delegated).toEqual({ unitDir, leafDir });
      expect(cg.parents.unified).toBe(join(unitDir, parentName));
      expect(procs(unitDir)).toEqual([]);
      expect(procs(leafDir)).toEqual([String(agent.pid)]);
      const offered = readFileSync(join(unitDir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
      const enabled = readFileSync(join(unitDir, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);
      for (const c of ['cpu', 'cpuset', 'io', 'memory', 'pids']) expect(enabled.includes(c)).toBe(offered.includes(c));

      const handle = await cg.create('inside', limits({ pids: cg.capabilities.features.pids.available ? 8 : 'unlimited' }), DEFAULT_POLICY);
      expect(handle.unified).toBe(join(unitDir, parentName, 'inside'));
      const proc = await spawnWaiting('sleep 1000');
      await cg.addProc(handle, proc.pid);
      proc.go();
      await cg.kill(handle);
      expect((await proc.exit).signal).toBe('SIGKILL');
      await cg.removeAll();
      expect(existsSync(join(unitDir, parentName))).toBe(false);
      // The leaf stays: the agent lives in it.
      expect(procs(leafDir)).toEqual([String(agent.pid)]);
    } finally {
      await cg?.removeAll().catch(() => undefined);
      agent.kill('SIGKILL');
      await agentExit;
      await removeCgroupDir(leafDir);
      await removeCgroupDir(unitDir, { children: false });
    }
  });
});
