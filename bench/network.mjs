// bench/network: what bridge networking costs, beside podman (netavark) in the same run.
//   npm run bench:network      or      npm run build && node bench/network.mjs [runs=30]
//   (root; installs podman, iperf3 and busybox-static with apt-get; needs cc)
// Everything happens inside network namespaces the bench makes, never on the machine's own
// interfaces: a "host" namespace in which corral runs (`nsenter --net=`, which keeps
// /sys/fs/cgroup in view) and another one for podman. All containers run one busybox rootfs
// (podman's is the same tree, `podman import`ed); each side has one bridged neighbour running,
// so the bridge and its rules exist already (the usual case).
// 1. Start-to-running, RUNS rounds: in each, a container of each kind (`network: none`,
//    `bridge`, `bridge` with one published port; for podman `--network none`, `bridge`, `-p`)
//    is created and timed, one at a time: a manifest written and `corral reconcile --once` run
//    as a fresh process, beside `podman run -d`. Then the three are removed: corral's manifests
//    deleted and one pass timed, podman's `rm -f -t 0` one by one. The order of the kinds rotates
//    and corral and podman alternate, so load drifts hit all of them alike. The same creations
//    and removals are then timed in process (dist/ modules: reconcileOnce, no Node start), one
//    container at a time, with a row for a bridged container that is the first on the bridge
//    (its pass makes the bridge and the nftables table, its removal deletes them).
// 2. TCP throughput with iperf3, one stream, 3 s each: container to container over the bridge,
//    the host to a published port on 127.0.0.1 (DNAT) and to the container's address, and the
//    host's loopback as the ceiling. iperf3 is the host's, run in the container's network
//    namespace (`nsenter --net=<root>/network/ns/<name>`, /proc/<pid>/ns/net for podman).
// 3. TCP connections per second over the same paths, 3 s each, 4 at a time: connect, read one
//    byte, the server closes. Client and server are a small C program (below) compiled at start,
//    the server run in the container's network namespace like iperf3 (busybox httpd would fork
//    per connection and hide the network's cost). Each path has a server port of its own: a
//    SYN that lands on a TIME_WAIT left by another path, with another timestamp offset, is
//    dropped and retried after 1 s.
// podman runs in a private mount namespace (tmpfs over /run, /dev/shm and /var/lib, its storage,
// run and network-config dirs under the temp dir) so that none of the machine's podman state is
// touched; crun refuses hybrid cgroup hosts, so unified/cgroup.controllers is covered there by an
// empty file (as in bench/start.mjs); podman's default rlimits (nofile 1048576, nproc 4194304)
// are lowered to what root without CAP_SYS_RESOURCE may set.
// Everything lives under a temp dir, with cgroup parents of its own, removed at the end.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { openCgroupManager } from '../dist/drivers/cgroups/index.js';
import { supportChecks } from '../dist/compose.js';
import { directorySource } from '../dist/inputs/manifest-source.js';
import { schemaValidator } from '../dist/inputs/schema.js';
import { loadManifestSet } from '../dist/manifest/manifest-set.js';
import { reconcileOnce } from '../dist/reconciler/reconcile.js';
import { layout } from '../dist/state/layout.js';
import { StateStore } from '../dist/state/store.js';
import { ensurePackages, removeCgroupTree } from './lib/host.mjs';
import { privatePodman } from './lib/podman.mjs';
import { benchPorts } from './lib/ports.mjs';
import { emitResult, row, stats } from './lib/result.mjs';

const SELF = fileURLToPath(import.meta.url);
const BIN = fileURLToPath(new URL('../bin/corral', import.meta.url));
const SECONDS = 3;
const KINDS = [
  { key: 'none', corral: '{mode: none}', podman: ['--network', 'none'], label: 'network none' },
  { key: 'bridge', corral: '{mode: bridge}', podman: ['--network', 'bridge'], label: 'bridge' },
  { key: 'port', corral: '{mode: bridge, ports: [{host: 18080, container: 80}]}', podman: ['--network', 'bridge', '-p', '127.0.0.1:18080:80'], label: 'bridge + 1 published port' },
];
const HTTPD = '[/bin/httpd, -f, -p, "80", -h, /www]';
const SLEEP = '[/bin/sleep, "1000000"]';


function manifest(name, rootfs, network, command) {
  return `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: ${name}\n  labels: {bench: network}\nspec:\n  rootfs: {path: ${rootfs}}\n  command: ${command}\n  readOnlyRootfs: true\n  network: ${network}\n  stopSignal: SIGKILL\n  stopTimeout: 1s\n`;
}

