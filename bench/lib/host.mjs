// Host chores the benches share: Debian packages a bench needs, the busybox root every runtime is
// given, removing a cgroup tree a bench made for a peer (corral removes its own through its
// cgroups driver; crun and podman leave their parents behind), and a mount namespace that keeps a
// peer's state off the machine's.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const installed = (p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout.includes('install ok installed');

/** Installs the Debian packages that are missing (apt-get update only when a first try fails). */
export function ensurePackages(packages) {
  const missing = packages.filter((p) => !installed(p));
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'ignore', env }).status !== 0) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
  }
}

/** A busybox root in `dir`: the static binary and a link per applet (busybox-static must be installed). */
export function busyboxRootfs(dir) {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n')) if (a && a !== 'busybox') symlinkSync('/bin/busybox', join(dir, 'bin', a));
}

/** Kills what is left in a cgroup parent of ours (every hierarchy), then removes it, leaves first. */
export function removeCgroupTree(name) {
  for (const h of readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d, name)).filter(existsSync)) {
    const dirs = [];
    const walk = (d) => { dirs.push(d); for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name)); };
    walk(h);
    for (let k = 0; k < 50; k++) {
      const pids = dirs.flatMap((d) => { try { return readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean); } catch { return []; } });
      if (!pids.length) break;
      for (const p of pids) try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
      execFileSync('sleep', ['0.05']);
    }
    for (const d of dirs.reverse()) try { rmdirSync(d); } catch { /* busy or gone */ }
  }
}

/**
 * A mount namespace of the bench's, held by a helper process until stop(): tmpfs over each of
 * `tmpfs` (where a tool run as root keeps state whatever its --root says: podman's lock segment
 * and runtime dirs, skopeo's blob-info cache), after the shell lines `before`, inside network
 * namespace `netns` when given. `enter`: nsenter's options for a command to run there.
 */
export async function privateMounts({ dir, tmpfs, before = [], netns = null, what }) {
  const ready = join(dir, 'mounts-ready');
  const script = ['set -e', ...before, ...tmpfs.map((path) => `mount -t tmpfs tmpfs ${path}`), `touch ${ready}`, 'exec sleep 1000000'].join('\n');
  const unshare = ['unshare', '--mount', '--propagation', 'private', 'bash', '-c', script];
  const helper = netns ? spawn('nsenter', [`--net=${netns}`, ...unshare], { stdio: 'ignore' }) : spawn(unshare[0], unshare.slice(1), { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(ready); i++) await sleep(20);
  if (!existsSync(ready)) {
    helper.kill('SIGKILL');
    throw new Error(`the private mount namespace for ${what} did not come up`);
  }
  return { helper, enter: [`--mount=/proc/${helper.pid}/ns/mnt`, ...(netns ? [`--net=${netns}`] : [])], stop: () => helper.kill('SIGKILL') };
}
