// bench/cli: how long a command takes to answer, as a fresh process, beside `node -e 0` in the
// same run (the floor any Node CLI pays).
//   npm run build && node bench/cli.mjs [runs=20] [manifests=1000]     (root, for ps and plan)
//
// Rows: `corral --version`, `corral --help`, `corral ps` (with the three bundled containers running),
// `corral validate` of the bundled manifests (their results cached by the reconcile before, and
// again with a state root that holds none), `corral plan` of 1,000 manifests whose containers
// are not running, on a busybox root (the first run fills the manifest cache, the timed ones use it, as a
// config-management run after the first would) and `corral validate` of those 1,000 (cached
// by that plan), each through bin/corral as a user runs it (the
// startup snapshot) and through `node bin/corral` (modules one by one); and the floor of the
// first: Node started from the CLI's snapshot to print its version. Targets (issue 17):
// --version and ps ≤ 1.5× node -e 0, validate ≤ 2×, plan of 1,000 unchanged < 500 ms.
// Everything lives under a temp state root and its own cgroup parent, removed at the end.

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCgroupManager } from '../dist/drivers/cgroups/index.js';
import { emitResult, row, stats } from './lib/result.mjs';

const RUNS = Number(process.argv[2] ?? 20);
const MANIFESTS = Number(process.argv[3] ?? 1000);
if (process.getuid() !== 0) throw new Error('bench/cli needs root (ps and plan open a state root)');

const REPO = new URL('..', import.meta.url).pathname;
const BIN = join(REPO, 'bin/corral');
const base = mkdtempSync('/tmp/corral-bench-cli-');
const env = { PATH: process.env.PATH, HOME: '/root', CORRAL_ROOT: join(base, 'root'), CORRAL_CGROUP_PARENT: `corral-bench-cli-${process.pid}`, CORRAL_MANIFESTS: join(REPO, 'manifests') };

function time(file, args, extraEnv = {}) {
  const t0 = performance.now();
  const r = spawnSync(file, args, { env: { ...env, ...extraEnv }, stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0 && !(args.includes('plan'))) throw new Error(`${file} ${args.join(' ')} exited ${r.status}`);
  return ms;
}

function sample(file, args, extraEnv) {
  time(file, args, extraEnv);
  return Array.from({ length: RUNS }, () => time(file, args, extraEnv));
}

const rows = [];
const table = [];
function measure(label, file, args, extraEnv) {
  const xs = sample(file, args, extraEnv);
  const s = stats(xs);
  table.push([label, s]);
  rows.push(row(label === 'node -e 0' ? 'node' : 'corral', label, xs));
  return s;
}

try {
  const many = join(base, 'many');
  mkdirSync(many);
  const rootfs = join(base, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  symlinkSync('busybox', join(rootfs, 'bin/sleep'));
  for (let i = 0; i < MANIFESTS; i++) {
    writeFileSync(join(many, `c${i}.yaml`), `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: c${i}\n  labels: {bench: cli}\nspec:\n  rootfs: {path: ${rootfs}}\n  readOnlyRootfs: true\n  command: [/bin/sleep, "1000000"]\n  env: {N: "${i}"}\n  resources: {memory: 16Mi, pids: 16}\n`);
  }
  const floor = measure('node -e 0', process.execPath, ['-e', '0']);
  // What any command started from the CLI's snapshot pays before its own work: Node, and the
  // snapshot's heap deserialized (`--version` answered in Node rather than by bin/corral's shell).
  measure('the CLI snapshot, no work (--version)', process.execPath, ['--snapshot-blob', join(REPO, 'dist/corral.blob'), '--', '--version']);
  spawnSync(BIN, ['reconcile', '--once'], { env, stdio: 'ignore' });
  for (const [how, file, pre] of [['bin/corral', BIN, []], ['node bin/corral', process.execPath, [BIN]]]) {
    measure(`${how} --version`, file, [...pre, '--version']);
    // What every command pays before it does anything: Node and the snapshot (--version is
    // answered by the shell part of bin/corral, without Node).
    measure(`${how} --help`, file, [...pre, '--help']);
    measure(`${how} ps (3 running)`, file, [...pre, 'ps']);
    // Cached: unchanged since the reconcile above, as in a config-management run; not cached: a
    // state root no plan ever filled, as for a file just edited (each file parsed and checked).
    measure(`${how} validate (bundled)`, file, [...pre, 'validate']);
    measure(`${how} validate (bundled, not cached)`, file, [...pre, 'validate'], { CORRAL_ROOT: join(base, 'never-planned') });
    measure(`${how} plan (${MANIFESTS} unchanged)`, file, [...pre, 'plan'], { CORRAL_MANIFESTS: many });
    measure(`${how} validate (${MANIFESTS} unchanged)`, file, [...pre, 'validate'], { CORRAL_MANIFESTS: many });
  }
  console.log(`fresh process, wall time (ms), ${RUNS} runs each                median    p90   × node -e 0`);
  for (const [label, s] of table) console.log(`  ${label.padEnd(50)} ${s.median.toFixed(1).padStart(8)} ${s.p90.toFixed(1).padStart(6)} ${(s.median / floor.median).toFixed(2).padStart(8)}`);
  emitResult({ bench: 'cli', unit: 'ms', params: { runs: RUNS, manifests: MANIFESTS }, rows });
} finally {
  mkdirSync(join(base, 'none'), { recursive: true });
  spawnSync(BIN, ['reconcile', '--once', '--allow-empty'], { env: { ...env, CORRAL_MANIFESTS: join(base, 'none') }, stdio: 'ignore' });
  await (await openCgroupManager({ parentName: env.CORRAL_CGROUP_PARENT })).removeAll().catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
}
