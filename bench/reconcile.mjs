// bench/reconcile: how fast corral converges and plans, beside crun doing the same work.
//   npm run build && node bench/reconcile.mjs [converge=100] [plan=1000]     (root)
//
// 1. Converge N containers from nothing with `corral reconcile --once` (wall time of the command,
//    and per container), against crun creating the same N containers in a loop (`crun run -d`),
//    both on one shared busybox rootfs, each container running `sleep`.
// 2. Plan with nothing to do for M manifests whose M containers all run: `corral plan` as a fresh
//    process (cold: Node start, schema compile, every file parsed), and a warm pass as the agent
//    runs it (manifest cache, inspect of every container, plan).
// Everything lives under a temp state root and its own cgroup parent, removed at the end.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCgroupManager } from '../dist/drivers/cgroups/index.js';
import { busyboxRootfs, ensurePackages } from './lib/host.mjs';
import { warmPasses } from './lib/pass.mjs';
import { emitResult, row, stats } from './lib/result.mjs';

const CONVERGE = Number(process.argv[2] ?? 100);
const PLAN = Number(process.argv[3] ?? 1000);
if (process.getuid() !== 0) throw new Error('bench/reconcile needs root');

const BIN = new URL('../bin/corral', import.meta.url).pathname;
const base = mkdtempSync('/tmp/corral-bench-reconcile-');
chmodSync(base, 0o755);
const parent = `corral-bench-${process.pid}`;
function manifests(dir, n, rootfs) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, `c${i}.yaml`), `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: c${i}\n  labels: {bench: reconcile}\nspec:\n  rootfs: {path: ${rootfs}}\n  command: [/bin/sleep, "1000000"]\n  readOnlyRootfs: true\n  env: {N: "${i}"}\n  resources: {memory: 16Mi, pids: 16}\n  stopSignal: SIGKILL\n  stopTimeout: 1s\n`);
  }
}

function corral(env, ...args) {
  const t0 = performance.now();
  const r = spawnSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 2) throw new Error(`corral ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return ms;
}

const root = join(base, 'root');
const none = join(base, 'none');
mkdirSync(none);
const env = { CORRAL_ROOT: root, CORRAL_CGROUP_PARENT: parent, CORRAL_LOG_LEVEL: 'error' };
try {
  ensurePackages(['crun', 'busybox-static']);
  const rootfs = join(base, 'rootfs');
  busyboxRootfs(rootfs);
  const dir = join(base, 'manifests');

  // 1. Converge from nothing.
  manifests(dir, CONVERGE, rootfs);
  const corralMs = corral({ ...env, CORRAL_MANIFESTS: dir }, 'reconcile', '--once');
  const again = corral({ ...env, CORRAL_MANIFESTS: dir }, 'reconcile', '--once', '--detailed-exitcode');
  corral({ ...env, CORRAL_MANIFESTS: none }, 'reconcile', '--once', '--allow-empty');

  const bundle = join(base, 'bundle');
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({
    ociVersion: '1.0.2',
    process: { user: { uid: 0, gid: 0 }, args: ['/bin/sleep', '1000000'], env: ['PATH=/bin'], cwd: '/', noNewPrivileges: true },
    root: { path: rootfs, readonly: true },
    hostname: 'bench',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] }],
    linux: { namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })), resources: { pids: { limit: 16 }, memory: { limit: 16 * 2 ** 20 } } },
  }));
  const empty = join(base, 'empty');
  writeFileSync(empty, '');
  const crunRoot = join(base, 'crun');
  // crun refuses hybrid hosts: hide the cgroup2 controllers file in a private mount namespace.
  const inNs = (script) => spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', `mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; ${script}`], { encoding: 'utf8' });
  const t0 = performance.now();
  const crun = inNs(`for i in $(seq 1 ${CONVERGE}); do crun --root ${crunRoot} run -d --bundle ${bundle} b$i </dev/null >/dev/null 2>&1 || echo FAIL >&2; done`);
  const crunMs = performance.now() - t0;
  inNs(`for i in $(seq 1 ${CONVERGE}); do crun --root ${crunRoot} delete -f b$i >/dev/null 2>&1; done`);
  if (crun.stderr.includes('FAIL')) console.log('  (some crun starts failed)');

  console.log(`converge ${CONVERGE} containers from nothing (ms)        total   per container`);
  console.log(`  corral reconcile --once (parallel ${2 * (await import('node:os')).cpus().length})   ${corralMs.toFixed(0).padStart(8)} ${(corralMs / CONVERGE).toFixed(1).padStart(10)}`);
  console.log(`  crun run -d, in a loop                  ${crunMs.toFixed(0).padStart(8)} ${(crunMs / CONVERGE).toFixed(1).padStart(10)}`);
  console.log(`  corral second run (nothing to do)       ${again.toFixed(0).padStart(8)}`);

  // 2. Plan with nothing to do.
  manifests(dir, PLAN, rootfs);
  const convergeBig = corral({ ...env, CORRAL_MANIFESTS: dir }, 'reconcile', '--once');
  const cold = [];
  for (let i = 0; i < 5; i++) cold.push(corral({ ...env, CORRAL_MANIFESTS: dir }, 'plan', '--detailed-exitcode'));
  const { pass: warm, load, plan } = await warmPasses({ root, parent, dir, runs: 10 });
  const { pass: light } = await warmPasses({ root, parent, dir, runs: 10, inspection: 'light' });
  const parts = { load, pass: plan };
  console.log(`\nplan ${PLAN} manifests, ${PLAN} containers running, nothing to do (ms)   median    p90`);
  console.log(`  corral plan, fresh process (manifest cache filled)     ${stats(cold).median.toFixed(0).padStart(8)} ${stats(cold).p90.toFixed(0).padStart(6)}`);
  console.log(`  agent pass for an event (light inspection)             ${stats(light).median.toFixed(0).padStart(8)} ${stats(light).p90.toFixed(0).padStart(6)}`);
  console.log(`  agent pass, full inspection (start, SIGHUP; resync ≤100) ${stats(warm).median.toFixed(0).padStart(6)} ${stats(warm).p90.toFixed(0).padStart(6)}`);
  console.log(`    of which manifests (cached)                          ${stats(parts.load).median.toFixed(0).padStart(8)}`);
  console.log(`    of which inspect + refresh + plan                    ${stats(parts.pass).median.toFixed(0).padStart(8)}`);
  console.log(`  (converging the ${PLAN} took ${(convergeBig / 1000).toFixed(1)} s, ${(convergeBig / PLAN).toFixed(1)} ms per container)`);
  emitResult({
    bench: 'reconcile', unit: 'ms', params: { converge: CONVERGE, plan: PLAN },
    rows: [
      row('corral', `converge ${CONVERGE}, per container`, corralMs / CONVERGE, { total: corralMs }),
      row('crun', `converge ${CONVERGE}, per container`, crunMs / CONVERGE, { total: crunMs }),
      row('corral', 'second run, nothing to do', again),
      row('corral', `plan ${PLAN}, fresh process`, cold),
      row('corral', `plan ${PLAN}, agent pass (warm, full)`, warm),
      row('corral', `plan ${PLAN}, agent pass (warm, light)`, light),
      row('corral', `converge ${PLAN}, per container`, convergeBig / PLAN, { total: convergeBig }),
    ],
  });
} finally {
  spawnSync(process.execPath, [BIN, 'reconcile', '--once', '--allow-empty'], { env: { ...process.env, ...env, CORRAL_MANIFESTS: none }, stdio: 'ignore' });
  await (await openCgroupManager({ parentName: parent })).removeAll().catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
}
