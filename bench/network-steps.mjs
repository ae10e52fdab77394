// bench/network-steps: where a bridged container's create spends its time, port method by port
// method, with and without one published port (the figure that found the 15 ms a published port
// cost at plan time, reading /proc/net/tcp).
//   npm run build && node bench/network-steps.mjs [rounds=12]     (root; busybox-static)
// Runs itself again inside a network namespace of its own (`unshare --net`), never on the
// machine's interfaces; in process (dist/ modules), every method of the ports wrapped with a
// timer; one bridged neighbour runs throughout. Prints the median per method for each kind.
// Everything lives under a temp dir and a cgroup parent of its own, removed at the end.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.argv[2] ?? 12);
if (process.getuid() !== 0) throw new Error('bench/network-steps needs root');
if (process.env.CORRAL_BENCH_IN_NETNS !== '1') {
  execFileSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, fileURLToPath(import.meta.url), String(ROUNDS)], {
    stdio: 'inherit', env: { ...process.env, CORRAL_BENCH_IN_NETNS: '1' },
  });
  process.exit(0);
}

const { supportChecks } = await import('../dist/compose.js');
const { directorySource } = await import('../dist/inputs/manifest-source.js');
const { schemaValidator } = await import('../dist/inputs/schema.js');
const { loadManifestSet } = await import('../dist/manifest/manifest-set.js');
const { reconcileOnce } = await import('../dist/reconciler/reconcile.js');
const { layout } = await import('../dist/state/layout.js');
const { StateStore } = await import('../dist/state/store.js');
const { emitResult } = await import('./lib/result.mjs');
const { benchPorts } = await import('./lib/ports.mjs');

const base = mkdtempSync(join(tmpdir(), 'corral-bench-steps-'));
const root = join(base, 'root');
const dir = join(base, 'manifests');
const rootfs = join(base, 'rootfs');
const parent = `corral-bench-steps-${process.pid}`;
mkdirSync(dir, { recursive: true });
for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'www']) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
for (const a of ['httpd', 'sleep']) symlinkSync('/bin/busybox', join(rootfs, 'bin', a));

const store = new StateStore(layout(root));
await store.init();
const { ports } = await benchPorts(root, parent);
const times = {};
for (const [portName, port] of Object.entries(ports)) {
  for (const [method, fn] of Object.entries(port)) {
    if (typeof fn !== 'function') continue;
    port[method] = function timed(...args) {
      const t0 = performance.now();
      const done = () => (times[`${portName}.${method}`] ??= []).push(performance.now() - t0);
      const result = fn.apply(this, args);
      if (result && typeof result.then === 'function') return result.finally(done);
      done();
      return result;
    };
  }
}
const validator = schemaValidator();
const manifest = (name, network, command) => `apiVersion: corral/v1\nkind: Container\nmetadata: {name: ${name}}\nspec:\n  rootfs: {path: ${rootfs}}\n  command: ${command}\n  readOnlyRootfs: true\n  network: ${network}\n  stopSignal: SIGKILL\n  stopTimeout: 1s\n`;
const pass = async () => {
  const t0 = performance.now();
  const set = await loadManifestSet(directorySource(dir), { validator, supports: supportChecks() });
  const outcome = await reconcileOnce(set, ports, store, { dryRun: false, allowEmpty: true, parallelism: 4, stepTimeoutMs: 60_000 });
  if (outcome.failures) throw new Error(JSON.stringify(outcome.diagnostics).slice(0, 2000));
  return performance.now() - t0;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

try {
  writeFileSync(join(dir, 'anchor.yaml'), manifest('anchor', '{mode: bridge}', '[/bin/sleep, "1000000"]'));
  await pass();
  const kinds = [['bridge', '{mode: bridge}'], ['bridge + 1 published port', '{mode: bridge, ports: [{host: 18080, container: 80}]}']];
  const rows = Object.fromEntries(kinds.map(([k]) => [k, []]));
  for (let i = 0; i < ROUNDS; i++) {
    for (const [kind, network] of kinds) {
      for (const key of Object.keys(times)) times[key] = [];
      writeFileSync(join(dir, 'c.yaml'), manifest('c', network, '[/bin/httpd, -f, -p, "80", -h, /www]'));
      const total = await pass();
      rows[kind].push({ 'create (whole pass)': total, ...Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)])) });
      rmSync(join(dir, 'c.yaml'));
      await pass();
    }
  }
  const keys = [...new Set(Object.values(rows).flatMap((r) => Object.keys(r[0])))];
  console.log(`per create, median of ${ROUNDS} rounds (ms; each method's calls in the pass summed)`);
  console.log(`${''.padEnd(28)}${kinds.map(([k]) => k.padStart(28)).join('')}`);
  const resultRows = [];
  for (const key of keys) {
    const values = kinds.map(([k]) => median(rows[k].map((r) => r[key] ?? 0)));
    if (values.every((v) => v < 0.3)) continue;
    console.log(`${key.padEnd(28)}${values.map((v) => v.toFixed(1).padStart(28)).join('')}`);
    kinds.forEach(([k], i) => resultRows.push({ tool: `corral, ${k}`, metric: key, median: values[i], p90: values[i], n: ROUNDS }));
  }
  emitResult({ bench: 'network-steps', unit: 'ms', rows: resultRows, params: { rounds: ROUNDS } });
} finally {
  rmSync(join(dir, 'anchor.yaml'), { force: true });
  rmSync(join(dir, 'c.yaml'), { force: true });
  await pass().catch((err) => console.error(`cleanup pass: ${err.message}`));
  for (const h of readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d, parent)).filter(existsSync)) {
    for (const d of readdirSync(h, { withFileTypes: true }).filter((e) => e.isDirectory())) rmdirSync(join(h, d.name));
    rmdirSync(h);
  }
  rmSync(base, { recursive: true, force: true });
}
process.exit(0);
