// bench/logs: log throughput and the monitor's CPU cost, corral's monitor against conmon (podman's
// monitor, driving crun), with the same payload in the same run.
//   npm run bench:logs [-- MB [LINE [ROUNDS]]]      (root; installs conmon and crun with apt-get)
// The payload (bench/logs-flood.c, static, in a busybox root) writes MB MiB of LINE-byte lines in
// 64 KiB writes, then `DONE`, then waits. Both monitors write the same CRI/k8s-file format, without
// rotation. Throughput is the payload's bytes over the span between the first record's timestamp
// and DONE's (the monitors' own clocks: container start is not counted); CPU is the monitor's
// utime+stime from /proc/<pid>/stat, read while it idles after DONE. Each log is read back and
// every line checked, whole and in order. corral runs through its CLI (cgroups, leaves and all);
// crun refuses hybrid cgroup hosts, so conmon and crun run in a private mount namespace where
// unified/cgroup.controllers is covered by an empty file (as in bench/start.mjs). A second table
// frames the same payload in C by four methods (bench/logs-splice.c): does splice, tee or vmsplice
// beat read + copy + write, given that every line needs its own prefix?

import { Buffer } from 'node:buffer';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, createReadStream, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { openCgroupManager } from '../dist/drivers/cgroups/index.js';
import { ensurePackages } from './lib/host.mjs';
import { emitResult, row } from './lib/result.mjs';

const MB = Number(process.argv[2] ?? 200);
const LINE = Number(process.argv[3] ?? 100);
const ROUNDS = Number(process.argv[4] ?? 3);
const BYTES = MB * 2 ** 20;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(REPO, 'bin/corral');
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
if (process.getuid() !== 0) throw new Error('bench/logs needs root');

function makeRootfs(dir) {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of ['sh', 'sleep']) symlinkSync('busybox', join(dir, 'bin', a));
  const cc = spawnSync('sh', ['-c', 'command -v musl-gcc || command -v cc'], { encoding: 'utf8' }).stdout.trim();
  execFileSync(cc, ['-O2', '-static', '-o', join(dir, 'flood'), join(REPO, 'bench/logs-flood.c')], { stdio: 'inherit' });
  chmodSync(join(dir, 'flood'), 0o755);
}

const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
};

/** Exited: no such process, or a zombie (the one reaping conmon's orphans may take its time). */
const gone = (pid) => {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
};

function endsWithDone(path) {
  if (!existsSync(path)) return false;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(64, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString().endsWith(' stdout F DONE\n');
  } finally {
    closeSync(fd);
  }
}

