// bench/reconcile: how fast corral converges and plans, beside crun doing the same work.
//   npm run build && node bench/reconcile.mjs [converge=100] [plan=1000] [rounds=4]     (root)
//
// 1. Converge N containers from nothing with `corral reconcile --once` (wall time of the command,
//    and per container), against crun creating the same N containers in a loop (`crun run -d`),
//    both on one shared busybox rootfs, each container running `sleep`. With a user namespace
//    (corral's default; crun gets the same mapping) and without (`enabled: false`), in ROUNDS
//    interleaved rounds (corral, crun, corral, crun), medians shown: a single converge varied
//    from 10.7 to 15.5 ms per container between runs of the same code. The very first, in a new
//    state root, also pays what a root does once (the idmap probe, the id pool, the cgroup
//    parents): it is shown apart.
// 2. Plan with nothing to do for M manifests whose M containers all run: `corral plan` as a fresh
//    process (cold: Node start, schema compile, every file parsed), and a warm pass as the agent
//    runs it (manifest cache, inspect of every container, plan).
// Everything lives under a temp state root and its own cgroup parent, removed at the end.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCgroupManager } from '../dist/drivers/cgroups/index.js';
import { sleepConfig, USERNS_BASE } from './lib/crun.mjs';
import { busyboxRootfs, ensurePackages } from './lib/host.mjs';
import { warmPasses } from './lib/pass.mjs';
import { emitResult, row, stats } from './lib/result.mjs';

const CONVERGE = Number(process.argv[2] ?? 100);
const PLAN = Number(process.argv[3] ?? 1000);
const ROUNDS = Number(process.argv[4] ?? 4);
if (process.getuid() !== 0) throw new Error('bench/reconcile needs root');

