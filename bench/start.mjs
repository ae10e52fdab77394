// bench/start: corral against crun, runc and lxc on one busybox rootfs, in one run.
//   npm run build && node bench/start.mjs [runs]        (root; installs crun runc lxc with apt-get)
// Prints start-to-exit of /bin/true and start-to-running, median and p90 per runtime, then the
// monitor's RSS and the host memory each idle container adds (50 containers, corral vs crun).
// Peers are timed from bash ($EPOCHREALTIME, no fork around the measured command); corral is
// timed from Node through its runtime API, as the agent uses it (Node's spawn included).
// crun refuses hybrid cgroup hosts: it runs in a private mount namespace where
// unified/cgroup.controllers is covered by an empty file.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildSpawnSpec } from '../dist/drivers/namespaces/spec.js';
import { withLaterDefaults } from '../dist/manifest/hash.js';
import { DEFAULT_DEVICES } from '../dist/manifest/defaults.js';
import { formatV1Rule } from '../dist/drivers/cgroups/device-rules.js';
import { start, stop, waitForExit } from '../dist/drivers/namespaces/runtime.js';

const RUNS = Number(process.argv[2] ?? 30);
const IDLE = 50;
if (process.getuid() !== 0) throw new Error('bench/start needs root');

function ensurePackages() {
  const missing = ['crun', 'runc', 'lxc', 'busybox-static'].filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout.indexOf('install ok installed') < 0);
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'ignore', env }).status !== 0) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
  }
}

function busybox(dir) {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n')) if (a && a !== 'busybox') symlinkSync('/bin/busybox', join(dir, 'bin', a));
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { median: q(0.5), p90: q(0.9) };
};

function ociConfig(args, rootfs) {
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/', noNewPrivileges: true,
      capabilities: Object.fromEntries(['bounding', 'effective', 'permitted'].map((k) => [k, ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP']])) },
    root: { path: rootfs, readonly: true },
    hostname: 'bench',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })),
      resources: { pids: { limit: 2048 } },
      maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Runs `cmd` (a bash snippet using $i) RUNS times in bash; returns ms per run. */
function bashTimes(cmd, { wrap = (s) => ['bash', '-c', s], after = '' } = {}) {
  const script = `for i in $(seq 1 ${RUNS}); do t0=$EPOCHREALTIME; ${cmd} >/dev/null 2>&1 || echo FAIL $i >&2; t1=$EPOCHREALTIME; echo "$t0 $t1"; ${after} done`;
  const [bin, ...args] = wrap(script);
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.stderr.includes('FAIL')) throw new Error(`${cmd}: failed runs\n${r.stderr.slice(0, 2000)}`);
  return r.stdout.trim().split('\n').map((l) => { const [a, b] = l.split(' ').map(Number); return (b - a) * 1000; });
}

