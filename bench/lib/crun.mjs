// crun for the benches that compare a container that idles (`sleep`) on one read-only busybox
// rootfs: its OCI config, shaped like the corral manifests they converge (pid, net, ipc, uts,
// mount and cgroup namespaces; 16 pids, 16 MiB), optionally with a user namespace mapping
// container root to `USERNS_BASE` (crun 1.8 cannot idmap a rootfs: give it one chowned there).

export const USERNS_BASE = 2000000;
export const USERNS_SIZE = 65536;

/** config.json of a container running `sleep`; `cgroupsPath` places it under a bench's parent. */
export function sleepConfig(rootfs, { userns = false, cgroupsPath } = {}) {
  const idMaps = [{ containerID: 0, hostID: USERNS_BASE, size: USERNS_SIZE }];
  return {
    ociVersion: '1.0.2',
    process: { user: { uid: 0, gid: 0 }, args: ['/bin/sleep', '1000000'], env: ['PATH=/bin'], cwd: '/', noNewPrivileges: true },
    root: { path: rootfs, readonly: true },
    hostname: 'bench',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] }],
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup', ...(userns ? ['user'] : [])].map((type) => ({ type })),
      ...(userns ? { uidMappings: idMaps, gidMappings: idMaps } : {}),
      resources: { pids: { limit: 16 }, memory: { limit: 16 * 2 ** 20 } },
      ...(cgroupsPath ? { cgroupsPath } : {}),
    },
  };
}
