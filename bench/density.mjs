// bench/density: N idle containers on this host, corral beside crun and podman in the same run.
//   npm run bench:density [-- N]     or     npm run build && node bench/density.mjs [N=1000] [--tools=corral,crun,podman] [--passes=5]
//   (root; installs crun, podman and busybox-static with apt-get when missing)
//
// Every container runs busybox `sleep` from one shared busybox root, read-only, without network,
// with a 16 MiB memory and 16 pids limit. Per tool, one after the other, each from an empty host:
// - converge: corral: N manifests in one directory and one `corral reconcile --once` (a fresh
//   process, its own parallelism); crun: `crun run -d` N times in a bash loop (one bundle per
//   container, for its cgroup path); podman: `podman run -d --network none` N times in a bash loop.
//   Wall time of the whole, and per container.
// - host memory per container, the monitor included: the drop of MemAvailable (/proc/meminfo)
//   between before converge and after it, divided by N. Both are read after a sync and a 1.5 s
//   settle, as the median of 5 readings. This counts everything the host gives a container:
//   its processes, its monitor (corral's shim, podman's conmon; crun leaves none), page tables,
//   kernel objects of its namespaces and cgroups, tmpfs mounts. Two parts are shown beside it:
//   the memory charged to the tool's cgroup parent (v1 memory.usage_in_bytes or v2 memory.current,
//   hierarchical) and the monitors' PSS (/proc/<pid>/smaps_rollup, shared pages split between the
//   processes sharing them). Below them, how much some /proc/meminfo lines grew per container
//   (anonymous pages, shmem, slab, percpu, page tables, kernel stacks): where the drop went.
//   The machine is shared: other work moves MemAvailable too, so read the load average printed
//   with it.
// - agent pass: corral only, a warm pass in process as the agent runs it (bench/lib/pass.mjs):
//   manifests through the cache, inspect of the N containers, plan; nothing to do. Beside it, what
//   the peers offer for "look at every container": `corral ps`, `crun list`, `podman ps -a`.
// - teardown: corral: the directory emptied and one `reconcile --once --allow-empty`; crun:
//   `crun delete -f` in a loop; podman: one `podman rm -a -f -t 0`.
// crun refuses hybrid cgroup hosts: crun and podman run in a private mount namespace where
// unified/cgroup.controllers is covered by an empty file (as bench/start.mjs does); podman keeps
// its storage, run and config dirs under the temp dir and tmpfs over /run, /dev/shm and /var/lib
// there, so none of the machine's podman state is touched (as bench/network.mjs does).
// Everything lives under a temp dir and cgroup parents of its own, removed at the end, also after
// a failure or Ctrl-C (the signal is held until the cleanup is done).

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { openCgroupManager } from '../dist/drivers/cgroups/index.js';
import { busyboxRootfs, ensurePackages, removeCgroupTree } from './lib/host.mjs';
import { sleepConfig } from './lib/crun.mjs';
import { privatePodman } from './lib/podman.mjs';
import { loadAverage } from './lib/machine.mjs';
import { warmPasses } from './lib/pass.mjs';
import { emitResult, row, stats } from './lib/result.mjs';

const ARGS = process.argv.slice(2);
const N = Number(ARGS.find((a) => /^\d+$/.test(a)) ?? 1000);
const opt = (name, dflt) => ARGS.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const TOOLS = opt('tools', 'corral,crun,podman').split(',');
const PASSES = Number(opt('passes', '5'));
if (process.getuid() !== 0) throw new Error('bench/density needs root');

const BIN = new URL('../bin/corral', import.meta.url).pathname;
const base = mkdtempSync('/tmp/corral-bench-density-');
chmodSync(base, 0o755);
const parent = `corral-bench-density-${process.pid}`;
const crunParent = `${parent}-crun`;
const podParent = `${parent}-podman`;
const root = join(base, 'root');
const none = join(base, 'none');
const rootfs = join(base, 'rootfs');
const empty = join(base, 'empty');
const corralEnv = { ...process.env, CORRAL_ROOT: root, CORRAL_CGROUP_PARENT: parent, CORRAL_LOG_LEVEL: 'error' };
const loadStart = loadAverage();

// Ctrl-C reaches the whole process group: the running child stops, and this process stops at the
// next checkpoint and cleans up instead of dying with containers left behind.
let interrupted = null;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) process.stderr.write('bench/density: still cleaning up, please wait\n');
    interrupted ??= sig;
  });
}
const checkpoint = () => { if (interrupted) throw new Error(`interrupted (${interrupted})`); };