const root = mkdtempSync('/tmp/corral-bench-');
chmodSync(root, 0o755);
const cgroupDirs = [];
try {
  ensurePackages();
  const rootfs = join(root, 'rootfs');
  busybox(rootfs);
  const empty = join(root, 'empty');
  writeFileSync(empty, '');
  const crunNs = (s) => ['unshare', '-m', '--propagation', 'private', 'bash', '-c', `mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers && ${s}`];

  // crun and runc: one bundle per payload.
  for (const [name, args] of [['true', ['/bin/true']], ['sleep', ['/bin/sleep', '1000']]]) {
    mkdirSync(join(root, `bundle-${name}`));
    writeFileSync(join(root, `bundle-${name}`, 'config.json'), JSON.stringify(ociConfig(args, rootfs)));
  }
  const bt = join(root, 'bundle-true');
  const bs = join(root, 'bundle-sleep');
  const crunRoot = join(root, 'crun-state');
  const runcRoot = join(root, 'runc-state');
  const peers = {
    crun: {
      exit: bashTimes(`crun --root ${crunRoot} run --bundle ${bt} cb-$i`, { wrap: crunNs }),
      running: bashTimes(`crun --root ${crunRoot} run -d --bundle ${bs} cs-$i`, { wrap: crunNs, after: `crun --root ${crunRoot} delete -f cs-$i >/dev/null 2>&1;` }),
    },
    runc: {
      exit: bashTimes(`runc --root ${runcRoot} run --bundle ${bt} rb-$i`),
      running: bashTimes(`runc --root ${runcRoot} run -d --bundle ${bs} rs-$i`, { after: `runc --root ${runcRoot} delete -f rs-$i >/dev/null 2>&1;` }),
    },
  };
  const lxcPath = join(root, 'lxc');
  mkdirSync(lxcPath);
  const lxcConf = (cmd) => `lxc.rootfs.path = dir:${rootfs}\nlxc.uts.name = bench\nlxc.net.0.type = empty\nlxc.mount.auto = proc:mixed sys:ro\nlxc.autodev = 1\nlxc.apparmor.profile = unconfined\nlxc.init.cmd = ${cmd}\nlxc.cap.keep = chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap\n`;
  writeFileSync(join(root, 'lxc-true.conf'), lxcConf('/bin/true'));
  writeFileSync(join(root, 'lxc-sleep.conf'), lxcConf('/bin/sleep 1000'));
  peers.lxc = {
    exit: bashTimes(`lxc-execute -P ${lxcPath} -n lb-$i -f ${root}/lxc-true.conf -- /bin/true`),
    running: bashTimes(`lxc-start -P ${lxcPath} -n ls-$i -f ${root}/lxc-sleep.conf -d`, { after: `lxc-stop -P ${lxcPath} -n ls-$i -k >/dev/null 2>&1;` }),
  };

  // corral: a fresh cgroup per start (pids, memory, devices with the default allow-list, unified),
  // as the agent's cgroups driver makes.
  const state = join(root, 'corral');
  let n = 0;
  const freshCgroup = () => {
    const name = `corral-bench-${process.pid}-${n++}`;
    const dirs = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/devices', '/sys/fs/cgroup/unified'].filter(existsSync).map((h) => join(h, name));
    for (const d of dirs) mkdirSync(d);
    const devices = dirs.find((d) => d.startsWith('/sys/fs/cgroup/devices/'));
    if (devices) {
      writeFileSync(join(devices, 'devices.deny'), 'a');
      for (const { rule } of DEFAULT_DEVICES) writeFileSync(join(devices, 'devices.allow'), formatV1Rule(rule));
    }
    cgroupDirs.push(...dirs);
    return dirs;
  };
  const killAll = (dirs) => async () => {
    for (let k = 0; k < 100; k++) {
      const pids = dirs.flatMap((d) => { try { return readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean); } catch { return []; } });
      if (!pids.length) return;
      for (const p of pids) try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
      await sleep(10);
    }
  };
  // A spec as an older corral wrote it: fields added since get their defaults, as for a state record.
  const baseSpec = withLaterDefaults(JSON.parse(readFileSync(new URL('./start-spec.json', import.meta.url), 'utf8')));
  const corralStart = async (argv, i) => {
    const dir = join(state, String(i));
    const p = Object.fromEntries(['upper', 'work', 'rootfs', 'shim', 'logs'].map((k) => [k, join(dir, k)]));
    for (const d of Object.values(p)) mkdirSync(d, { recursive: true });
    const spec = { ...baseSpec, name: `b${i}`, process: { ...baseSpec.process, command: argv } };
    const t0 = performance.now();
    const dirs = freshCgroup();
    const record = await start(buildSpawnSpec({ spec, rootfs: { lower: [rootfs], upper: p.upper, work: p.work, target: p.rootfs, binds: [], readOnly: true }, image: null, cgroupProcs: dirs.map((d) => join(d, 'cgroup.procs')), shimDir: p.shim, logDir: p.logs, volumes: {}, arch: process.arch }));
    return { t0, t1: performance.now(), record, dirs };
  };
  const corral = { exit: [], running: [] };
  for (let i = 0; i < RUNS; i++) {
    const r = await corralStart(['/bin/true'], `t${i}`);
    await waitForExit(r.record, { timeoutMs: 30_000 });
    corral.exit.push(performance.now() - r.t0);
  }
  for (let i = 0; i < RUNS; i++) {
    const r = await corralStart(['/bin/sleep', '1000'], `s${i}`);
    corral.running.push(r.t1 - r.t0);
    await stop(r.record, { timeoutMs: 0, killAll: killAll(r.dirs) });
  }

  console.log(`start latency, ${RUNS} runs each (ms)           exit: median    p90   running: median    p90`);
  for (const [name, t] of [['corral', corral], ...Object.entries(peers)]) {
    const e = stats(t.exit), r = stats(t.running);
    console.log(`  ${name.padEnd(8)} ${' '.repeat(34)}${e.median.toFixed(1).padStart(8)} ${e.p90.toFixed(1).padStart(6)} ${r.median.toFixed(1).padStart(17)} ${r.p90.toFixed(1).padStart(6)}`);
  }

  // Memory: monitor RSS, and MemAvailable drop per idle container (50 of each).
  const avail = () => Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]);
  const settle = async () => { execFileSync('sync'); await sleep(500); };
  await settle();
  let before = avail();
  const idle = [];
  for (let i = 0; i < IDLE; i++) idle.push(await corralStart(['/bin/sleep', '1000'], `i${i}`));
  await settle();
  const corralPer = (before - avail()) / IDLE;
  const rss = idle.map((r) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${r.record.monitor.pid}/status`, 'utf8'))[1]));
  for (const r of idle) await stop(r.record, { timeoutMs: 0, killAll: killAll(r.dirs) });
  await settle();
  before = avail();
  const inCrunNs = (script) => { const [b, ...a] = crunNs(script); return spawnSync(b, a, { stdio: 'ignore' }); };
  inCrunNs(`for i in $(seq 1 ${IDLE}); do crun --root ${crunRoot} run -d --bundle ${bs} ci-$i >/dev/null; done`);
  await settle();
  const crunPer = (before - avail()) / IDLE;
  inCrunNs(`for i in $(seq 1 ${IDLE}); do crun --root ${crunRoot} delete -f ci-$i >/dev/null 2>&1; done`);
  console.log(`memory: corral monitor VmRSS median ${stats(rss).median} kB (max ${Math.max(...rss)} kB)`);
  console.log(`memory: host MemAvailable drop per idle container (${IDLE} of each): corral ${corralPer.toFixed(0)} kB, crun ${crunPer.toFixed(0)} kB (crun leaves no monitor process; corral's includes its monitor)`);
} finally {
  for (const d of cgroupDirs.reverse()) { try { rmdirSync(d); } catch { /* busy or gone */ } }
  rmSync(root, { recursive: true, force: true });
}
