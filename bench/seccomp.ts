// bench/seccomp: what corral's default seccomp filter costs per system call, with the search-tree
// dispatch corral emits and with the linear `jeq` chain it emitted first.
//
// Run (as root or not; needs gcc):
//   npx tsc bench/seccomp.ts --outDir .scratch/bench --rootDir . --target ES2022 --module NodeNext \
//     --moduleResolution NodeNext --strict --skipLibCheck --types node && node .scratch/bench/bench/seccomp.js [ITERATIONS]
//
// Each figure is the best of 7 rounds of a tight loop (bench/seccomp-loop.c), in ns per call of
// the whole system call: compare a row across columns, "none" being the call without corral's
// filter. "cached" is this kernel as it is: since 5.11 it skips the filter for calls the filter
// allows whatever the arguments. "uncached" stacks a two-instruction filter that defeats that
// cache, which is how every call runs on older kernels (the "none" column then has only it).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSeccompProfile } from '../src/drivers/namespaces/seccomp-compile.js';
import { parseSeccompProfile } from '../src/drivers/namespaces/seccomp-profile.js';
import { SYSCALLS_X86_64 } from '../src/drivers/namespaces/syscalls-x86_64.js';
import type * as Results from './lib/result.mjs';

const ITERATIONS = Number(process.argv[2] ?? 300_000);
// Paths from the checkout: this file runs from .scratch/bench/bench/, three levels down.
const fromCheckout = (path: string): string => new URL(`../../../${path}`, import.meta.url).pathname;
const PROFILE = fromCheckout('src/drivers/namespaces/seccomp-default.json');
const nr = (name: string): number => SYSCALLS_X86_64[name]!;
// The shared result module stays in the checkout (tsc does not copy .mjs files into .scratch/).
const { emitResult, row } = (await import(fromCheckout('bench/lib/result.mjs'))) as typeof Results;

/** Cheap calls (they fail fast on zero arguments), early and late in the profile's file order. */
const CALLS: readonly { label: string; nr: number; arg0: bigint }[] = [
  { label: 'read (allowed, 1st entry)', nr: nr('read'), arg0: 0xffffn },
  { label: 'getppid (allowed)', nr: nr('getppid'), arg0: 0n },
  { label: 'getpriority (allowed, late entry)', nr: nr('getpriority'), arg0: 99n },
  { label: 'personality(0xffffffff) (arg test)', nr: nr('personality'), arg0: 0xffffffffn },
  { label: 'kcmp (EPERM, late entry)', nr: nr('kcmp'), arg0: 0n },
  { label: 'nr 400 (unnamed: ENOSYS)', nr: 400, arg0: 0n },
];

const dir = mkdtempSync(join(tmpdir(), 'corral-bench-seccomp-'));
try {
  const helper = join(dir, 'seccomp-loop');
  execFileSync('gcc', ['-O2', '-o', helper, fromCheckout('bench/seccomp-loop.c')]);
  const profile = parseSeccompProfile(readFileSync(PROFILE, 'utf8'), PROFILE);
  const filters: Record<string, string> = { none: '-' };
  for (const dispatch of ['linear', 'search-tree'] as const) {
    const c = compileSeccompProfile(profile, { capabilities: [], kernelRelease: null }, { dispatch });
    filters[`${dispatch} (${c.instructions})`] = join(dir, `${dispatch}.bpf`);
    writeFileSync(join(dir, `${dispatch}.bpf`), c.program);
  }
  const run = (filter: string, call: (typeof CALLS)[number], cache: boolean): string =>
    execFileSync(helper, [filter, String(call.nr), `0x${call.arg0.toString(16)}`, String(ITERATIONS), ...(cache ? [] : ['nocache'])], { encoding: 'utf8' }).trim();
  const columns = Object.keys(filters);
  console.log(`seccomp bench, ns per call (best of 7 x ${ITERATIONS}), kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`);
  const rows: Results.ResultRow[] = [];
  for (const cache of [true, false]) {
    console.log(`\n${cache ? 'cached (this kernel as is)' : 'uncached (kernels before 5.11)'}`.padEnd(40) + columns.map((c) => c.padStart(20)).join(''));
    for (const call of CALLS) {
      const cells = columns.map((c) => run(filters[c]!, call, cache));
      console.log(`  ${call.label.padEnd(38)}${cells.map((v) => v.padStart(20)).join('')}`);
      columns.forEach((c, i) => rows.push(row(c, `${call.label}, ${cache ? 'cached' : 'uncached'}`, Number(cells[i]))));
    }
  }
  emitResult({ bench: 'seccomp', unit: 'ns per call', rows, params: { iterations: ITERATIONS } });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