const meminfoKb = () => Object.fromEntries(readFileSync('/proc/meminfo', 'utf8').trim().split('\n').map((l) => { const [k, v] = l.split(/:\s+/); return [k, Number.parseInt(v, 10)]; }));
/** MemAvailable after a sync and a settle (median of 5 readings), and the last /proc/meminfo read. */
async function settledMemory() {
  execFileSync('sync');
  await sleep(1500);
  const xs = [];
  let info;
  for (let i = 0; i < 5; i++) { info = meminfoKb(); xs.push(info.MemAvailable); await sleep(200); }
  return { available: stats(xs).median, info, slabs: slabBytes() };
}
/** Bytes held per slab cache (num_slabs x pages per slab), from /proc/slabinfo (root only; {} without it). */
function slabBytes() {
  try {
    const page = 4096;
    return Object.fromEntries(readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2).filter(Boolean).map((l) => {
      const f = l.split(/\s+/);
      return [f[0], Number(f[14]) * Number(f[5]) * page];
    }));
  } catch {
    return {};
  }
}
// Where a MemAvailable drop goes: the /proc/meminfo lines that grow with kernel and process memory.
const GROWTH_KEYS = ['AnonPages', 'Shmem', 'SUnreclaim', 'SReclaimable', 'Percpu', 'PageTables', 'KernelStack'];
const memoryUsed = (before, after) => ({
  availDropKb: before.available - after.available,
  grew: Object.fromEntries(GROWTH_KEYS.map((k) => [k, (after.info[k] ?? NaN) - (before.info[k] ?? NaN)])),
  // The five slab caches that grew most (kB).
  slabs: Object.entries(after.slabs).map(([k, v]) => [k, (v - (before.slabs[k] ?? 0)) / 1024]).sort((a, b) => b[1] - a[1]).slice(0, 5),
});

/** Memory charged to a cgroup parent of ours and everything below it, in kB. */
function cgroupChargeKb(name) {
  for (const f of [`/sys/fs/cgroup/memory/${name}/memory.usage_in_bytes`, `/sys/fs/cgroup/${name}/memory.current`]) {
    if (existsSync(f)) return Number(readFileSync(f, 'utf8')) / 1024;
  }
  return NaN;
}

/** The memory cgroup a process sits in (v1 memory line, or the cgroup2 path). */
function memoryCgroupOf(pid) {
  try {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    return (lines.find((l) => /^\d+:memory:/.test(l)) ?? lines.find((l) => l.startsWith('0::')) ?? '').split(':').slice(2).join(':') || '?';
  } catch {
    return '?';
  }
}

/** RSS and PSS of a process in kB (NaN when it is gone). */
function procMemKb(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return { rss: Number(/^Rss:\s+(\d+)/m.exec(t)[1]), pss: Number(/^Pss:\s+(\d+)/m.exec(t)[1]) };
  } catch {
    return { rss: NaN, pss: NaN };
  }
}
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** Runs a bash snippet and times it inside bash ($EPOCHREALTIME), so no unshare/nsenter start is counted. */
function bashTimed(wrap, script) {
  const [bin, ...args] = wrap(`t0=$EPOCHREALTIME; ${script}; t1=$EPOCHREALTIME; echo "TIME $t0 $t1"`);
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  const m = /TIME (\S+) (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`${script.slice(0, 200)}: no timing (exit ${r.status}): ${r.stderr.slice(-1000)}`);
  return { ms: (Number(m[2]) - Number(m[1])) * 1000, stdout: r.stdout.replace(/TIME .*\n?/, ''), failures: (r.stderr.match(/^FAIL/gm) ?? []).length, stderr: r.stderr };
}

