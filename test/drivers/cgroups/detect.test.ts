// Layout detection from mountinfo, for the three layouts, without a kernel.

import { describe, expect, test } from '@jest/globals';
import { layoutFromMounts, parseMountInfo, withoutUnified, withoutV1 } from '../../../src/drivers/cgroups/detect.js';
import { backendFor } from '../../../src/drivers/cgroups/manager.js';

// This dev host (kernel 6.18, Debian 12): v1 controllers, cpu and cpuacct apart, an empty cgroup2.
const HYBRID = `
25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
29 25 0:26 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
32 25 0:29 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
33 25 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset
`;

const V2 = `
24 1 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

// A classic v1 host (Debian 10 style), cpu and cpuacct co-mounted, one mount point with a space.
const V1 = `
30 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
31 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
32 25 0:27 / /sys/fs/cgroup/my\\040pids rw - cgroup cgroup rw,pids
33 25 0:27 /nested /mnt/pids-again rw - cgroup cgroup rw,pids
`;

describe('layout detection', () => {
  test('hybrid: v1 controllers plus a cgroup2 tree; each controller placed', () => {
    const layout = layoutFromMounts(parseMountInfo(HYBRID), () => ['hugetlb']);
    expect(layout.kind).toBe('hybrid');
    expect(layout.v1['cpu']!.mountPoint).toBe('/sys/fs/cgroup/cpu');
    expect(layout.v1['cpuacct']!.mountPoint).toBe('/sys/fs/cgroup/cpuacct');
    expect(layout.v1['blkio']).toBeUndefined();
    expect(layout.unified).toEqual({ mountPoint: '/sys/fs/cgroup/unified', root: '/', controllers: ['hugetlb'], nsdelegate: false });
    expect(layout.controllers).toEqual({ cpu: 'v1', cpuacct: 'v1', cpuset: 'v1', freezer: 'v1', hugetlb: 'v2', memory: 'v1', pids: 'v1' });
    expect(backendFor(layout)).toBe('v1');
  });

  test('cgroup2 only', () => {
    const layout = layoutFromMounts(parseMountInfo(V2), () => ['cpu', 'cpuset', 'io', 'memory', 'pids']);
    expect(layout.kind).toBe('v2');
    expect(layout.unified?.nsdelegate).toBe(true);
    expect(layout.controllers['memory']).toBe('v2');
    expect(backendFor(layout)).toBe('v2');
  });

  test('v1 only: co-mounted controllers share a mount; escaped names; the real root wins over a bind mount', () => {
    const layout = layoutFromMounts(parseMountInfo(V1), () => []);
    expect(layout.kind).toBe('v1');
    expect(layout.v1['cpu']).toBe(layout.v1['cpuacct']);
    expect(layout.v1['pids']).toEqual({ mountPoint: '/sys/fs/cgroup/my pids', root: '/', controllers: ['pids'] });
    expect(backendFor(layout)).toBe('v1');
  });

  test('no cgroup mounts: none', () => {
    const layout = layoutFromMounts(parseMountInfo('22 1 0:5 / /proc rw - proc proc rw\n'), () => []);
    expect(layout.kind).toBe('none');
    expect(backendFor(layout)).toBe('none');
  });

  test('test views of a hybrid host: without its v1 side, or without its cgroup2 tree', () => {
    const layout = layoutFromMounts(parseMountInfo(HYBRID), () => ['hugetlb']);
    expect(withoutV1(layout).kind).toBe('v2');
    expect(withoutUnified(layout).kind).toBe('v1');
    expect(withoutUnified(layout).v1['memory']).toEqual(layout.v1['memory']);
  });
});
