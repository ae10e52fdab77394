// bench/run: every bench (or the named ones) in one go, each result kept with the machine's facts.
//   npm run bench [-- NAME... ] [-- --quick]       (npm run bench builds dist/ first)
//   node bench/run.mjs --list                      the benches, and why one would be skipped here
//   node bench/run.mjs --compare A B               two results side by side (A, B: a result file,
//                                                  a run's timestamp, or `latest`)
// Each bench runs as a child process: its table streams to the terminal as it prints it, and its
// figures come back through bench/lib/result.mjs (env BENCH_RESULT_FILE). For each bench, this writes
// bench/results/<timestamp>-<bench>.json (the figures, the printed table, the machine: kernel, cores,
// memory, cgroup layout, Node, corral, git commit, load at start) and <timestamp>-<bench>.svg (a bar
// chart of the medians with p90 whiskers), then bench/results/latest.json (the run's index). The
// format is described in bench/results/README.md. --quick gives every bench small counts, so the
// whole set takes minutes; the default is each bench's full counts. Ctrl-C stops the running bench
// (it cleans up after itself) and then the run. Nothing here asserts a time: figures are compared
// by people, run to run.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { renderChart } from './lib/chart.mjs';
import { loadAverage, machineFacts } from './lib/machine.mjs';
import { RESULT_PREFIX } from './lib/result.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(REPO, 'bench/results');
const NODE = process.execPath;
// The TypeScript benches compile with their sources into .scratch/ (as bench/cgroups.sh does).
const tsBench = (file, args) => ['bash', '-c', `set -e; npx tsc ${file} --outDir .scratch/bench-run --rootDir . --target ES2022 --module NodeNext --moduleResolution NodeNext --strict --skipLibCheck --types node && exec node .scratch/bench-run/${file.replace(/\.ts$/, '.js')} "$@"`, 'bench', ...args];

/** name, what it measures, the command in full and in --quick, whether it needs root, the commands it needs. */
const BENCHES = [
  { name: 'start', about: 'start latency and idle memory: corral, crun, runc, lxc', full: [NODE, 'bench/start.mjs', '30'], quick: [NODE, 'bench/start.mjs', '--quick', '5'], root: true },
  { name: 'cli', about: 'how long a command takes to answer, as a fresh process, beside node -e 0', full: [NODE, 'bench/cli.mjs', '20', '1000'], quick: [NODE, 'bench/cli.mjs', '5', '100'], root: true },
  { name: 'reconcile', about: 'converge N from nothing, plan M with nothing to do', full: [NODE, 'bench/reconcile.mjs', '100', '1000'], quick: [NODE, 'bench/reconcile.mjs', '20', '100'], root: true },
  { name: 'density', about: 'N idle containers: converge, memory, agent pass, teardown; crun, podman', full: [NODE, 'bench/density.mjs', '1000'], quick: [NODE, 'bench/density.mjs', '50', '--passes=3'], root: true },
  { name: 'agent', about: 'edit-to-converged latency, idle agent memory and CPU', full: [NODE, 'bench/agent.mjs', '20', '60'], quick: [NODE, 'bench/agent.mjs', '3', '5', '5'], root: true },
  { name: 'state', about: 'state record write and cold load', full: [NODE, 'bench/state.mjs', '300'], quick: [NODE, 'bench/state.mjs', '50'], root: false },
  { name: 'logs', about: 'log throughput and monitor CPU: corral, conmon', full: [NODE, 'bench/logs.mjs', '200', '100', '3'], quick: [NODE, 'bench/logs.mjs', '20', '100', '1'], root: true, needs: ['cc'] },
  { name: 'network', about: 'bridge networking: create cost, throughput, connections; podman', full: [NODE, 'bench/network.mjs', '30'], quick: [NODE, 'bench/network.mjs', '3'], root: true, needs: ['cc', 'ip', 'nsenter'] },
  { name: 'network-steps', about: 'where a bridged create spends its time', full: [NODE, 'bench/network-steps.mjs', '12'], quick: [NODE, 'bench/network-steps.mjs', '2'], root: true },
  { name: 'pull', about: 'image pull from a local registry: corral, skopeo, podman', full: [NODE, 'bench/pull.mjs', '5'], quick: [NODE, 'bench/pull.mjs', '1'], root: true, needs: ['docker-registry', 'skopeo'] },
  { name: 'cgroups', about: 'cgroup create/place/destroy, this host and the cgroup2 VM', full: ['bash', 'bench/cgroups.sh'], quick: ['bash', 'bench/cgroups.sh', '--host-only', '20'], root: true },
  { name: 'overlay', about: 'copy-on-write root per container: corral against mount(8)', full: ['bash', 'bench/overlay.sh'], quick: ['bash', 'bench/overlay.sh', '--clones', '20'], root: true },
  { name: 'seccomp', about: 'cost per system call of the default seccomp filter', full: tsBench('bench/seccomp.ts', ['300000']), quick: tsBench('bench/seccomp.ts', ['30000']), root: false, needs: ['gcc'] },
];

const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const isRoot = process.getuid?.() === 0;

