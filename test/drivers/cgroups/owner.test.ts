// Where corral's parents go, and the systemd delegation rule, without a kernel.

import { describe, expect, test } from '@jest/globals';
import { layoutFromMounts, parseMountInfo } from '../../../src/drivers/cgroups/detect.js';
import { checkCgroupName, delegatedUnitPath, resolveParents, unifiedPathOf } from '../../../src/drivers/cgroups/owner.js';
import { hasCode } from '../../../src/errors.js';

const V2 = layoutFromMounts(parseMountInfo('24 1 0:21 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n'), () => ['cpu', 'memory', 'pids']);
const HYBRID = layoutFromMounts(parseMountInfo([
  '26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
  '28 25 0:25 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu',
  '30 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
  '31 25 0:28 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices',
].join('\n')), () => []);

const marks = (m: Record<string, string>) => (path: string) => m[path] ?? null;

describe('delegation rule', () => {
  test('a systemd service with trusted.delegate=1 is delegated', () => {
    const facts = { selfPath: '/system.slice/corral.service', delegateMark: marks({ '/system.slice/corral.service': '1' }) };
    expect(delegatedUnitPath(V2, facts)).toBe('/system.slice/corral.service');
  });

  test('after the agent moved to its leaf, the unit is still found', () => {
    const facts = { selfPath: '/system.slice/corral.service/agent', delegateMark: marks({ '/system.slice/corral.service': '1' }) };
    expect(delegatedUnitPath(V2, facts)).toBe('/system.slice/corral.service');
  });

  test('no mark, a non-unit cgroup, the root, or no cgroup2 tree: not delegated', () => {
    expect(delegatedUnitPath(V2, { selfPath: '/system.slice/corral.service', delegateMark: marks({}) })).toBeNull();
    expect(delegatedUnitPath(V2, { selfPath: '/user.slice/session-3', delegateMark: marks({ '/user.slice/session-3': '1' }) })).toBeNull();
    expect(delegatedUnitPath(V2, { selfPath: '/', delegateMark: marks({ '/': '1' }) })).toBeNull();
    const noUnified = layoutFromMounts(parseMountInfo('28 25 0:25 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n'), () => []);
    expect(delegatedUnitPath(noUnified, { selfPath: '/a.service', delegateMark: marks({ '/a.service': '1' }) })).toBeNull();
  });

  test('/proc/self/cgroup', () => {
    expect(unifiedPathOf('4:memory:/x\n0::/system.slice/corral.service\n')).toBe('/system.slice/corral.service');
    expect(unifiedPathOf('4:memory:/x\n')).toBeNull();
  });
});

describe('parents', () => {
  test('v2: one parent under the cgroup2 root', () => {
    expect(resolveParents(V2, 'corral', null)).toEqual({ name: 'corral', v1: {}, unified: '/sys/fs/cgroup/corral', delegated: null });
  });

  test('v2 delegated: inside the unit, with the agent leaf beside it', () => {
    expect(resolveParents(V2, 'corral', '/system.slice/corral.service')).toEqual({
      name: 'corral',
      v1: {},
      unified: '/sys/fs/cgroup/system.slice/corral.service/corral',
      delegated: { unitDir: '/sys/fs/cgroup/system.slice/corral.service', leafDir: '/sys/fs/cgroup/system.slice/corral.service/agent' },
    });
  });

  test('hybrid: a parent in each managed v1 hierarchy (devices included) and in the cgroup2 tree', () => {
    expect(resolveParents(HYBRID, 'corral-test', null)).toEqual({
      name: 'corral-test',
      v1: { cpu: '/sys/fs/cgroup/cpu/corral-test', devices: '/sys/fs/cgroup/devices/corral-test', memory: '/sys/fs/cgroup/memory/corral-test' },
      unified: '/sys/fs/cgroup/unified/corral-test',
      delegated: null,
    });
  });

  test('names that are not one safe path component are refused', () => {
    for (const bad of ['', '.', '..', 'a/b', 'cgroup.procs', '-x', 'x\ny']) {
      let caught: unknown;
      try {
        checkCgroupName(bad, 'name');
      } catch (err) {
        caught = err;
      }
      expect(hasCode(caught, 'CLI_USAGE')).toBe(true);
    }
    expect(() => checkCgroupName('web-1.prod_a', 'name')).not.toThrow();
  });
});