const BIN = new URL('../bin/corral', import.meta.url).pathname;
const base = mkdtempSync('/tmp/corral-bench-reconcile-');
chmodSync(base, 0o755);
const parent = `corral-bench-${process.pid}`;
/** `userns: false` turns off the user namespace corral gives a container by default. */
function manifests(dir, n, rootfs, { userns = true } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ns = userns ? '' : '  namespaces: {user: {enabled: false}}\n';
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, `c${i}.yaml`), `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: c${i}\n  labels: {bench: reconcile}\nspec:\n  rootfs: {path: ${rootfs}}\n  command: [/bin/sleep, "1000000"]\n  readOnlyRootfs: true\n  env: {N: "${i}"}\n  resources: {memory: 16Mi, pids: 16}\n${ns}  stopSignal: SIGKILL\n  stopTimeout: 1s\n`);
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

  // 1. Converge from nothing: corral with its default user namespace (`auto`, from its pool) and
  // without one, crun with one (a copy of the rootfs chowned to the mapped root, since crun 1.8
  // cannot idmap a rootfs) and without. Each run follows the previous one's teardown: on this
  // host's ext4 (no journal) a new inode skips every inode deleted within the last minute, which
  // charges each run a little for the run before it.
  const converge = (userns) => {
    manifests(dir, CONVERGE, rootfs, { userns });
    const ms = corral({ ...env, CORRAL_MANIFESTS: dir }, 'reconcile', '--once');
    const again = corral({ ...env, CORRAL_MANIFESTS: dir }, 'reconcile', '--once', '--detailed-exitcode');
    corral({ ...env, CORRAL_MANIFESTS: none }, 'reconcile', '--once', '--allow-empty');
    return { ms, again };
  };

  const bundle = (name, root, userns) => {
    const b = join(base, name);
    mkdirSync(b);
    writeFileSync(join(b, 'config.json'), JSON.stringify(sleepConfig(root, { userns })));
    return b;
  };
  const usernsRootfs = join(base, 'rootfs-userns');
  spawnSync('cp', ['-a', rootfs, usernsRootfs]);
  spawnSync('chown', ['-hR', `${USERNS_BASE}:${USERNS_BASE}`, usernsRootfs]);
  const empty = join(base, 'empty');
  writeFileSync(empty, '');
  const crunRoot = join(base, 'crun');
  // crun refuses hybrid hosts: hide the cgroup2 controllers file in a private mount namespace.
  const inNs = (script) => spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', `mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; ${script}`], { encoding: 'utf8' });
  const crunLoop = (b) => {
    const t0 = performance.now();
    const r = inNs(`for i in $(seq 1 ${CONVERGE}); do crun --root ${crunRoot} run -d --bundle ${b} b$i </dev/null >/dev/null 2>&1 || echo FAIL >&2; done`);
    const ms = performance.now() - t0;
    inNs(`for i in $(seq 1 ${CONVERGE}); do crun --root ${crunRoot} delete -f b$i >/dev/null 2>&1; done`);
    if (r.stderr.includes('FAIL')) console.log('  (some crun starts failed)');
    return ms;
  };
  const bundles = { userns: bundle('bundle-userns', usernsRootfs, true), plain: bundle('bundle', rootfs, false) };
  const runs = { corralUserns: [], crunUserns: [], corralPlain: [], crunPlain: [], again: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const withUserns = converge(true);
    runs.corralUserns.push(withUserns.ms);
    runs.again.push(withUserns.again);
    runs.crunUserns.push(crunLoop(bundles.userns));
    runs.corralPlain.push(converge(false).ms);
    runs.crunPlain.push(crunLoop(bundles.plain));
  }
  // The first converge of the new root is shown apart; corral's median with a user namespace is
  // of the rounds after it (the first alone when there is one round).
  const first = runs.corralUserns[0];
  const median = (xs) => stats(xs).median;
  const corralMs = median(runs.corralUserns.length > 1 ? runs.corralUserns.slice(1) : runs.corralUserns);
  const crunUsernsMs = median(runs.crunUserns);
  const corralPlainMs = median(runs.corralPlain);
  const crunMs = median(runs.crunPlain);
  const again = median(runs.again);

  const parallel = 2 * (await import('node:os')).cpus().length;
  const line = (label, ms) => console.log(`  ${label.padEnd(44)} ${ms.toFixed(0).padStart(8)} ${(ms / CONVERGE).toFixed(1).padStart(10)}`);
  console.log(`converge ${CONVERGE} containers from nothing (ms, median of ${ROUNDS} rounds)  total   per container`);
  console.log('  with a user namespace (corral\'s default):');
  line(`corral reconcile --once (parallel ${parallel})`, corralMs);
  line('crun run -d, in a loop', crunUsernsMs);
  console.log('  without one:');
  line(`corral reconcile --once (parallel ${parallel})`, corralPlainMs);
  line('crun run -d, in a loop', crunMs);
  console.log(`  corral second run (nothing to do)            ${again.toFixed(0).padStart(8)}`);
  line('corral, first converge in a new state root', first);

  // 2. Plan with nothing to do.
  manifests(dir, PLAN, rootfs);
  const convergeBig = corral({ ...env, CORRAL_MANIFESTS: dir }, 'reconcile', '--once');
  const cold = [];
  for (let i = 0; i < 5; i++) cold.push(corral({ ...env, CORRAL_MANIFESTS: dir }, 'plan', '--detailed-exitcode'));
  const { pass: warm, load, plan } = await warmPasses({ root, parent, dir, runs: 10 });
  const { pass: light } = await warmPasses({ root, parent, dir, runs: 10, inspection: 'light' });
  const { pass: resync } = await warmPasses({ root, parent, dir, runs: 10, inspection: 'resync' });
  const parts = { load, pass: plan };
  console.log(`\nplan ${PLAN} manifests, ${PLAN} containers running, nothing to do (ms)   median    p90`);
  console.log(`  corral plan, fresh process (manifest cache filled)     ${stats(cold).median.toFixed(0).padStart(8)} ${stats(cold).p90.toFixed(0).padStart(6)}`);
  console.log(`  agent pass for an event (light inspection)             ${stats(light).median.toFixed(0).padStart(8)} ${stats(light).p90.toFixed(0).padStart(6)}`);
  console.log(`  agent resync (one batch of 100 read in full)           ${stats(resync).median.toFixed(0).padStart(8)} ${stats(resync).p90.toFixed(0).padStart(6)}`);
  console.log(`  agent pass, full inspection (start, SIGHUP; resync ≤100) ${stats(warm).median.toFixed(0).padStart(6)} ${stats(warm).p90.toFixed(0).padStart(6)}`);
  console.log(`    of which manifests (cached)                          ${stats(parts.load).median.toFixed(0).padStart(8)}`);
  console.log(`    of which inspect + refresh + plan                    ${stats(parts.pass).median.toFixed(0).padStart(8)}`);
  console.log(`  (converging the ${PLAN} took ${(convergeBig / 1000).toFixed(1)} s, ${(convergeBig / PLAN).toFixed(1)} ms per container)`);
  emitResult({
    bench: 'reconcile', unit: 'ms', params: { converge: CONVERGE, plan: PLAN, rounds: ROUNDS },
    rows: [
      row('corral', `converge ${CONVERGE}, per container`, corralMs / CONVERGE, { total: corralMs }),
      row('crun + userns', `converge ${CONVERGE}, per container`, crunUsernsMs / CONVERGE, { total: crunUsernsMs }),
      row('corral, no userns', `converge ${CONVERGE}, per container`, corralPlainMs / CONVERGE, { total: corralPlainMs }),
      row('crun', `converge ${CONVERGE}, per container`, crunMs / CONVERGE, { total: crunMs }),
      row('corral', 'second run, nothing to do', again),
      row('corral', `converge ${CONVERGE}, first in a new state root, per container`, first / CONVERGE, { total: first }),
      row('corral', `plan ${PLAN}, fresh process`, cold),
      row('corral', `plan ${PLAN}, agent pass (warm, full)`, warm),
      row('corral', `plan ${PLAN}, agent pass (warm, light)`, light),
      row('corral', `plan ${PLAN}, agent resync (warm, one batch)`, resync),
      row('corral', `converge ${PLAN}, per container`, convergeBig / PLAN, { total: convergeBig }),
    ],
  });
} finally {
  spawnSync(process.execPath, [BIN, 'reconcile', '--once', '--allow-empty'], { env: { ...process.env, ...env, CORRAL_MANIFESTS: none }, stdio: 'ignore' });
  await (await openCgroupManager({ parentName: parent })).removeAll().catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
}