function corral(env, ...args) {
  const t0 = performance.now();
  const r = spawnSync(BIN, args, { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 2) throw new Error(`corral ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
  return ms;
}

function corralRecords() {
  const dir = join(root, 'state');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'meta.json').flatMap((f) => {
    try { return [JSON.parse(readFileSync(join(dir, f), 'utf8'))]; } catch { return []; }
  });
}

async function runCorral() {
  const dir = join(base, 'manifests');
  mkdirSync(dir);
  for (let i = 0; i < N; i++) {
    writeFileSync(join(dir, `c${i}.yaml`), `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: c${i}\n  labels: {bench: density}\nspec:\n  rootfs: {path: ${rootfs}}\n  command: [/bin/sleep, "1000000"]\n  readOnlyRootfs: true\n  network: {mode: none}\n  resources: {memory: 16Mi, pids: 16}\n  stopSignal: SIGKILL\n  stopTimeout: 1s\n`);
  }
  const env = { ...corralEnv, CORRAL_MANIFESTS: dir };
  const before = await settledMemory();
  checkpoint();
  const convergeMs = corral(env, 'reconcile', '--once');
  checkpoint();
  const records = corralRecords();
  const after = await settledMemory();
  const monitorPids = records.map((r) => r.runtime?.monitor?.pid).filter(Boolean);
  const monitors = monitorPids.map(procMemKb);
  const out = {
    convergeMs, running: records.filter((r) => r.status === 'running').length,
    ...memoryUsed(before, after), chargeKb: cgroupChargeKb(parent),
    monitorPssKb: sum(monitors.map((m) => m.pss)), monitorRssKb: sum(monitors.map((m) => m.rss)), monitors: monitors.length,
    monitorCgroup: monitorPids.length ? memoryCgroupOf(monitorPids[0]) : null,
  };
  out.list = [0, 1, 2].map(() => corral(env, 'ps'));
  checkpoint();
  out.pass = (await warmPasses({ root, parent, dir, runs: PASSES })).pass;
  out.lightPass = (await warmPasses({ root, parent, dir, runs: PASSES, inspection: 'light' })).pass;
  checkpoint();
  out.teardownMs = corral({ ...corralEnv, CORRAL_MANIFESTS: none }, 'reconcile', '--once', '--allow-empty');
  out.leftAfterTeardown = corralRecords().length;
  return out;
}

// crun and podman: a private mount namespace that hides the cgroup2 controllers of a hybrid host.
const crunNs = (s) => ['unshare', '-m', '--propagation', 'private', 'bash', '-c', `mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; ${s}`];
const crunRoot = join(base, 'crun');

function runCrunCleanup() {
  if (!existsSync(crunRoot)) return;
  const [b, ...a] = crunNs(`for id in $(crun --root ${crunRoot} list -q); do crun --root ${crunRoot} delete -f $id >/dev/null 2>&1; done`);
  spawnSync(b, a, { stdio: 'ignore' });
}

async function runCrun() {
  const bundles = join(base, 'crun-bundles');
  for (let i = 1; i <= N; i++) {
    mkdirSync(join(bundles, `b${i}`), { recursive: true });
    writeFileSync(join(bundles, `b${i}`, 'config.json'), JSON.stringify(sleepConfig(rootfs, { cgroupsPath: `/${crunParent}/b${i}` })));
  }
  const before = await settledMemory();
  checkpoint();
  const converge = bashTimed(crunNs, `for i in $(seq 1 ${N}); do crun --root ${crunRoot} run -d --bundle ${bundles}/b$i b$i </dev/null >/dev/null 2>&1 || echo FAIL $i >&2; done`);
  checkpoint();
  const after = await settledMemory();
  const out = { convergeMs: converge.ms, failures: converge.failures, ...memoryUsed(before, after), chargeKb: cgroupChargeKb(crunParent), monitorPssKb: 0, monitorRssKb: 0, monitors: 0 };
  const lists = [0, 1, 2].map(() => bashTimed(crunNs, `crun --root ${crunRoot} list >/dev/null`).ms);
  out.list = lists;
  out.running = Number(bashTimed(crunNs, `crun --root ${crunRoot} list -q | wc -l`).stdout.trim());
  checkpoint();
  out.teardownMs = bashTimed(crunNs, `for i in $(seq 1 ${N}); do crun --root ${crunRoot} delete -f b$i >/dev/null 2>&1 || echo FAIL $i >&2; done`).ms;
  runCrunCleanup();
  removeCgroupTree(crunParent);
  return out;
}

// podman: in a private mount namespace of its own (bench/lib/podman.mjs), containers without network.
const pod = { dir: join(base, 'podman'), lib: null };
const podRun = () => [...pod.lib.runArgs, '--network', 'none', '--read-only', '--memory', '16m', '--pids-limit', '16', 'corral-bench-busybox', '/bin/sleep', '1000000'];

async function startPodman() {
  pod.lib = await privatePodman({ dir: pod.dir, cgroupParent: podParent });
  pod.lib.importRootfs(rootfs, 'corral-bench-busybox');
  // A first container outside the measurement: it fails here rather than in the loop, and the
  // one-time set-up of podman's storage is not counted.
  pod.lib.podman('run', '-d', '--name', 'warmup', ...podRun());
  pod.lib.podman('rm', '-f', '-t', '0', 'warmup');
}

function stopPodman() {
  pod.lib?.stop();
  // conmon outlives `podman rm` only on a failure: our cgroup parent has it.
  removeCgroupTree(podParent);
}

async function runPodman() {
  await startPodman();
  const before = await settledMemory();
  checkpoint();
  const converge = bashTimed(pod.lib.inNs, `for i in $(seq 1 ${N}); do ${pod.lib.cmd(`run -d --name p$i ${podRun().join(' ')}`)} >/dev/null 2>&1 || echo FAIL $i >&2; done`);
  checkpoint();
  const after = await settledMemory();
  const ids = pod.lib.podman('ps', '-q').out.split('\n').filter(Boolean);
  const conmonPids = ids.length ? pod.lib.podman('container', 'inspect', '-f', '{{.State.ConmonPid}}', ...ids).out.split('\n').map(Number).filter((p) => p > 0) : [];
  const conmons = conmonPids.map(procMemKb);
  const out = {
    convergeMs: converge.ms, failures: converge.failures, running: ids.length, ...memoryUsed(before, after), chargeKb: cgroupChargeKb(podParent),
    monitorPssKb: sum(conmons.map((m) => m.pss)), monitorRssKb: sum(conmons.map((m) => m.rss)), monitors: conmons.length,
    monitorCgroup: conmonPids.length ? memoryCgroupOf(conmonPids[0]) : null,
  };
  out.list = [0, 1, 2].map(() => bashTimed(pod.lib.inNs, `${pod.lib.cmd('ps -a')} >/dev/null`).ms);
  checkpoint();
  out.teardownMs = bashTimed(pod.lib.inNs, `${pod.lib.cmd('rm -a -f -t 0')} >/dev/null 2>&1 || echo FAIL >&2`).ms;
  return out;
}

const results = {};
let failed = null;
try {
  ensurePackages(['crun', 'podman', 'busybox-static']);
  busyboxRootfs(rootfs);
  mkdirSync(none);
  writeFileSync(empty, '');
  for (const tool of TOOLS) {
    checkpoint();
    process.stderr.write(`bench/density: ${tool}, ${N} containers...\n`);
    if (tool === 'corral') results.corral = await runCorral();
    else if (tool === 'crun') results.crun = await runCrun();
    else if (tool === 'podman') results.podman = await runPodman();
    else throw new Error(`unknown tool ${tool} (corral, crun, podman)`);
  }
} catch (err) {
  failed = err;
} finally {
  spawnSync(process.execPath, [BIN, 'reconcile', '--once', '--allow-empty'], { env: { ...corralEnv, CORRAL_MANIFESTS: none }, stdio: 'ignore' });
  await (await openCgroupManager({ parentName: parent })).removeAll().catch(() => undefined);
  removeCgroupTree(parent);
  runCrunCleanup();
  removeCgroupTree(crunParent);
  stopPodman();
  rmSync(base, { recursive: true, force: true });
}

const tools = Object.keys(results);
if (tools.length) {
  const f = (x, d = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
  const line = (label, cells) => console.log(`  ${label.padEnd(54)}${cells.map((c) => String(c).padStart(12)).join('')}`);
  const per = (r, k) => r[k] / N;
  console.log(`density: ${N} idle containers (busybox sleep, read-only root, no network, 16 MiB / 16 pids limits), one tool at a time from an empty host`);
  line('', tools);
  line('converge from nothing, total (s)', tools.map((t) => f(results[t].convergeMs / 1000, 1)));
  line('  per container (ms)', tools.map((t) => f(per(results[t], 'convergeMs'), 1)));
  line('  running afterwards', tools.map((t) => results[t].running));
  line('host memory per container, monitor included (kB)', tools.map((t) => f(per(results[t], 'availDropKb'))));
  line('  charged to the cgroup parent, per container (kB)', tools.map((t) => f(per(results[t], 'chargeKb'))));
  line('  monitor PSS, per container (kB)', tools.map((t) => (results[t].monitors ? f(per(results[t], 'monitorPssKb')) : 'no monitor')));
  line('  monitor RSS, per container (kB)', tools.map((t) => (results[t].monitors ? f(per(results[t], 'monitorRssKb')) : '-')));
  line('  charge + monitor PSS, per container (kB)', tools.map((t) => f(per(results[t], 'chargeKb') + per(results[t], 'monitorPssKb'))));
  line('  /proc/meminfo growth per container (kB):', []);
  for (const k of GROWTH_KEYS) line(`    ${k}`, tools.map((t) => f(results[t].grew[k] / N)));
  if (results.corral) {
    const p = stats(results.corral.pass);
    const l = stats(results.corral.lightPass);
    line(`agent pass, warm, nothing to do, full: median / p90 (ms)`, tools.map((t) => (t === 'corral' ? `${f(p.median)} / ${f(p.p90)}` : '-')));
    line(`  the same, light (a pass for an event)`, tools.map((t) => (t === 'corral' ? `${f(l.median)} / ${f(l.p90)}` : '-')));
  }
  line('list every container: ps / list / ps -a, median of 3 (ms)', tools.map((t) => f(stats(results[t].list).median)));
  line('teardown, total (s)', tools.map((t) => f(results[t].teardownMs / 1000, 1)));
  line('  per container (ms)', tools.map((t) => f(per(results[t], 'teardownMs'), 1)));
  for (const t of tools) if (results[t].failures) console.log(`  ${t}: ${results[t].failures} starts failed`);
  for (const t of tools) if (results[t].slabs.length) console.log(`  ${t}: slab caches that grew most, kB per container: ${results[t].slabs.map(([k, v]) => `${k} ${f(v / N)}`).join(', ')}`);
  for (const t of tools) if (results[t].monitorCgroup) console.log(`  ${t}: a monitor's memory cgroup: ${results[t].monitorCgroup}`);
  for (const t of tools) if (results[t].availDropKb < 0) console.log(`  ${t}: MemAvailable grew while its containers started: other work on the host moved it more; rerun, or read the charge + PSS line`);
  if (results.corral?.leftAfterTeardown) console.log(`  corral: ${results.corral.leftAfterTeardown} state records left after teardown`);
  console.log('  (memory: MemAvailable drop / N, read settled before and after converge; charge: the tool\'s cgroup parent, hierarchical: a monitor');
  console.log('   inside it (cgroup shown above) is in it with the pages it touched after it moved in; PSS from smaps_rollup)');
  console.log(`  (corral converges with its own parallelism, crun and podman run one by one in a bash loop; podman tears down with one rm -a)`);
  const loadEnd = loadAverage();
  console.log(`host: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cpus, load average at start ${loadStart.join(' ')}, at end ${loadEnd.join(' ')} (the machine is shared: other work moves MemAvailable too)`);
  if (results.corral) {
    const kb = per(results.corral, 'availDropKb');
    const accounted = per(results.corral, 'chargeKb') + per(results.corral, 'monitorPssKb');
    const verdict = kb < 0 ? 'unknown (MemAvailable moved by other work)' : kb <= 300 ? 'met' : 'MISSED';
    console.log(`target (host memory per container, monitor included, <= 300 kB): corral ${f(kb)} kB by MemAvailable: ${verdict}; charge + monitor PSS ${f(accounted)} kB`);
  }
  const rows = [];
  for (const t of tools) {
    const r = results[t];
    rows.push(row(t, 'converge per container', per(r, 'convergeMs'), { unit: 'ms', total: r.convergeMs, running: r.running }));
    rows.push(row(t, 'host memory per container', per(r, 'availDropKb'), { unit: 'kB' }));
    rows.push(row(t, 'cgroup charge per container', per(r, 'chargeKb'), { unit: 'kB' }));
    rows.push(row(t, 'monitor PSS per container', r.monitors ? per(r, 'monitorPssKb') : 0, { unit: 'kB' }));
    rows.push(row(t, 'charge + monitor PSS per container', per(r, 'chargeKb') + per(r, 'monitorPssKb'), { unit: 'kB' }));
    for (const k of GROWTH_KEYS) rows.push(row(t, `meminfo ${k} growth per container`, r.grew[k] / N, { unit: 'kB' }));
    if (t === 'corral') rows.push(row(t, 'agent pass (warm, full)', r.pass, { unit: 'ms' }));
    if (t === 'corral') rows.push(row(t, 'agent pass (warm, light)', r.lightPass, { unit: 'ms' }));
    rows.push(row(t, 'list every container', r.list, { unit: 'ms' }));
    rows.push(row(t, 'teardown per container', per(r, 'teardownMs'), { unit: 'ms', total: r.teardownMs }));
  }
  emitResult({ bench: 'density', unit: 'ms', rows, params: { containers: N, tools, passes: PASSES, loadAtStart: loadStart, loadAtEnd: loadEnd } });
}
if (failed) {
  console.error(`bench/density: ${failed.stack ?? failed}`);
  process.exit(1);
}
process.exit(0);