/** Why a bench cannot run on this host, or null. */
function skipReason(b) {
  if (b.root && !isRoot) return 'needs root';
  const missing = (b.needs ?? []).filter((t) => !have(t));
  return missing.length ? `needs ${missing.join(', ')} (scripts/test-deps.sh or apt-get install)` : null;
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/** Runs one bench; streams its output; returns { status, seconds, output, result }. */
function runBench(b, argv, state) {
  const resultFile = join(tmpdir(), `corral-bench-result-${process.pid}-${b.name}.json`);
  rmSync(resultFile, { force: true });
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: REPO, env: { ...process.env, BENCH_RESULT_FILE: resultFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    state.child = child;
    let out = '', err = '', partial = '';
    let lineResult = null;
    child.stdout.on('data', (d) => {
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const l of lines) {
        if (l.startsWith(RESULT_PREFIX)) { lineResult = l.slice(RESULT_PREFIX.length); continue; }
        out += `${l}\n`;
        process.stdout.write(`${l}\n`);
      }
    });
    child.stderr.on('data', (d) => { err = (err + d).slice(-8000); process.stderr.write(d); });
    child.on('close', (code, signal) => {
      state.child = null;
      if (partial) { out += partial; process.stdout.write(partial); }
      let result = null;
      try {
        result = JSON.parse(existsSync(resultFile) ? readFileSync(resultFile, 'utf8') : lineResult ?? 'null');
      } catch (e) {
        err += `\nbench/run: unreadable result: ${e.message}`;
      }
      rmSync(resultFile, { force: true });
      const status = code === 0 ? (result ? 'ok' : 'ok, no result') : `failed (${signal ?? `exit ${code}`})`;
      resolve({ status, seconds: (performance.now() - t0) / 1000, output: out, stderrTail: code === 0 ? '' : err.slice(-2000), result });
    });
  });
}

const fmt = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

/** One bench's figures as a table: a line per metric, a column per tool (median, and p90 when sampled). */
function matrix(result) {
  const tools = [...new Set(result.rows.map((r) => r.tool))];
  const metrics = [...new Set(result.rows.map((r) => r.metric))];
  const cell = (r) => (r ? (r.n > 1 && r.p90 !== r.median ? `${fmt(r.median)} (${fmt(r.p90)})` : fmt(r.median)) : '-');
  const width = Math.max(14, ...tools.map((t) => t.length + 2));
  const label = (m) => { const unit = result.rows.find((r) => r.metric === m).unit ?? result.unit ?? ''; return `${m}${unit ? ` (${unit})` : ''}`; };
  const left = Math.min(64, Math.max(...metrics.map((m) => label(m).length)) + 2);
  const lines = [`  ${''.padEnd(left)}${tools.map((t) => t.padStart(width)).join('')}`];
  for (const m of metrics) {
    const mine = result.rows.filter((r) => r.metric === m);
    lines.push(`  ${label(m).slice(0, left - 1).padEnd(left)}${tools.map((t) => cell(mine.find((r) => r.tool === t)).padStart(width)).join('')}`);
  }
  return lines.join('\n');
}

/** The result files of A: a file, `latest`, or a run's timestamp (every bench file of that run). */
function resolveRun(a) {
  if (existsSync(a) && a.endsWith('.json') && !a.endsWith('latest.json')) return [JSON.parse(readFileSync(a, 'utf8'))];
  let run = a;
  if (a === 'latest') run = JSON.parse(readFileSync(join(RESULTS, 'latest.json'), 'utf8')).run;
  const files = existsSync(RESULTS) ? readdirSync(RESULTS).filter((f) => f.startsWith(`${run}-`) && f.endsWith('.json')) : [];
  if (files.length === 0) throw new Error(`no results for \`${a}\` in ${RESULTS} (give a file, a run timestamp, or latest)`);
  return files.map((f) => JSON.parse(readFileSync(join(RESULTS, f), 'utf8')));
}

