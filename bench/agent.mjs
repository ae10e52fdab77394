// bench/agent: the agent as a user feels it.
//   npm run build && node bench/agent.mjs [edits=20] [idleSeconds=60] [steadySeconds=300]      (root)
//
// 1. Edit-to-converged latency, settling included: a manifest edit changing the memory limit
//    (applied live) until the kernel enforces the new limit, and an edit changing the environment
//    (a restart) until the new process runs. p50 and p90.
// 2. Agent resident memory when idle with 0, 100 and 500 containers: at the end of the first
//    window, and the median and largest of samples every 10 s through the second (V8 gives pages
//    back and takes them again as it collects: one sample varied by 5 MiB from minute to minute).
// 3. CPU the agent uses while idle (its own utime + stime over a window that includes resyncs):
//    the first window starts 5 s after the containers run, the second right after it. The first
//    includes what follows a large converge (V8 collecting the garbage of 400 starts); the second
//    is the steady state, and lasts a whole round of ten resyncs (5 min) by default: beyond 50
//    containers each resync reads another tenth of them, the look for orphans with the first, so
//    a minute of two resyncs varied by 0.1 % of a core with which two they were.
// The agent runs as a real `corral agent` process with its own state root and cgroup parent.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { openCgroupManager } from '../dist/drivers/cgroups/index.js';
import { emitResult, row, stats } from './lib/result.mjs';

const EDITS = Number(process.argv[2] ?? 20);
const IDLE_S = Number(process.argv[3] ?? 60);
const STEADY_S = Number(process.argv[4] ?? 300);
if (process.getuid() !== 0) throw new Error('bench/agent needs root');

const BIN = new URL('../bin/corral', import.meta.url).pathname;
// The agent as the service unit runs it, with the unit's Node flags (contrib/corral.service).
const UNIT = readFileSync(new URL('../contrib/corral.service', import.meta.url), 'utf8');
const NODE_FLAGS = (/^ExecStart=(?:\S*\benv )?\S*\bnode((?: --\S+)*) \S*\/bin\/corral agent\b/m.exec(UNIT)?.[1] ?? '').split(' ').filter(Boolean);
const base = mkdtempSync('/tmp/corral-bench-agent-');
chmodSync(base, 0o755);
const root = join(base, 'root');
const dir = join(base, 'manifests');
const none = join(base, 'none');
mkdirSync(dir);
mkdirSync(none);
const parent = `corral-bench-${process.pid}`;
const env = { ...process.env, CORRAL_ROOT: root, CORRAL_MANIFESTS: dir, CORRAL_CGROUP_PARENT: parent, CORRAL_LOG_LEVEL: 'warn' };
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;


function manifest(name, extra = '') {
  return `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: ${name}\nspec:\n  rootfs: {host: {}}\n  command: [/bin/sleep, "1000000"]\n  stopSignal: SIGKILL\n${extra}`;
}

function record(name) {
  try {
    return JSON.parse(readFileSync(join(root, 'state', `${name}.json`), 'utf8'));
  } catch {
    return null;
  }
}

async function until(what, probe, timeoutMs = 120_000, everyMs = 1) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(everyMs);
  }
}

function runningCount() {
  let n = 0;
  for (const f of readdirSync(join(root, 'state'))) {
    if (!f.endsWith('.json') || f === 'meta.json') continue;
    try {
      if (JSON.parse(readFileSync(join(root, 'state', f), 'utf8')).status === 'running') n++;
    } catch {
      // Being replaced right now.
    }
  }
  return n;
}

const procStat = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
const cpuSeconds = (pid) => { const f = procStat(pid); return (Number(f[11]) + Number(f[12])) / TICKS; };
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

