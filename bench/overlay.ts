// bench/overlay: provisioning time and disk bytes per container for N clones of one busybox image,
// corral's direct syscalls against mount(8), in the same run. Run it with `bash bench/overlay.sh`
// (which compiles this file and runs it in a private mount namespace, so no mount can leak).
//
// Provisioning = prepareRootfs (upper/work/rootfs directories + rootfs record) + the overlay mount.
// Disk = blocks allocated to upper + work (what a clone costs; the layers are shared), and the
// whole container directory (plus the rootfs mount point and the record).
// Targets (issue 4): ≤ 1 ms and ≤ 16 KB per clone.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { importImage, prepareRootfs } from '../src/drivers/overlay/index.js';
import { diskUsage } from '../src/drivers/overlay/fs-util.js';
import { ensureMounted, unmount } from '../src/drivers/overlay/mount-rootfs.js';
import { mountsAtOrBelow } from '../src/drivers/overlay/mountinfo.js';
import { overlayMountData, type OverlayMountApi } from '../src/drivers/overlay/overlay-options.js';
import { layout } from '../src/state/layout.js';
import type * as Results from './lib/result.mjs';

interface Options {
  clones: number;
  root: string | null;
}

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = { clones: 100, root: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--clones') opts.clones = Number(argv[++i]);
    else if (argv[i] === '--root') opts.root = argv[++i] ?? null;
    else throw new Error(`unknown argument ${argv[i]} (usage: --clones N --root DIR)`);
  }
  if (!Number.isInteger(opts.clones) || opts.clones < 1) throw new Error('--clones must be a positive integer');
  return opts;
}

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'true', 'mkdir', 'rm', 'touch'];

async function busyboxTarball(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'dev', 'sys']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/usr/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  const file = join(dir, 'busybox.tar');
  await tar.c({ file, cwd: rootfs, portable: true }, ['.']);
  return file;
}

interface Sample {
  prepareMs: number;
  mountMs: number;
}

type Way = { label: string; mount: (l: ReturnType<typeof prepareRootfs>['layout']) => void };

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

function summary(samples: readonly Sample[]): { median: number; p90: number; mean: number; prepare: number; mount: number } {
  const total = samples.map((s) => s.prepareMs + s.mountMs).sort((a, b) => a - b);
  const med = (xs: number[]): number => percentile(xs.sort((a, b) => a - b), 0.5);
  return {
    median: percentile(total, 0.5),
    p90: percentile(total, 0.9),
    mean: total.reduce((a, b) => a + b, 0) / total.length,
    prepare: med(samples.map((s) => s.prepareMs)),
    mount: med(samples.map((s) => s.mountMs)),
  };
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

async function main(): Promise<void> {
  // The shared result module stays in the checkout (this file runs from .scratch/<dir>/bench/; tsc does not copy .mjs files).
  const { emitResult, row } = (await import(new URL('../../../bench/lib/result.mjs', import.meta.url).href)) as typeof Results;
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the overlay bench needs root (it mounts overlays)');
  const work = mkdtempSync(join(tmpdir(), 'corral-bench-overlay-'));
  const root = opts.root ?? join(work, 'state');
  try {
    const image = await importImage(root, await busyboxTarball(work), { name: 'busybox', tag: 'bench' });
    const spec = { rootfs: { kind: 'image' as const, name: 'busybox', tag: 'bench' }, readOnlyRootfs: false };
    const ways: Way[] = [
      { label: 'corral fsconfig (lowerdir+)', mount: (l) => ensureMounted(l, 'fsconfig' satisfies OverlayMountApi) },
      { label: 'corral mount(2)', mount: (l) => ensureMounted(l, 'mount2') },
      {
        label: 'mount(8)',
        mount: (l) => {
          const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', overlayMountData(l), l.target], { encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`mount(8) failed: ${r.stderr}`);
        },
      },
    ];
    // Warm up (koffi bindings, JIT, directory caches) outside the measurement.
    for (const [w, way] of ways.entries()) {
      const warm = prepareRootfs(root, `warm-${w}`, spec);
      way.mount(warm.layout);
      unmount(warm.layout);
    }
    // Clones are made round-robin across the ways, so machine noise (the host is shared) hits
    // every way alike instead of whichever ran during a burst.
    const samples: Sample[][] = ways.map(() => []);
    const layouts: Array<Array<ReturnType<typeof prepareRootfs>['layout']>> = ways.map(() => []);
    for (let i = 0; i < opts.clones; i++) {
      for (const [w, way] of ways.entries()) {
        const t0 = process.hrtime.bigint();
        const prepared = prepareRootfs(root, `w${w}-${i}`, spec);
        const prepareMs = ms(t0);
        const t1 = process.hrtime.bigint();
        way.mount(prepared.layout);
        samples[w]!.push({ prepareMs, mountMs: ms(t1) });
        layouts[w]!.push(prepared.layout);
      }
    }
    const rows: string[] = [];
    const resultRows: Results.ResultRow[] = [];
    for (const [w, way] of ways.entries()) {
      // A clone's disk cost once mounted (overlay creates work/work at mount time).
      const upperWork = layouts[w]!.map((l) => diskUsage(l.upper) + diskUsage(l.work));
      const whole = layouts[w]!.map((l) => diskUsage(join(l.target, '..')));
      const s = summary(samples[w]!);
      const bytes = upperWork.reduce((a, b) => a + b, 0) / upperWork.length;
      const dirBytes = whole.reduce((a, b) => a + b, 0) / whole.length;
      resultRows.push(
        { tool: way.label, metric: 'prepare + mount per clone', median: s.median, p90: s.p90, n: samples[w]!.length },
        row(way.label, 'upper + work per clone', bytes / 1024, { unit: 'KiB' }),
      );
      rows.push([
        way.label.padEnd(28),
        s.median.toFixed(3).padStart(8), s.p90.toFixed(3).padStart(8), s.mean.toFixed(3).padStart(8),
        s.prepare.toFixed(3).padStart(9), s.mount.toFixed(3).padStart(8),
        String(Math.round(bytes / 1024)).padStart(9), String(Math.round(dirBytes / 1024)).padStart(9),
      ].join(' '));
    }
    for (const list of layouts) for (const l of list) unmount(l);
    const layerKiB = Math.round(image.image.layers.reduce((a, l) => a + l.bytes, 0) / 1024);
    process.stdout.write([
      `overlay bench: ${opts.clones} clones of a busybox image (${layerKiB} KiB, 1 layer, shared) on ${layout(root).root}`,
      `${'way'.padEnd(28)} ${'med ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'mean ms'.padStart(8)} ${'prep ms'.padStart(9)} ${'mnt ms'.padStart(8)} ${'KiB u+w'.padStart(9)} ${'KiB dir'.padStart(9)}`,
      ...rows,
      'per clone: med/p90/mean = prepare + mount; prep/mnt = medians of each part; u+w = upper+work; dir = the whole container directory',
      'targets: <= 1 ms and <= 16 KiB (upper+work) per clone',
      '',
    ].join('\n'));
    emitResult({ bench: 'overlay', unit: 'ms', rows: resultRows, params: { clones: opts.clones, root: layout(root).root } });
  } finally {
    for (const m of mountsAtOrBelow(work).sort((a, b) => b.mountPoint.length - a.mountPoint.length)) unmount({ target: m.mountPoint });
    rmSync(work, { recursive: true, force: true });
    if (opts.root) rmSync(opts.root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/overlay: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
