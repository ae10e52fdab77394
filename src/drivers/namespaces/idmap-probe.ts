// Whether containers on this state root can run in a user namespace, asked of the kernel rather
// than guessed: the shim builds, detached, the same idmapped overlay a start builds
// (`corral-shim probe-idmap`, shim/probe.c), on a scratch directory under <root>/tmp, so the
// filesystem that holds the layers and the writable layers is the one tested. The kernel release
// (idmap-support.ts) is checked first: an older kernel is not asked. One probe per state root per
// process; a few milliseconds.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
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

/** The probe's answer for `root`, computed once per process. */
export function probeIdmap(root: string, shim = shimPath()): IdmapProbe {
  let r = memo.get(root);
  if (!r) {
    r = runProbe(root, shim);
    // "Not probed yet" is not an answer to keep: the root appears at first use.
    if (existsSync(root)) memo.set(root, r);
  }
  return r;
}