let agent;
try {
  writeFileSync(join(dir, 'web.yaml'), manifest('web', '  resources: {memory: 32Mi}\n  env: {V: "0"}\n'));
  agent = spawn(process.execPath, [...NODE_FLAGS, BIN, 'agent', '--resync', '30s'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await until('web running', () => record('web')?.status === 'running', 60_000, 20);
  const handle = record('web').cgroup;
  const limitFile = handle.v1.memory ? join(handle.v1.memory, 'memory.limit_in_bytes') : join(handle.unified, 'memory.max');

  // 1. Edit-to-converged.
  const live = [];
  const restart = [];
  for (let i = 1; i <= EDITS; i++) {
    const mem = i % 2 ? 48 : 32;
    const t0 = performance.now();
    writeFileSync(join(dir, 'web.yaml'), manifest('web', `  resources: {memory: ${mem}Mi}\n  env: {V: "0"}\n`));
    await until('limit applied', () => Number(readFileSync(limitFile, 'utf8')) === mem * 2 ** 20);
    live.push(performance.now() - t0);
    await sleep(300);
  }
  for (let i = 1; i <= EDITS; i++) {
    const before = record('web').runtime.init.pid;
    const t0 = performance.now();
    writeFileSync(join(dir, 'web.yaml'), manifest('web', `  resources: {memory: 32Mi}\n  env: {V: "${i}"}\n`));
    await until('restarted', () => { const r = record('web'); return r?.status === 'running' && r.runtime?.init?.pid !== before; });
    restart.push(performance.now() - t0);
    await sleep(300);
  }
  console.log(`edit-to-converged, ${EDITS} edits each (ms, settle window 100 ms included)   p50     p90`);
  console.log(`  live update (memory limit enforced by the kernel)          ${stats(live).median.toFixed(0).padStart(6)} ${stats(live).p90.toFixed(0).padStart(7)}`);
  console.log(`  restart (env change, new process running)                  ${stats(restart).median.toFixed(0).padStart(6)} ${stats(restart).p90.toFixed(0).padStart(7)}`);

  // 2 and 3. Idle memory and CPU with 0, 100 and 500 containers.
  const resultRows = [row('corral agent', 'edit to converged: live update', live), row('corral agent', 'edit to converged: restart', restart)];
  console.log(`\nidle agent, resync 30 s                  containers   agent RSS   agent CPU, ${IDLE_S} s from 5 s   the ${STEADY_S} s after   RSS then, median / max`);
  for (const n of [0, 100, 500]) {
    for (const f of readdirSync(dir)) rmSync(join(dir, f));
    for (let i = 0; i < n; i++) writeFileSync(join(dir, `c${i}.yaml`), manifest(`c${i}`, '  resources: {memory: 16Mi, pids: 16}\n'));
    if (n === 0) {
      // An empty directory is guarded against; remove through the CLI with --allow-empty.
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
      spawnSync(process.execPath, [BIN, 'reconcile', '--once', '--allow-empty'], { env, stdio: 'ignore' });
      agent = spawn(process.execPath, [...NODE_FLAGS, BIN, 'agent', '--resync', '30s', '--allow-empty'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    await until(`${n} running`, () => runningCount() === n && readdirSync(join(root, 'state')).filter((f) => f.endsWith('.json') && f !== 'meta.json').length === n, 600_000, 200);
    await sleep(5000);
    const rssSamples = [];
    const window = async (seconds, sampleRss = false) => {
      const cpu0 = cpuSeconds(agent.pid);
      const t0 = performance.now();
      for (let left = seconds * 1000; left > 0; left -= 10_000) {
        await sleep(Math.min(left, 10_000));
        if (sampleRss) rssSamples.push(rssKb(agent.pid) / 1024);
      }
      return ((cpuSeconds(agent.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    };
    const first = await window(IDLE_S);
    const rss = rssKb(agent.pid) / 1024;
    const steady = await window(STEADY_S, true);
    const steadyRss = stats(rssSamples);
    const maxRss = Math.max(...rssSamples);
    const pct = (x) => `${x.toFixed(2)} % of a core`.padStart(18);
    console.log(`                                          ${String(n).padStart(10)} ${`${rss.toFixed(1)} MiB`.padStart(11)}   ${pct(first)}   ${pct(steady)}   ${`${steadyRss.median.toFixed(1)} / ${maxRss.toFixed(1)} MiB`.padStart(20)}`);
    resultRows.push(
      row('corral agent', `idle RSS, ${n} containers`, rss, { unit: 'MiB' }),
      row('corral agent', `idle RSS, ${n} containers, second window`, rssSamples, { unit: 'MiB' }),
      row('corral agent', `idle CPU, ${n} containers`, first, { unit: '% of a core' }),
      row('corral agent', `idle CPU, ${n} containers, second window`, steady, { unit: '% of a core' }),
    );
  }
  emitResult({ bench: 'agent', unit: 'ms', rows: resultRows, params: { edits: EDITS, idleSeconds: IDLE_S, steadySeconds: STEADY_S } });
} finally {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
  spawnSync(process.execPath, [BIN, 'reconcile', '--once', '--allow-empty'], { env: { ...env, CORRAL_MANIFESTS: none }, stdio: 'ignore' });
  await (await openCgroupManager({ parentName: parent })).removeAll().catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
}
