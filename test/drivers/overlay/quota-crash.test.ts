// SIGKILL at any point of the quota step of a start (id allocation, the walk that tags an existing
// upper, the limit) or of a removal: the next run converges, and no project id is ever held by
// two containers. Two containers are started at once in child processes (the built driver in
// dist/), each killed at a point spread over the time a whole run takes, round after round; then
// both run to completion and every entry of their layers must carry their own id.
//
// Needs a kernel with project quotas, like quota-e2e.ts (the VM step runs it).

import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { overlayRootfsPort } from '../../../src/drivers/overlay/index.js';
import { probeQuotaSupport } from '../../../src/drivers/overlay/quota/probe.js';
import { projectIdOf, quotaPaths, readProjectTable } from '../../../src/drivers/overlay/quota/project-ids.js';
import { RETAG_PREFIX } from '../../../src/drivers/overlay/quota/tag-tree.js';
import { readRootfsRecord, writeRootfsRecord, type RootfsRecord } from '../../../src/drivers/overlay/rootfs-record.js';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { layout } from '../../../src/state/layout.js';
import { FS_XFLAG_PROJINHERIT, readFsxattr } from '../../../src/sys/fsxattr.js';
import { mkfifo } from '../../../src/sys/mknod.js';
import { REPO } from '../../support/cli.js';
import { requireRoot } from '../../support/root.js';
import { kernelLacksProjectQuota, leftovers, makeLoopFs, removeLoopFilesystems, type LoopFs } from './loop-fs.js';

const NO_ABORT = new AbortController().signal;

const root = requireRoot();
const SIZE = 32 << 20;
const ROUNDS = 10;

const why = root ? kernelLacksProjectQuota('xfs') ?? kernelLacksProjectQuota('ext4') : 'needs root';
if (why && root && process.env['CORRAL_IN_VM'] === '1') throw new Error(`${why}: the VM's kernel must have project quotas`);
if (why && root) process.stderr.write(`skipped: project quotas: ${why}; the VM step runs these\n`);

// Runs one port call in a child process; resolves with its exit (signal when killed).
const CHILD = `
const [root, op, name, lower, size] = process.argv.slice(1);
const { overlayRootfsPort } = await import(${JSON.stringify(join(REPO, 'dist/drivers/overlay/index.js'))});
const port = overlayRootfsPort(root);
const spec = { name, rootfs: { kind: 'path', path: lower }, readOnlyRootfs: false, mounts: [], process: { user: { uid: 0, gid: 0, groups: [] }, userLookup: null }, storage: { sizeBytes: Number(size) } };
if (op === 'prepare') await port.prepare(name, spec); else if (op === 'remove') await port.remove(name);
`;

function child(args: string[], killAfterMs: number | null): Promise<{ code: number | null; signal: string | null; ms: number; stderr: string }> {
  const started = Date.now();
  const p = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = killAfterMs === null ? null : setTimeout(() => p.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) => p.once('exit', (code, signal) => {
    if (timer) clearTimeout(timer);
    resolve({ code, signal, ms: Date.now() - started, stderr });
  }));
}

function spec(name: string, lower: string, sizeBytes: number | null): ContainerSpec {
  return { name, rootfs: { kind: 'path', path: lower }, readOnlyRootfs: false, mounts: [], process: { user: { uid: 0, gid: 0, groups: [] }, userLookup: null }, storage: { sizeBytes } } as unknown as ContainerSpec;
}

/** An upper written before any limit: directories, files, symlinks, FIFOs. */
function fill(upper: string): void {
  for (let d = 0; d < 20; d++) {
    const dir = join(upper, `d${d}`, 'sub');
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 40; f++) writeFileSync(join(dir, `f${f}`), 'x'.repeat(2000));
    for (let s = 0; s < 5; s++) symlinkSync(`f${s}`, join(dir, `l${s}`));
    mkfifo(join(dir, 'fifo'), 0o644);
  }
}

/** Every directory and regular file below `dir` (and `dir`), with its project id and inherit flag. */
function untagged(dir: string, id: number): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      const x = readFsxattr(p)!;
      if (x.projid !== id || (x.xflags & FS_XFLAG_PROJINHERIT) === 0) out.push(p);
      for (const n of readdirSync(p)) {
        if (n.startsWith(RETAG_PREFIX)) out.push(`leftover ${join(p, n)}`);
        walk(join(p, n));
      }
    } else if (st.isFile() && readFsxattr(p, 'file')!.projid !== id) {
      out.push(p);
    }
  };
  walk(dir);
  return out;
}