async function until(what, cond, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

/** Reads a CRI log back: every line whole and in order; returns the time span first record → DONE, in s. */
async function check(path) {
  let first = null, last = null, expect = 0, partial = '', records = 0;
  const pad = (n) => String(n).padEnd(LINE - 1, '.');
  for await (const rec of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    records++;
    const a = rec.indexOf(' '), b = rec.indexOf(' ', a + 1);
    const ts = rec.slice(0, a), tag = rec[b + 1], text = rec.slice(b + 3);
    first ??= ts;
    if (tag === 'P') {
      partial += text;
      continue;
    }
    const line = partial + text;
    partial = '';
    if (line === 'DONE') {
      last = ts;
      break;
    }
    if (line !== pad(expect)) throw new Error(`${path}: line ${expect} reads \`${line.slice(0, 40)}\``);
    expect++;
  }
  if (expect !== Math.floor(BYTES / LINE)) throw new Error(`${path}: ${expect} lines, expected ${Math.floor(BYTES / LINE)}`);
  return { spanS: (Date.parse(last.replace(/(\.\d{3})\d*/, '$1')) - Date.parse(first.replace(/(\.\d{3})\d*/, '$1'))) / 1000, records };
}

const base = mkdtempSync('/tmp/corral-bench-logs-');
chmodSync(base, 0o755);
const rootfs = join(base, 'rootfs');
const parent = `corral-bench-logs-${process.pid}`;
const conmonParent = `${parent}-conmon`;
const corralEnv = { PATH: process.env.PATH, CORRAL_ROOT: join(base, 'corral'), CORRAL_MANIFESTS: join(base, 'manifests'), CORRAL_CGROUP_PARENT: parent, CORRAL_LOG_LEVEL: 'error' };
const corral = (...args) => spawnSync(process.execPath, [BIN, ...args], { env: corralEnv, encoding: 'utf8' });
const empty = join(base, 'empty');
const crunNs = (script) => ['unshare', '-m', '--propagation', 'private', 'bash', '-c', `mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers && ${script}`];
const inCrunNs = (script) => { const [b, ...a] = crunNs(script); return spawnSync(b, a, { encoding: 'utf8' }); };

async function runCorral() {
  mkdirSync(corralEnv.CORRAL_MANIFESTS, { recursive: true });
  writeFileSync(join(corralEnv.CORRAL_MANIFESTS, 'flood.yaml'), `apiVersion: corral/v1
kind: Container
metadata: {name: flood}
spec:
  rootfs: {path: ${rootfs}}
  command: [/flood, "${BYTES}", "${LINE}"]
  logging: {maxSize: 4Gi, maxFiles: 1}
  restartPolicy: Never
`);
  const r = corral('reconcile', '--once');
  if (r.status !== 0) throw new Error(`corral reconcile: ${r.stdout}${r.stderr}`);
  const monitor = JSON.parse(corral('inspect', 'flood').stdout).runtime.monitor.pid;
  const log = join(corralEnv.CORRAL_ROOT, 'containers/flood/logs/container.log');
  await until('corral: DONE in the log', () => endsWithDone(log));
  const cpu = cpuSeconds(monitor);
  const { spanS, records } = await check(log);
  corral('reconcile', '--once', '--allow-empty', '--dir', join(base, 'nothing'));
  return { cpu, spanS, records };
}

async function runConmon(round) {
  const dir = join(base, `conmon-${round}`);
  const bundle = join(dir, 'bundle');
  for (const d of ['exits', 'sock', 'crun', 'bundle']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/flood', String(BYTES), String(LINE)], env: ['PATH=/bin'], cwd: '/', noNewPrivileges: true },
    root: { path: rootfs, readonly: true },
    hostname: 'bench',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] }],
    linux: { namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })), resources: { pids: { limit: 2048 } }, cgroupsPath: `/${conmonParent}/r${round}` },
  }));
  const id = `flood-${round}`;
  const log = join(dir, 'ctr.log');
  const made = inCrunNs(`conmon --api-version 1 -c ${id} -u ${id} -n ${id} -r /usr/bin/crun -b ${bundle} -p ${dir}/pid -P ${dir}/conmon.pid -l k8s-file:${log} --exit-dir ${dir}/exits --socket-dir-path ${dir}/sock --runtime-arg --root=${dir}/crun --log-level error`);
  if (made.status !== 0) throw new Error(`conmon: ${made.stderr}`);
  let monitor = 0;
  try {
    // conmon returns once it forked: the container is created when crun's pid file appears.
    await until('conmon: the container created', () => existsSync(join(dir, 'pid')) && existsSync(join(dir, 'conmon.pid')), 30_000);
    monitor = Number(readFileSync(join(dir, 'conmon.pid'), 'utf8'));
    const started = inCrunNs(`crun --root=${dir}/crun start ${id}`);
    if (started.status !== 0) throw new Error(`crun start: ${started.stderr}`);
    await until('conmon: DONE in the log', () => endsWithDone(log));
    const cpu = cpuSeconds(monitor);
    const { spanS, records } = await check(log);
    return { cpu, spanS, records };
  } finally {
    inCrunNs(`crun --root=${dir}/crun kill ${id} KILL; sleep 0.2; crun --root=${dir}/crun delete -f ${id}`);
    if (monitor > 0) {
      await until('conmon exits', () => gone(monitor), 10_000).catch(() => {
        // By pid, read from its own pid file: never by name.
        try { process.kill(monitor, 'SIGKILL'); } catch { /* gone */ }
      });
    }
    rmSync(log, { force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** CPU s per 100 MiB of the framing process, per method and line length (median of ROUNDS). */
function framing() {
  const bin = join(base, 'logs-splice');
  execFileSync('cc', ['-O2', '-D_GNU_SOURCE', '-o', bin, join(REPO, 'bench/logs-splice.c')], { stdio: 'inherit' });
  const out = join(base, 'framed.log');
  const rows = [];
  for (const method of ['copy', 'iovec', 'tee', 'vmsplice']) {
    const row = { method };
    for (const line of [LINE, 2]) {
      // Two-byte lines (`yes`) are the worst case; a smaller payload keeps `tee` bearable.
      const bytes = line === 2 ? Math.min(BYTES, 16 * 2 ** 20) : BYTES;
      row[line] = median(Array.from({ length: ROUNDS }, () => Number(execFileSync(bin, [method, String(bytes), String(line), out], { encoding: 'utf8' }).trim())));
    }
    rows.push(row);
  }
  rmSync(out, { force: true });
  return rows;
}

try {
  ensurePackages(['conmon', 'crun', 'busybox-static']);
  makeRootfs(rootfs);
  writeFileSync(empty, '');
  const results = { corral: [], conmon: [] };
  for (let round = 0; round < ROUNDS; round++) {
    results.corral.push(await runCorral());
    results.conmon.push(await runConmon(round));
  }
  console.log(`bench/logs: ${MB} MiB of ${LINE}-byte lines, ${ROUNDS} rounds, medians (kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()})`);
  console.log(`  monitor              MB/s    CPU s per 100 MB   records in the log`);
  const resultRows = [];
  for (const [name, rs] of Object.entries(results)) {
    const mbps = median(rs.map((r) => MB / r.spanS));
    const cpuPer100 = median(rs.map((r) => (r.cpu / MB) * 100));
    resultRows.push(row(name, 'throughput', rs.map((r) => MB / r.spanS), { unit: 'MB/s' }), row(name, 'monitor CPU per 100 MB', rs.map((r) => (r.cpu / MB) * 100), { unit: 's' }));
    console.log(`  ${name.padEnd(16)} ${mbps.toFixed(0).padStart(8)} ${cpuPer100.toFixed(3).padStart(18)} ${String(median(rs.map((r) => r.records))).padStart(20)}`);
  }
  console.log(`  (MB = MiB of payload; every line read back whole and in order; CPU from /proc/<pid>/stat of the monitor)`);
  console.log(`\nframing alone, in C (bench/logs-splice.c): CPU s per 100 MB     ${String(LINE).padStart(4)}-byte lines   2-byte lines`);
  for (const r of framing()) {
    console.log(`  ${r.method.padEnd(60)} ${r[LINE].toFixed(3).padStart(10)} ${r[2].toFixed(3).padStart(14)}`);
    resultRows.push(row(`framing: ${r.method}`, `CPU per 100 MB, ${LINE}-byte lines`, r[LINE], { unit: 's' }), row(`framing: ${r.method}`, 'CPU per 100 MB, 2-byte lines', r[2], { unit: 's' }));
  }
  emitResult({ bench: 'logs', unit: 's', rows: resultRows, params: { mib: MB, line: LINE, rounds: ROUNDS } });
} finally {
  corral('reconcile', '--once', '--allow-empty', '--dir', join(base, 'nothing'));
  await (await openCgroupManager({ parentName: parent })).removeAll().catch(() => undefined);
  // crun removes a container's cgroups on delete; its parents are ours to remove.
  for (const h of ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'devices', 'freezer', 'systemd', 'unified']) {
    const dir = join('/sys/fs/cgroup', h, conmonParent);
    for (let round = 0; round < ROUNDS; round++) {
      try { rmdirSync(join(dir, `r${round}`)); } catch { /* gone, or never made */ }
    }
    try { rmdirSync(dir); } catch { /* gone, or never made */ }
  }
  rmSync(base, { recursive: true, force: true });
}
