// bench/start: corral against crun, runc and lxc on one busybox rootfs, in one run.
//   npm run build && node bench/start.mjs [runs]        (root; installs crun runc lxc with apt-get)
//   node bench/start.mjs --quick [runs]                 (seconds: corral and crun only, no runc/lxc, no memory part)
// Prints start-to-exit of /bin/true and start-to-running, median and p90 per runtime, then the
// monitor's RSS and the host memory each idle container adds (50 containers, corral vs crun).
// corral also runs with `init: true` (its own init as PID 1, the command forked from it),
// interleaved with the plain runs like the userns ones; the table gives the delta init - no init
// and the init's VmRSS.
// corral and crun also run with a user namespace (0 -> 2000000, 65536 ids, explicit maps so no
// /etc/subuid), each interleaved run by run with its no-userns twin, and the table gives the delta
// userns - no userns per runtime (target: <= 2 ms at the median). corral's monitor mounts the root
// overlay with idmapped lower layers; crun gets a copy of the rootfs chowned to 2000000 once, before
// timing, when it cannot idmap the rootfs itself (crun 1.8 takes `idmap` on bind mounts, not on "/").
// Peers are timed from bash ($EPOCHREALTIME, no fork around the measured command); corral is
// timed from Node through its runtime API, as the agent uses it (Node's spawn included).
// crun refuses hybrid cgroup hosts: it runs in a private mount namespace where
// unified/cgroup.controllers is covered by an empty file.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildSpawnSpec } from '../dist/drivers/namespaces/spec.js';
import { withLaterDefaults } from '../dist/manifest/hash.js';
import { DEFAULT_DEVICES } from '../dist/manifest/defaults.js';
import { formatV1Rule } from '../dist/drivers/cgroups/device-rules.js';
import { start, stop, waitForExit } from '../dist/drivers/namespaces/runtime.js';
import { busyboxRootfs, ensurePackages } from './lib/host.mjs';
import { emitResult, row as resultRow, stats } from './lib/result.mjs';

const QUICK = process.argv.includes('--quick');
const RUNS = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 30);
const USERNS_BASE = 2000000, USERNS_SIZE = 65536;
const idMaps = [{ containerID: 0, hostID: USERNS_BASE, size: USERNS_SIZE }];
const IDLE = 50;
if (process.getuid() !== 0) throw new Error('bench/start needs root');

function ociConfig(args, rootfs, { userns = false, rootMount = null } = {}) {
  const config = {
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
  if (userns) {
    config.linux.namespaces.push({ type: 'user' });
    config.linux.uidMappings = idMaps;
    config.linux.gidMappings = idMaps;
  }
  // The rootfs as an idmapped bind mount over an empty root.path (when crun takes it).
  if (rootMount) config.mounts.unshift({ destination: '/', type: 'bind', source: rootMount, options: ['rbind', 'ro', 'idmap'] });
  return config;
}

/** Runs `cmd` (a bash snippet using $i) RUNS times in bash; returns ms per run. */
function bashTimes(cmd, { wrap = (s) => ['bash', '-c', s], after = '' } = {}) {
  return bashTimesInterleaved([{ cmd, after }], { wrap })[0];
}

/** Runs each of `cmds` ({cmd, after}) once per round, RUNS rounds, in one bash; returns ms per run for each. */
function bashTimesInterleaved(cmds, { wrap = (s) => ['bash', '-c', s] } = {}) {
  const body = cmds.map(({ cmd, after = '' }, k) => `t0=$EPOCHREALTIME; ${cmd} >/dev/null 2>&1 || echo FAIL ${k} $i >&2; t1=$EPOCHREALTIME; echo "${k} $t0 $t1"; ${after}`).join(' ');
  const [bin, ...args] = wrap(`for i in $(seq 1 ${RUNS}); do ${body} done`);
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.stderr.includes('FAIL')) throw new Error(`${cmds.map((c) => c.cmd).join(' / ')}: failed runs\n${r.stderr.slice(0, 2000)}`);
  const out = cmds.map(() => []);
  for (const l of r.stdout.trim().split('\n')) { const [k, a, b] = l.split(' ').map(Number); out[k].push((b - a) * 1000); }
  return out;
}