// The in-process half of section 1, run as a child inside the host namespace (the bridge driver's
// `ip` and `nft` act in the namespace of the process): prints its timings as JSON.
if (process.argv[2] === '--in-process') {
  const { root, dir, rootfs, parent, runs } = JSON.parse(process.argv[3]);
  const store = new StateStore(layout(root));
  await store.init();
  const { ports } = await benchPorts(root, parent);
  const validator = schemaValidator();
  const pass = async () => {
    const t0 = performance.now();
    const set = await loadManifestSet(directorySource(dir), { validator, supports: supportChecks() });
    const outcome = await reconcileOnce(set, ports, store, { dryRun: false, allowEmpty: true, parallelism: 4, stepTimeoutMs: 60_000 });
    const ms = performance.now() - t0;
    if (outcome.failures || outcome.inputErrors || !outcome.changed) throw new Error(`in-process pass failed: ${JSON.stringify(outcome.diagnostics).slice(0, 2000)}`);
    return ms;
  };
  const out = Object.fromEntries([...KINDS.map((k) => k.key), 'first'].map((k) => [k, { create: [], remove: [] }]));
  const cycle = async (key, network) => {
    writeFileSync(join(dir, 'c.yaml'), manifest('c', rootfs, network, HTTPD));
    out[key].create.push(await pass());
    rmSync(join(dir, 'c.yaml'));
    out[key].remove.push(await pass());
  };
  for (let i = 0; i < runs; i++) for (const k of KINDS) await cycle(k.key, k.corral);
  // Without the neighbour: each bridged container is the first, and the last.
  rmSync(join(dir, 'anchor.yaml'));
  await pass();
  for (let i = 0; i < runs; i++) await cycle('first', '{mode: bridge}');
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

const RUNS = Number(process.argv[2] ?? 30);
if (process.getuid() !== 0) throw new Error('bench/network needs root');

function busybox(dir) {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var', 'run', 'home', 'www']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n')) if (a && a !== 'busybox') symlinkSync('/bin/busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'www/index.html'), 'hello from the bench\n');
}

function newNetns(file) {
  writeFileSync(file, '');
  execFileSync('unshare', [`--net=${file}`, 'true']);
  execFileSync('nsenter', [`--net=${file}`, 'ip', 'link', 'set', 'lo', 'up']);
}

function unmountUnder(dir) {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
  for (const p of points.reverse()) spawnSync('umount', ['-l', p]);
}

const base = mkdtempSync('/tmp/corral-bench-network-');
chmodSync(base, 0o755);
const parent = `corral-bench-${process.pid}`;
const podmanParent = `corral-bench-${process.pid}-podman`;
const hostNs = join(base, 'host');
const podNs = join(base, 'podman-host');
const root = join(base, 'root');
const dir = join(base, 'manifests');
const nothing = join(base, 'nothing');
const rootfs = join(base, 'rootfs');
const env = { ...process.env, CORRAL_CGROUP_PARENT: parent, CORRAL_LOG_LEVEL: 'error' };
const children = [];

