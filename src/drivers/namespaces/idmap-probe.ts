// Whether containers on this state root can run in a user namespace, asked of the kernel rather
// than guessed: the shim builds, detached, the same idmapped overlay a start builds
// (`corral-shim probe-idmap`, shim/probe.c), on a scratch directory under <root>/tmp, so the
// filesystem that holds the layers and the writable layers is the one tested. The kernel release
// (idmap-support.ts) is checked first: an older kernel is not asked. One probe per state root per
// process, and its answer kept in the root for this boot, kernel, root directory and shim binary:
// 10-30 ms alone, the probe took 465 ms of a 100-container converge on a loaded host, and every
// `plan` paid it.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { layout } from '../../state/layout.js';
import { pidAlive } from '../../sys/proc.js';
import { IDMAP_MIN_KERNEL, idmapSupported } from './idmap-support.js';
import { shimPath } from './shim.js';

export interface IdmapProbe {
  /** The root can be built idmapped: user namespaces work here. */
  readonly ok: boolean;
  /** Why not (the refused step), or how it was decided. */
  readonly detail: string;
}

const PROBE_PREFIX = 'idmap-probe-';
const memo = new Map<string, IdmapProbe>();

/** Scratch directories a killed probe left (nothing was ever mounted on them). */
function removeLeftovers(tmp: string): void {
  for (const e of readdirSync(tmp)) {
    const pid = e.startsWith(PROBE_PREFIX) ? Number(e.slice(PROBE_PREFIX.length)) : NaN;
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) rmSync(join(tmp, e), { recursive: true, force: true });
  }
}

function runProbe(root: string, shim: string): IdmapProbe {
  const kernel = release();
  if (!idmapSupported(kernel)) {
    return { ok: false, detail: `kernel ${kernel} is older than ${IDMAP_MIN_KERNEL.join('.')} (idmapped layers passed to overlayfs by fd)` };
  }
  if (!existsSync(root)) return { ok: true, detail: `kernel ${kernel}; the state root does not exist yet, its filesystem is probed at first use` };
  const tmp = layout(root).tmpDir;
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  removeLeftovers(tmp);
  const dir = join(tmp, `${PROBE_PREFIX}${process.pid}`);
  try {
    rmSync(dir, { recursive: true, force: true });
    for (const sub of ['', 'lower', 'upper', 'work']) mkdirSync(join(dir, sub), { mode: 0o700 });
    const r = spawnSync(shim, ['probe-idmap', dir], { encoding: 'utf8', timeout: 10_000 });
    const line = (r.stdout ?? '').trim();
    if (r.status === 0 && line === 'ok') return { ok: true, detail: `kernel ${kernel}; an idmapped overlay builds on ${root}` };
    const why = line || r.error?.message || `the probe exited with ${r.status ?? r.signal}`;
    return { ok: false, detail: `an idmapped overlay does not build on ${root}: ${why}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What decides the answer: this boot (kernel and mounts as booted), the kernel release, the root
 * directory itself (another filesystem mounted there is another inode) and the shim that probes.
 */
function probeKey(root: string, shim: string): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const r = statSync(root);
    const s = statSync(shim);
    return `${boot} ${release()} ${r.dev}:${r.ino} ${s.size}:${s.mtimeMs}`;
  } catch {
    return null;
  }
}

function readKept(file: string, key: string): IdmapProbe | null {
  try {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { key?: unknown; ok?: unknown; detail?: unknown };
    return kept.key === key && typeof kept.ok === 'boolean' && typeof kept.detail === 'string' ? { ok: kept.ok, detail: kept.detail } : null;
  } catch {
    return null;
  }
}

/**
 * Written in place, without a temporary file or fsync: a torn, empty or interleaved file does not
 * parse or match, and only means probing again; a kill leaves nothing beside it.
 */
function keep(file: string, key: string, probe: IdmapProbe): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify({ key, ...probe }), { mode: 0o600 });
  } catch {
    // A read-only or full root: the next process probes again.
  }
}

/** The probe's answer for `root`: once per process, and kept in the root while its key holds. */
export function probeIdmap(root: string, shim = shimPath()): IdmapProbe {
  const known = memo.get(root);
  if (known) return known;
  // "Not probed yet" is not an answer to keep: the root appears at first use.
  if (!existsSync(root)) return runProbe(root, shim);
  const file = layout(root).idmapProbe;
  const key = probeKey(root, shim);
  let r = key === null ? null : readKept(file, key);
  if (!r) {
    r = runProbe(root, shim);
    if (key !== null) keep(file, key, r);
  }
  memo.set(root, r);
  return r;
}