const root = mkdtempSync('/tmp/corral-bench-');
chmodSync(root, 0o755);
const cgroupDirs = [];
try {
  ensurePackages(['crun', ...(QUICK ? [] : ['runc', 'lxc']), 'busybox-static']);
  const rootfs = join(root, 'rootfs');
  busyboxRootfs(rootfs);
  const empty = join(root, 'empty');
  writeFileSync(empty, '');
  const crunNs = (s) => ['unshare', '-m', '--propagation', 'private', 'bash', '-c', `mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers && ${s}`];

  // crun and runc: one bundle per payload.
  const bundle = (name, args, rootfsPath, opts) => {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'config.json'), JSON.stringify(ociConfig(args, rootfsPath, opts)));
    return join(root, name);
  };
  const bt = bundle('bundle-true', ['/bin/true'], rootfs);
  const bs = bundle('bundle-sleep', ['/bin/sleep', '1000'], rootfs);
  const crunRoot = join(root, 'crun-state');
  const runcRoot = join(root, 'runc-state');
  // crun + userns: the same rootfs idmapped to the container's root if crun takes `idmap` on the
  // rootfs (probed once); otherwise a copy chowned to 2000000 once, before timing.
  const crunInNs = (script) => { const [b, ...a] = crunNs(script); return spawnSync(b, a, { encoding: 'utf8' }); };
  let crunUsernsRootfs;
  {
    const probe = bundle('bundle-idmap-probe', ['/bin/true'], 'rootfs', { userns: true, rootMount: rootfs });
    mkdirSync(join(probe, 'rootfs'));
    const r = crunInNs(`crun --root ${crunRoot} run --bundle ${probe} cprobe`);
    crunUsernsRootfs = r.status === 0 ? { how: 'idmapped bind mount of the rootfs', args: ['rootfs', { rootMount: rootfs }] } : null;
    if (!crunUsernsRootfs) {
      const copy = join(root, 'rootfs-userns');
      execFileSync('cp', ['-a', rootfs, copy]);
      execFileSync('chown', ['-hR', `${USERNS_BASE}:${USERNS_BASE}`, copy]);
      const version = execFileSync('crun', ['--version'], { encoding: 'utf8' }).split('\n')[0];
      crunUsernsRootfs = { how: `copy of the rootfs chowned to ${USERNS_BASE} once, before timing (${version} refuses \`idmap\` on the rootfs: ${(r.stderr || '').trim().split('\n').pop()})`, args: [copy, {}] };
    }
  }
  const usernsBundle = (name, args) => {
    const [path, opts] = crunUsernsRootfs.args;
    const b = bundle(name, args, path, { userns: true, ...opts });
    if (path === 'rootfs') mkdirSync(join(b, 'rootfs'));
    return b;
  };
  const btU = usernsBundle('bundle-true-userns', ['/bin/true']);
  const bsU = usernsBundle('bundle-sleep-userns', ['/bin/sleep', '1000']);
  const crunExit = bashTimesInterleaved([
    { cmd: `crun --root ${crunRoot} run --bundle ${bt} cb-$i` },
    { cmd: `crun --root ${crunRoot} run --bundle ${btU} cbu-$i` },
  ], { wrap: crunNs });
  const crunRunning = bashTimesInterleaved([
    { cmd: `crun --root ${crunRoot} run -d --bundle ${bs} cs-$i`, after: `crun --root ${crunRoot} delete -f cs-$i >/dev/null 2>&1;` },
    { cmd: `crun --root ${crunRoot} run -d --bundle ${bsU} csu-$i`, after: `crun --root ${crunRoot} delete -f csu-$i >/dev/null 2>&1;` },
  ], { wrap: crunNs });
  const peers = {
    crun: { exit: crunExit[0], running: crunRunning[0] },
    'crun+userns': { exit: crunExit[1], running: crunRunning[1] },
  };
  if (!QUICK) {
  peers.runc = {
    exit: bashTimes(`runc --root ${runcRoot} run --bundle ${bt} rb-$i`),
    running: bashTimes(`runc --root ${runcRoot} run -d --bundle ${bs} rs-$i`, { after: `runc --root ${runcRoot} delete -f rs-$i >/dev/null 2>&1;` }),
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
  }

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
  const usernsSpec = { ...baseSpec, namespaces: { ...baseSpec.namespaces, user: { kind: 'manual', uidMap: idMaps, gidMap: idMaps } } };
  const initSpec = { ...baseSpec, init: true };
  const corralStart = async (argv, i, base = baseSpec) => {
    const dir = join(state, String(i));
    const p = Object.fromEntries(['upper', 'work', 'rootfs', 'shim', 'logs'].map((k) => [k, join(dir, k)]));
    for (const d of Object.values(p)) mkdirSync(d, { recursive: true });
    const spec = { ...base, name: `b${i}`, process: { ...base.process, command: argv } };
    const t0 = performance.now();
    const dirs = freshCgroup();
    const record = await start(buildSpawnSpec({ spec, rootfs: { lower: [rootfs], upper: p.upper, work: p.work, target: p.rootfs, binds: [], readOnly: true }, image: null, cgroupProcs: dirs.map((d) => join(d, 'cgroup.procs')), shimDir: p.shim, logDir: p.logs, volumes: {}, arch: process.arch }));
    return { t0, t1: performance.now(), record, dirs };
  };
  // Without and with a user namespace, interleaved run by run.
  const corral = { exit: [], running: [] };
  const corralU = { exit: [], running: [] };
  const corralI = { exit: [], running: [] };
  const initRss = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [t, base, tag] of [[corral, baseSpec, 't'], [corralU, usernsSpec, 'tu'], [corralI, initSpec, 'ti']]) {
      const r = await corralStart(['/bin/true'], `${tag}${i}`, base);
      const st = await waitForExit(r.record, { timeoutMs: 30_000 });
      t.exit.push(performance.now() - r.t0);
      if (st?.state !== 'exited' || st.exit.exitCode !== 0) throw new Error(`corral ${tag}${i}: /bin/true ended ${JSON.stringify(st?.state === 'exited' ? st.exit : st?.state)}`);
    }
  }
  for (let i = 0; i < RUNS; i++) {
    for (const [t, base, tag] of [[corral, baseSpec, 's'], [corralU, usernsSpec, 'su'], [corralI, initSpec, 'si']]) {
      const r = await corralStart(['/bin/sleep', '1000'], `${tag}${i}`, base);
      t.running.push(r.t1 - r.t0);
      if (base === initSpec) initRss.push(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${r.record.init.pid}/status`, 'utf8'))[1]));
      await stop(r.record, { timeoutMs: 0, killAll: killAll(r.dirs) });
    }
  }

  const f = (x) => x.toFixed(1).padStart(7);
  const d = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`.padStart(7);
  console.log(`start latency, ${RUNS} runs each (ms)   exit: median    p90   running: median    p90`);
  const row = (name, t) => { const e = stats(t.exit), r = stats(t.running); console.log(`  ${name.padEnd(34)}${f(e.median)} ${f(e.p90)} ${' '.repeat(9)}${f(r.median)} ${f(r.p90)}`); return { e, r }; };
  const delta = (name, a, b) => console.log(`  ${name.padEnd(34)}${d(b.e.median - a.e.median)} ${d(b.e.p90 - a.e.p90)} ${' '.repeat(9)}${d(b.r.median - a.r.median)} ${d(b.r.p90 - a.r.p90)}`);
  const deltas = [];
  for (const [name, plain, userns] of [['corral', corral, corralU], ['crun', peers.crun, peers['crun+userns']]]) {
    const a = row(name, plain), b = row(`${name} + userns`, userns);
    delta(`  delta userns - no userns`, a, b);
    deltas.push([name, b.e.median - a.e.median, b.r.median - a.r.median]);
  }
  {
    const a = stats(corral.exit), b = row('corral + init', corralI);
    delta('  delta init - no init', { e: a, r: stats(corral.running) }, b);
  }
  for (const [name, t] of Object.entries(peers)) if (!name.startsWith('crun')) row(name, t);
  console.log(`crun + userns rootfs: ${crunUsernsRootfs.how}`);
  console.log(`corral + init: corral-init (PID 1) VmRSS median ${stats(initRss).median} kB (max ${Math.max(...initRss)} kB; pages shared copy-on-write with its monitor included)`);
  console.log(`host: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cpus, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (deltas of a few ms are noise on a loaded host: rerun with more runs)`);
  for (const [name, e, r] of deltas) console.log(`target (userns adds <= 2 ms at the median): ${name} exit ${d(e).trim()} ms, running ${d(r).trim()} ms: ${Math.max(e, r) <= 2 ? 'met' : 'MISSED'}`);
  const resultRows = Object.entries({ corral, 'corral + userns': corralU, 'corral + init': corralI, ...peers }).flatMap(([tool, t]) => [resultRow(tool, 'start to exit of true', t.exit), resultRow(tool, 'start to running', t.running)]);
  resultRows.push(resultRow('corral', 'corral-init VmRSS', initRss, { unit: 'kB' }));
  const emit = () => emitResult({ bench: 'start', unit: 'ms', rows: resultRows, params: { runs: RUNS, quick: QUICK } });
  if (QUICK) emit();
  if (!QUICK) {

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
  resultRows.push(resultRow('corral', 'monitor VmRSS', rss, { unit: 'kB' }), resultRow('corral', `host memory per idle container (${IDLE})`, corralPer, { unit: 'kB' }), resultRow('crun', `host memory per idle container (${IDLE})`, crunPer, { unit: 'kB' }));
  emit();
  }
} finally {
  for (const d of cgroupDirs.reverse()) { try { rmdirSync(d); } catch { /* busy or gone */ } }
  rmSync(root, { recursive: true, force: true });
}
