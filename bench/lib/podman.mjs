// podman for a bench, touching none of the machine's podman state: its storage, run, tmp and
// network-config dirs under `dir`, run from a private mount namespace that a helper process holds
// (tmpfs over /run, /dev/shm and /var/lib; entered with `nsenter --mount=/proc/<helper>/ns/mnt`),
// optionally inside a network namespace of the bench's. crun (podman's runtime here) refuses hybrid
// cgroup hosts, so unified/cgroup.controllers is covered there by an empty file (as bench/start.mjs
// does). Root here may not raise rlimits (no CAP_SYS_RESOURCE): `runArgs` lowers podman's defaults
// to what it may set, and puts containers under the bench's cgroup parent.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { privateMounts } from './host.mjs';

/** Starts the helper; returns what runs podman inside it. */
export async function privatePodman({ dir, netns = null, cgroupParent }) {
  for (const d of ['root', 'run', 'tmp', 'net', 'vartmp']) mkdirSync(join(dir, d), { recursive: true });
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  const { helper, enter } = await privateMounts({
    dir, netns, what: 'podman', tmpfs: ['/run', '/dev/shm', '/var/lib'],
    before: [`if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers; fi`],
  });
  const global = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--network-config-dir', join(dir, 'net'),
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', '--storage-driver', 'overlay'];
  const env = { ...process.env, TMPDIR: join(dir, 'vartmp') };
  const nofile = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  const pod = {
    helper,
    runArgs: ['--pull', 'never', '--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', 'nproc=4096:4096', '--cgroup-parent', cgroupParent],
    /** Runs podman; returns its wall time (ms) and stdout; throws when it fails. */
    podman(...args) {
      const t0 = performance.now();
      const r = spawnSync('nsenter', [...enter, 'podman', ...global, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 28 });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(-1000)}`);
      return { ms, out: r.stdout.trim() };
    },
    /** argv that runs a bash snippet in the namespaces; `cmd` spells a podman command for it. */
    inNs: (s) => ['nsenter', ...enter, 'bash', '-c', s],
    cmd: (args) => `TMPDIR=${env.TMPDIR} podman ${global.join(' ')} ${args}`,
    /** Imports a root directory as image `name`. */
    importRootfs(rootfs, name) {
      const [b, ...a] = pod.inNs(`tar -C ${rootfs} -c . | ${pod.cmd(`import - ${name}`)}`);
      const r = spawnSync(b, a, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`podman import failed: ${r.stderr.trim().slice(-500)}`);
    },
    /** Removes every container and image, then ends the helper (its namespace goes with it). */
    stop() {
      if (helper.exitCode !== null) return;
      for (const args of [['rm', '-a', '-f', '-t', '0'], ['rmi', '-a', '-f']]) spawnSync('nsenter', [...enter, 'podman', ...global, ...args], { stdio: 'ignore', env });
      helper.kill('SIGKILL');
    },
  };
  return pod;
}