function compare(a, b) {
  const A = resolveRun(a), B = resolveRun(b);
  for (const ra of A) {
    const rb = B.find((r) => r.bench === ra.bench);
    if (!rb?.result || !ra.result) continue;
    const facts = (r) => `${r.run}: kernel ${r.machine.kernel}, ${r.machine.cores} cores, cgroups ${r.machine.cgroups.kind}, commit ${(r.machine.git.commit ?? '?').slice(0, 10)}${r.machine.git.dirty ? '+dirty' : ''}, load ${r.machine.loadAtStart.join(' ')}${r.quick ? ', quick' : ''}`;
    console.log(`\n${ra.bench}\n  A ${facts(ra)}\n  B ${facts(rb)}`);
    const pairs = ra.result.rows.map((x) => [x, rb.result.rows.find((r) => r.tool === x.tool && r.metric === x.metric)]).filter(([, y]) => y);
    const label = (x) => `${x.metric} (${x.unit ?? ra.result.unit ?? ''})`;
    const tw = Math.min(36, Math.max(6, ...pairs.map(([x]) => x.tool.length)) + 2);
    const mw = Math.min(64, Math.max(8, ...pairs.map(([x]) => label(x).length)) + 2);
    console.log(`  ${'tool'.padEnd(tw)}${'metric'.padEnd(mw)}${'A'.padStart(10)}${'B'.padStart(10)}${'change'.padStart(9)}`);
    for (const [x, y] of pairs) {
      const change = x.median ? `${y.median >= x.median ? '+' : ''}${((y.median / x.median - 1) * 100).toFixed(0)} %` : '-';
      console.log(`  ${x.tool.slice(0, tw - 1).padEnd(tw)}${label(x).slice(0, mw - 1).padEnd(mw)}${fmt(x.median).padStart(10)}${fmt(y.median).padStart(10)}${change.padStart(9)}`);
    }
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--compare') {
    if (args.length !== 3) throw new Error('usage: node bench/run.mjs --compare A B');
    compare(args[1], args[2]);
    return;
  }
  if (args.includes('--list')) {
    for (const b of BENCHES) console.log(`${b.name.padEnd(15)}${b.about}${skipReason(b) ? `   [skipped here: ${skipReason(b)}]` : ''}`);
    return;
  }
  const quick = args.includes('--quick');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length) throw new Error(`unknown bench ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  const chosen = names.length ? BENCHES.filter((b) => names.includes(b.name)) : BENCHES;

  const run = stamp();
  const machine = await machineFacts();
  mkdirSync(RESULTS, { recursive: true });
  const state = { child: null, stop: false };
  // Ctrl-C reaches the running bench too (same process group): let it clean up, then stop.
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      state.stop = true;
      if (sig === 'SIGTERM') state.child?.kill('SIGTERM');
      process.stderr.write(`\nbench/run: ${sig}: stopping after the running bench has cleaned up\n`);
    });
  }
  console.log(`bench run ${run}${quick ? ' (quick)' : ''}: kernel ${machine.kernel}, ${machine.cores} cores, ${machine.memoryMiB} MiB, cgroups ${machine.cgroups.kind}, node ${machine.node}, corral ${machine.corral} ${(machine.git.commit ?? '').slice(0, 10)}${machine.git.dirty ? '+dirty' : ''}, load ${machine.loadAtStart.join(' ')}`);
  const index = { format: 1, run, quick, startedAt: new Date().toISOString(), finishedAt: null, machine, benches: [] };
  const done = [];
  for (const b of chosen) {
    if (state.stop) { index.benches.push({ bench: b.name, status: 'not run (stopped)' }); continue; }
    const reason = skipReason(b);
    if (reason) {
      console.log(`\n== ${b.name}: skipped, ${reason}`);
      index.benches.push({ bench: b.name, status: `skipped: ${reason}` });
      continue;
    }
    const argv = quick ? b.quick : b.full;
    const loadAtStart = loadAverage();
    console.log(`\n== ${b.name}: ${b.about}   (load ${loadAtStart.join(' ')})`);
    const r = await runBench(b, argv, state);
    const file = `${run}-${b.name}`;
    const record = {
      format: 1, run, bench: b.name, status: r.status, quick, argv: argv.map((a) => (a === NODE ? 'node' : a)), seconds: Math.round(r.seconds * 10) / 10,
      machine: { ...machine, loadAtStart, loadAtEnd: loadAverage() }, result: r.result, output: r.output, stderrTail: r.stderrTail || undefined,
    };
    writeFileSync(join(RESULTS, `${file}.json`), `${JSON.stringify(record, null, 2)}\n`);
    let svg = null;
    if (r.result?.rows?.length) {
      svg = `${file}.svg`;
      writeFileSync(join(RESULTS, svg), renderChart(r.result, `${run}${quick ? ' (quick)' : ''} · ${machine.kernel} · ${machine.cores} cores · load ${loadAtStart.join(' ')} · median, whisker p90`));
    }
    index.benches.push({ bench: b.name, status: r.status, seconds: record.seconds, json: `${file}.json`, svg });
    done.push({ b, r });
    console.log(`== ${b.name}: ${r.status} in ${r.seconds.toFixed(1)} s -> bench/results/${file}.json`);
  }
  index.finishedAt = new Date().toISOString();
  writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(index, null, 2)}\n`);

  console.log(`\n== summary of run ${run}: medians (p90 where sampled); each bench's own table above says how it measures`);
  for (const { b, r } of done) {
    console.log(`\n${b.name} (${r.status}, ${r.seconds.toFixed(0)} s)`);
    if (r.result?.rows?.length) console.log(matrix(r.result));
  }
  for (const e of index.benches.filter((x) => !done.some((d) => d.b.name === x.bench))) console.log(`\n${e.bench}: ${e.status}`);
  const total = (Date.parse(index.finishedAt) - Date.parse(index.startedAt)) / 1000;
  console.log(`\nrun ${run}: ${total.toFixed(0)} s; results in bench/results/ (latest.json; compare: node bench/run.mjs --compare A B)`);
  if (done.some(({ r }) => !r.status.startsWith('ok'))) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench/run: ${err.message ?? err}`);
  process.exitCode = 1;
});