function corral(...args) {
  const t0 = performance.now();
  const r = spawnSync('nsenter', [`--net=${hostNs}`, process.execPath, BIN, '--root', root, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`corral ${args.join(' ')} exited ${r.status}: ${(r.stderr + r.stdout).slice(-2000)}`);
  return ms;
}

/** A long-running process in a network namespace; killed by pid at the end. */
function serve(netns, command) {
  const child = spawn('nsenter', [`--net=${netns}`, ...command], { stdio: 'ignore' });
  children.push(child);
  return child;
}

function iperf(netns, host, port) {
  const r = spawnSync('nsenter', [`--net=${netns}`, 'iperf3', '-c', host, '-p', String(port), '-t', String(SECONDS), '-J'], { encoding: 'utf8', timeout: (SECONDS + 20) * 1000 });
  let j;
  try { j = JSON.parse(r.stdout); } catch { throw new Error(`iperf3 to ${host}:${port} printed no JSON: ${r.stderr.slice(0, 500)}`); }
  if (j.error) throw new Error(`iperf3 to ${host}:${port}: ${j.error}`);
  return j.end.sum_received.bits_per_second / 1e9;
}

// Connections per second: a small C program (compiled at start), `serve PORT` accepts, writes one
// byte and closes (so TIME_WAIT stays on the server's side and the client never runs out of
// ports); `connect HOST PORT SECONDS PARALLEL MAX` runs PARALLEL processes that connect, read to
// the end and close, until SECONDS pass or MAX connections are made (conntrack keeps each one
// 120 s), and prints `connections errors milliseconds`.
const CONN_C = String.raw`
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "serve")) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4096)) { perror("listen"); return 1; }
    for (;;) { int c = accept(s, 0, 0); if (c < 0) continue; (void)!write(c, ".", 1); close(c); }
  }
  if (argc != 7 || strcmp(argv[1], "connect")) { fprintf(stderr, "usage: serve PORT | connect HOST PORT SECONDS PARALLEL MAX\n"); return 2; }
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
  inet_pton(AF_INET, argv[2], &a.sin_addr);
  int par = atoi(argv[5]); long max = atol(argv[6]) / par; double t0 = now(), end = t0 + atof(argv[4]) * 1e3;
  int fds[2]; if (pipe(fds)) return 1;
  for (int p = 0; p < par; p++) if (fork() == 0) {
    long n = 0, err = 0; char buf[64];
    while (n < max && now() < end) {
      int c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, (struct sockaddr *)&a, sizeof a) == 0) { while (read(c, buf, sizeof buf) > 0) {} n++; } else err++;
      close(c);
    }
    long r[2] = { n, err }; (void)!write(fds[1], r, sizeof r); _exit(0);
  }
  long total = 0, errors = 0, r[2];
  for (int p = 0; p < par; p++) { if (read(fds[0], r, sizeof r) == sizeof r) { total += r[0]; errors += r[1]; } wait(0); }
  printf("%ld %ld %.1f\n", total, errors, now() - t0);
  return 0;
}
`;
let CONN = null;

function connRate(netns, host, port) {
  const r = spawnSync('nsenter', [`--net=${netns}`, CONN, 'connect', host, String(port), String(SECONDS), '4', '60000'], { encoding: 'utf8', timeout: (SECONDS + 20) * 1000 });
  const [n, errors, ms] = r.stdout.trim().split(' ').map(Number);
  if (!(n > 0)) throw new Error(`connections to ${host}:${port} failed: ${r.stderr.slice(0, 500)}`);
  return { rate: n / (ms / 1000), errors };
}

/** Waits until a TCP socket listens on the port in netns. */
async function listening(netns, port) {
  for (let i = 0; i < 100; i++) {
    if (spawnSync('nsenter', [`--net=${netns}`, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' }).stdout.trim()) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on port ${port} in ${netns}`);
}

// podman: in a private mount namespace inside the podman-host network namespace (bench/lib/podman.mjs).
const pod = { dir: join(base, 'podman'), reason: null, backend: null, lib: null };
const podRun = () => pod.lib.runArgs;
const podman = (...args) => pod.lib.podman(...args);

async function startPodman() {
  pod.lib = await privatePodman({ dir: pod.dir, netns: podNs, cgroupParent: podmanParent });
  pod.lib.importRootfs(rootfs, 'corral-bench-busybox');
  pod.backend = podman('info', '--format', '{{.Host.NetworkBackend}}, {{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}').out.split('\n')[0];
  // The neighbour, and a first start that fails here rather than in the timed loop.
  podman('run', '-d', '--name', 'anchor', '--network', 'bridge', ...podRun(), 'corral-bench-busybox', '/bin/sleep', '1000000');
}

function stopPodman() {
  pod.lib?.stop();
  // conmon outlives `podman rm` only on a failure: our cgroup parent has it.
  removeCgroupTree(podmanParent);
}

const line = (label, cells) => console.log(`  ${label.padEnd(52)}${cells.map((c) => String(c).padStart(10)).join('')}`);
const f1 = (x) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));

try {
  ensurePackages(['podman', 'iperf3', 'busybox-static', 'nftables', 'iproute2']);
  busybox(rootfs);
  CONN = join(base, 'connbench');
  writeFileSync(`${CONN}.c`, CONN_C);
  execFileSync('cc', ['-O2', '-o', CONN, `${CONN}.c`], { stdio: 'inherit' });
  mkdirSync(dir);
  mkdirSync(nothing);
  newNetns(hostNs);
  newNetns(podNs);
  try {
    await startPodman();
  } catch (err) {
    pod.reason = String(err.message ?? err).split('\n')[0];
    console.log(`podman: unavailable in the test namespace (${pod.reason}); its rows are left out`);
  }

  // 1. Start-to-running, fresh process per change, with one bridged neighbour on each side.
  writeFileSync(join(dir, 'anchor.yaml'), manifest('anchor', rootfs, '{mode: bridge}', SLEEP));
  corral('reconcile', '--once', '--dir', dir);
  const cli = Object.fromEntries(KINDS.map((k) => [k.key, { corral: { create: [], remove: [] }, podman: { create: [], remove: [] } }]));
  const removeAll = [];
  for (let i = 0; i < RUNS; i++) {
    // The three kinds side by side (rotated, so none always meets the same neighbours), then
    // removed: by corral in one pass, by podman one by one.
    const order = KINDS.map((_, j) => KINDS[(i + j) % KINDS.length]);
    for (const k of order) {
      writeFileSync(join(dir, `c-${k.key}.yaml`), manifest(`c-${k.key}`, rootfs, k.corral, HTTPD));
      cli[k.key].corral.create.push(corral('reconcile', '--once', '--dir', dir));
      if (pod.reason === null) cli[k.key].podman.create.push(podman('run', '-d', '--name', `c-${k.key}`, ...k.podman, ...podRun(), 'corral-bench-busybox', '/bin/httpd', '-f', '-p', '80', '-h', '/www').ms);
    }
    for (const k of order) rmSync(join(dir, `c-${k.key}.yaml`));
    removeAll.push(corral('reconcile', '--once', '--dir', dir));
    if (pod.reason === null) for (const k of order) cli[k.key].podman.remove.push(podman('rm', '-f', '-t', '0', `c-${k.key}`).ms);
  }
  const child = spawnSync('nsenter', [`--net=${hostNs}`, process.execPath, SELF, '--in-process', JSON.stringify({ root, dir, rootfs, parent, runs: RUNS })], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (child.status !== 0) throw new Error(`in-process passes failed: ${child.stderr.slice(-2000)}`);
  const inproc = JSON.parse(child.stdout);

  console.log(`\n1. start-to-running and removal, ${RUNS} runs each (ms); a bridged neighbour runs on each side`);
  console.log(`  ${''.padEnd(52)}${['create', 'p90', 'remove', 'p90'].map((h) => h.padStart(10)).join('')}`);
  const resultRows = [];
  const row1 = (label, t) => line(label, [f1(stats(t.create).median), f1(stats(t.create).p90), f1(stats(t.remove).median), f1(stats(t.remove).p90)]);
  const keep = (tool, kind, t) => {
    if (t.create.length) resultRows.push(row(tool, `create, ${kind}`, t.create));
    if (t.remove.length) resultRows.push(row(tool, `remove, ${kind}`, t.remove));
  };
  for (const k of KINDS) { row1(`corral reconcile --once, ${k.label}`, { create: cli[k.key].corral.create, remove: [] }); keep('corral CLI', k.label, { create: cli[k.key].corral.create, remove: [] }); }
  row1('corral reconcile --once, removing those three', { create: [], remove: removeAll });
  keep('corral CLI', 'all three', { create: [], remove: removeAll });
  if (pod.reason === null) for (const k of KINDS) { row1(`podman run -d / rm -f -t 0, ${k.label}`, cli[k.key].podman); keep('podman', k.label, cli[k.key].podman); }
  for (const k of KINDS) { row1(`corral in process, ${k.label}`, inproc[k.key]); keep('corral in process', k.label, inproc[k.key]); }
  row1('corral in process, bridge, first on it', inproc.first);
  keep('corral in process', 'bridge, first on it', inproc.first);
  // The difference of the medians, and in brackets the median of the differences within a round
  // (the kinds of one round ran seconds apart, so a load drift cancels out there).
  const added = (t, a, b) => {
    const diffs = t[a].create.map((x, i) => x - t[b].create[i]);
    return `${f1(stats(t[a].create).median - stats(t[b].create).median)} (${f1(stats(diffs).median)})`;
  };
  const addedBy = (what, a, b) => {
    const parts = [`corral CLI ${added(Object.fromEntries(KINDS.map((k) => [k.key, cli[k.key].corral])), a, b)}`, `corral in process ${added(inproc, a, b)}`];
    if (pod.reason === null) parts.push(`podman ${added(Object.fromEntries(KINDS.map((k) => [k.key, cli[k.key].podman])), a, b)}`);
    console.log(`  added by ${what}, ms: ${parts.join(', ')}`);
  };
  console.log('  (difference of create medians, and in brackets the median of the per-round differences)');
  addedBy('the bridge', 'bridge', 'none');
  addedBy('a published port', 'port', 'bridge');
  console.log(`  added by being first on the bridge (bridge and nftables table made), in process: ${f1(stats(inproc.first.create).median - stats(inproc.bridge.create).median)} ms`);

  // 2 and 3: two bridged containers on each side; the servers run in the containers' namespaces.
  writeFileSync(join(dir, 'srv.yaml'), manifest('srv', rootfs, '{mode: bridge, ports: [{host: 15201, container: 5201}, {host: 17000, container: 7000}]}', SLEEP));
  writeFileSync(join(dir, 'cli.yaml'), manifest('cli', rootfs, '{mode: bridge}', SLEEP));
  corral('reconcile', '--once', '--dir', dir);
  const nsOf = (name) => join(root, 'network/ns', name);
  const addrOf = (name) => JSON.parse(readFileSync(join(root, 'network/leases', `${name}.json`), 'utf8')).address;
  const c = { srv: nsOf('srv'), cli: nsOf('cli'), addr: addrOf('srv') };
  let p = null;
  if (pod.reason === null) {
    podman('run', '-d', '--name', 'srv', '--network', 'bridge', '-p', '127.0.0.1:25201:5201', '-p', '127.0.0.1:27000:7000', ...podRun(), 'corral-bench-busybox', '/bin/sleep', '1000000');
    podman('run', '-d', '--name', 'cli', '--network', 'bridge', ...podRun(), 'corral-bench-busybox', '/bin/sleep', '1000000');
    const [srvPid, addr] = podman('inspect', 'srv', '--format', '{{.State.Pid}} {{.NetworkSettings.IPAddress}}').out.split(' ');
    const cliPid = podman('inspect', 'cli', '--format', '{{.State.Pid}}').out;
    p = { srv: `/proc/${srvPid}/ns/net`, cli: `/proc/${cliPid}/ns/net`, addr };
  }
  for (const [ns, label] of [[c.srv, 'corral'], [hostNs, 'loopback'], ...(p ? [[p.srv, 'podman']] : [])]) {
    serve(ns, ['iperf3', '-s', '-p', '5201']);
    for (const port of [5201, 7000, 7001, 7002]) {
      if (port !== 5201) serve(ns, [CONN, 'serve', String(port)]);
      await listening(ns, port).catch((e) => { throw new Error(`${label}: ${e.message}`); });
    }
  }

  const paths = [
    { label: 'corral: container -> container (bridge)', from: c.cli, host: c.addr, iperf: 5201, conn: 7002 },
    { label: 'corral: host -> 127.0.0.1 published port', from: hostNs, host: '127.0.0.1', iperf: 15201, conn: 17000 },
    { label: 'corral: host -> container address', from: hostNs, host: c.addr, iperf: 5201, conn: 7001 },
    ...(p ? [
      { label: 'podman: container -> container (bridge)', from: p.cli, host: p.addr, iperf: 5201, conn: 7002 },
      { label: 'podman: host -> 127.0.0.1 published port', from: podNs, host: '127.0.0.1', iperf: 25201, conn: 27000 },
      { label: 'podman: host -> container address', from: podNs, host: p.addr, iperf: 5201, conn: 7001 },
    ] : []),
    { label: 'host loopback (ceiling)', from: hostNs, host: '127.0.0.1', iperf: 5201, conn: 7000 },
  ];
  const tput = paths.map((x) => iperf(x.from, x.host, x.iperf));
  console.log(`\n2. TCP throughput, iperf3, one stream, ${SECONDS} s each (Gbit/s)`);
  paths.forEach((x, i) => line(x.label, [tput[i].toFixed(2)]));

  const rates = paths.map((x) => connRate(x.from, x.host, x.conn));
  console.log(`\n3. TCP connections per second, ${SECONDS} s each, 4 at a time (connect, read 1 byte, server closes)`);
  paths.forEach((x, i) => line(x.label, [rates[i].rate.toFixed(0), rates[i].errors ? `${rates[i].errors} err` : '']));
  for (const [i, x] of paths.entries()) {
    const [tool, path] = x.label.includes(': ') ? x.label.split(': ') : ['host', x.label];
    resultRows.push(row(tool, `TCP throughput, ${path}`, tput[i], { unit: 'Gbit/s' }), row(tool, `TCP connections, ${path}`, rates[i].rate, { unit: 'per s' }));
  }
  if (pod.backend) console.log(`\npodman: ${pod.backend}`);
  emitResult({ bench: 'network', unit: 'ms', rows: resultRows, params: { runs: RUNS, seconds: SECONDS, podman: pod.backend ?? pod.reason } });
} finally {
  for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
  spawnSync('nsenter', [`--net=${hostNs}`, process.execPath, BIN, '--root', root, 'reconcile', '--once', '--allow-empty', '--dir', nothing], { env, stdio: 'ignore' });
  await (await openCgroupManager({ parentName: parent })).removeAll().catch(() => undefined);
  removeCgroupTree(parent);
  stopPodman();
  unmountUnder(base);
  rmSync(base, { recursive: true, force: true });
}