(why ? describe.skip : describe)('a SIGKILL during the quota step', () => {
  let fs: LoopFs;
  let stateRoot: string;
  let lower: string;

  beforeAll(() => {
    const kind = kernelLacksProjectQuota('xfs') === null ? 'xfs' : 'ext4';
    fs = makeLoopFs(kind, 'quota-crash', kind === 'xfs' ? { options: ['prjquota'] } : { features: ['quota', 'project'], options: ['prjquota'] });
    stateRoot = join(fs.mountPoint, 'state');
    lower = join(fs.mountPoint, 'lower');
    mkdirSync(lower);
  });

  afterAll(() => {
    const mine = fs ? [fs] : [];
    removeLoopFilesystems();
    expect(leftovers(mine)).toEqual([]);
  });

  test('starts and removals killed at any point converge, with one id per container', async () => {
    const port = overlayRootfsPort(stateRoot);
    const names = ['c1', 'c2'];
    for (const name of names) fill((await port.prepare(name, spec(name, lower, null), NO_ABORT)).layout.upper);
    // How long a whole run takes here, to spread the kills over it.
    await port.prepare('c0', spec('c0', lower, null), NO_ABORT);
    fill(layout(stateRoot).container('c0').upper);
    const full = await child([stateRoot, 'prepare', 'c0', lower, String(SIZE)], null);
    expect(`${full.code} ${full.stderr}`).toBe('0 ');
    // Node and the driver loading take most of a child's time: spread the kills over the rest.
    const startup = (await child([stateRoot, 'noop', 'c0', lower, '0'], null)).ms;
    const span = Math.max(1, full.ms - startup);

    const seen = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const at = [(round + 0.5) / ROUNDS, (ROUNDS - round - 0.5) / ROUNDS].map((f) => Math.round(startup + f * span));
      await Promise.all(names.map((name, i) => child([stateRoot, 'prepare', name, lower, String(SIZE)], at[i]!)));
      const ids = readProjectTable(stateRoot).active.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const name of names) {
        const id = projectIdOf(stateRoot, name);
        const where = id === null ? 'before the id' : readRootfsRecord(stateRoot, name)?.projectId !== id ? 'during the walk' : 'after the walk';
        seen.set(where, (seen.get(where) ?? 0) + 1);
        // Forget that the walk finished, so that every round's kill can land in one.
        const { projectId: _done, ...record } = readRootfsRecord(stateRoot, name) ?? {};
        if (_done !== undefined) writeRootfsRecord(stateRoot, name, record as RootfsRecord);
      }
    }
    // Where the kills landed.
    process.stderr.write(`quota-crash: run ${full.ms} ms (startup ${startup} ms); killed ${[...seen].map(([k, n]) => `${n}× ${k}`).join(', ')}\n`);
    for (const name of names) expect((await child([stateRoot, 'prepare', name, lower, String(SIZE)], null)).code).toBe(0);

    const quota = probeQuotaSupport(stateRoot).quota!;
    const table = readProjectTable(stateRoot);
    expect(new Set(table.active.map((e) => e.id)).size).toBe(3);
    expect(readdirSync(quotaPaths(stateRoot).dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    for (const name of names) {
      const id = projectIdOf(stateRoot, name)!;
      const paths = layout(stateRoot).container(name);
      expect(untagged(paths.upper, id)).toEqual([]);
      expect(untagged(paths.work, id)).toEqual([]);
      expect(readRootfsRecord(stateRoot, name)?.projectId).toBe(id);
      expect(quota.usage(id)).toMatchObject({ hardLimitBytes: SIZE, softLimitBytes: SIZE });
      expect(quota.usage(id)!.usedBytes).toBeGreaterThan(20 * 40 * 2000);
      // symlinks and FIFOs too: moving them inside the tree would fail with EXDEV otherwise
      renameSync(join(paths.upper, 'd0/sub/l0'), join(paths.upper, 'd1/sub/moved-link'));
      renameSync(join(paths.upper, 'd0/sub/fifo'), join(paths.upper, 'd1/sub/moved-fifo'));
    }

    // removals killed early and late, then completed
    const id = projectIdOf(stateRoot, 'c1')!;
    for (const at of [1, Math.round(full.ms / 2)]) await child([stateRoot, 'remove', 'c1', lower, '0'], at);
    expect((await child([stateRoot, 'remove', 'c1', lower, '0'], null)).code).toBe(0);
    expect(projectIdOf(stateRoot, 'c1')).toBeNull();
    expect(readProjectTable(stateRoot).released).toContainEqual({ name: 'c1', id });
    expect(quota.usage(id)?.hardLimitBytes ?? 0).toBe(0);
    await port.remove('c2', NO_ABORT);
    await port.remove('c0', NO_ABORT);
    expect(readProjectTable(stateRoot).active).toEqual([]);
  }, 600_000);
});
