// The leaked-fd / working-directory class (CVE-2024-21626): a manifest, an image config or
// `exec -w` naming /proc/self/fd/N (or another magic link) as the working directory must never
// leave the payload's cwd in a host directory; nothing of the runtime is open in the container.

import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execShim } from '../../src/drivers/namespaces/shim.js';
import { buildExecSpec } from '../../src/drivers/namespaces/spec.js';
import { start, stop, type RuntimeRecord } from '../../src/drivers/namespaces/runtime.js';
import { NO_DEFAULTS } from '../../src/drivers/overlay/image-defaults.js';
import { hasCode } from '../../src/errors.js';
import { isShimError } from '../../src/drivers/namespaces/shim-error.js';
import { requireRoot } from '../support/root.js';
import { makeHarness, mountsLeaked, specOf, type Harness } from '../drivers/namespaces/harness.js';
import { exploitDir } from './build.js';
import { expectContained, parseResults, tally, type Result } from './results.js';

const FDS = Array.from({ length: 18 }, (_, i) => i + 3);

/**
 * Refused before the payload ran, with a typed error naming the working directory: an fd that is
 * open is a magic link (CONTAINER_PATH_UNSAFE); one that is not open does not exist (ENOENT).
 */
function refused(err: unknown): boolean {
  return hasCode(err, 'CONTAINER_PATH_UNSAFE') || (isShimError(err) && err.stage === 'workdir' && err.errnoName === 'ENOENT');
}

const root = requireRoot();
(root ? describe : describe.skip)('attack: leaked fds and the working directory', () => {
  let h: Harness;
  let bin: string;
  let marker: string;
  const all: Result[] = [];
  const mount = (): string => `mounts: [{type: bind, source: ${bin}, target: /x, readOnly: true}]`;

  beforeAll(() => {
    h = makeHarness('sec-fds');
    bin = exploitDir();
    // A file only the host has: where the runtime's own directories are.
    marker = join(h.fs.root, `host-marker-${process.pid}`);
    writeFileSync(marker, 'host\n');
    // Symlinks an image could carry, pointing "out" of its root.
    mkdirSync(join(h.fs.lower, 'links'), { recursive: true });
    symlinkSync('../../../../../../../..', join(h.fs.lower, 'links/up'));
    symlinkSync('/proc/self/fd/3', join(h.fs.lower, 'links/fd3'));
  });
  afterAll(async () => {
    tally('fds/workdir', all);
    await h?.cleanup();
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('manifest workingDir /proc/self/fd/N, N = 3..20: refused by validate, and by the runtime', async () => {
    for (const n of FDS) {
      // validate refuses it first (MANIFEST_PATH_TRICK); the runtime must hold on its own too.
      await expect(specOf(`wd${n}`, `workingDir: /proc/self/fd/${n}\ncommand: [/bin/true]`)).rejects.toThrow(/workingDir `\/proc\/self\/fd\/\d+` is under `\/proc`/);
      const valid = await specOf(`wd${n}`, `${mount()}\ncommand: [/x/exploit, fds, ${marker}]`);
      const spec = { ...valid, process: { ...valid.process, workingDir: `/proc/self/fd/${n}` } };
      const err = await start(h.spawnSpec(spec)).then((record) => record, (e: unknown) => e);
      if (!refused(err)) {
        // Not refused: the payload ran; what it saw decides.
        const out = await h.run(spec);
        all.push(...parseResults(out.stdout));
        expectContained(parseResults(out.stdout), ['cwd-climb', 'marker-visible', 'leaked-fd']);
      }
      expect(`fd ${n}: ${refused(err)}`).toBe(`fd ${n}: true`);
      all.push({ name: `manifest-workdir-fd${n}`, verdict: 'BLOCKED', detail: String((err as Error).message) });
    }
  });

  test('image config WorkingDir /proc/self/fd/N, N = 3..20, and other magic links: refused', async () => {
    const dirs = [...FDS.map((n) => `/proc/self/fd/${n}`), '/proc/self/cwd', '/proc/1/root', '/proc/self/root/..', '/links/fd3'];
    for (const wd of dirs) {
      const spec = await specOf('imgwd', `${mount()}\ncommand: [/x/exploit, fds, ${marker}]`);
      const err = await start(h.spawnSpec(spec, { image: { ...NO_DEFAULTS, workingDir: wd } })).then((r) => r, (e: unknown) => e);
      expect(`${wd}: ${refused(err)}`).toBe(`${wd}: true`);
      all.push({ name: `image-workdir:${wd}`, verdict: 'BLOCKED', detail: String((err as Error).message) });
    }
  });

  test('working directories that climb stay inside the root, and nothing of the runtime is open', async () => {
    for (const wd of ['../../../../..', '/links/up', 'links/up/tmp']) {
      const spec = await specOf('climb', `${mount()}\ncommand: [/x/exploit, fds, ${marker}]`);
      const out = await h.run(spec, { image: { ...NO_DEFAULTS, workingDir: wd } });
      const results = parseResults(out.stdout);
      all.push(...results);
      expect(out.stdout).toMatch(/^cwd=\//);
      expectContained(results, ['cwd-climb', 'marker-visible', 'leaked-fd', 'shadow-via-cwd']);
    }
  });

  test('exec -w /proc/self/fd/N, N = 3..20: refused; exec sees no runtime fd', async () => {
    const spec = await specOf('execwd', `${mount()}\ncommand: [/bin/sh, -c, 'trap "exit 0" TERM; sleep 100000 & wait']`);
    const record: RuntimeRecord = await start(h.spawnSpec(spec));
    try {
      for (const n of FDS) {
        const err = await execShim(buildExecSpec(spec, null, h.cg.procs, { argv: ['/x/exploit', 'fds', marker], cwd: `/proc/self/fd/${n}` }, process.arch), record.init, {
          stdio: ['ignore', 'pipe', 'pipe'],
        }).then((r) => r, (e: unknown) => e);
        expect(`fd ${n}: ${refused(err)}`).toBe(`fd ${n}: true`);
        all.push({ name: `exec-workdir-fd${n}`, verdict: 'BLOCKED', detail: String((err as Error).message) });
      }
      let stdout = '';
      const r = await execShim(buildExecSpec(spec, null, h.cg.procs, { argv: ['/x/exploit', 'fds', marker], cwd: '/tmp' }, process.arch), record.init, {
        stdio: ['ignore', 'pipe', 'pipe'],
        onSpawn: (c: ChildProcess) => c.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); }),
      });
      expect(r.exitCode).toBe(0);
      const results = parseResults(stdout);
      all.push(...results);
      expectContained(results, ['cwd-climb', 'marker-visible', 'leaked-fd', 'shadow-via-cwd']);
    } finally {
      await stop(record, { timeoutMs: 5000, killAll: () => h.cg.killAll() });
    }
  });

  afterAll(() => rmSync(marker, { force: true }));
});
