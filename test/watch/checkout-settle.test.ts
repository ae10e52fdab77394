// A git checkout is one settled change (src/watch/settle.ts › hold): a `git pull` rewriting many
// files notifies once, and a checkout slower than the settle's longest wait (simulated: git's
// index.lock held while files are written for longer than maxWaitMs) notifies once, after its
// last file, never half-way.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { checkoutInProgress, findGitDirs } from '../../src/inputs/git-checkout.js';
import { ManifestWatcher } from '../../src/watch/watcher.js';

const base = mkdtempSync(join(tmpdir(), 'corral-checkout-settle-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const watchers: ManifestWatcher[] = [];
afterEach(() => watchers.splice(0).forEach((w) => w.dispose()));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=ci@example.org', '-c', 'user.name=ci', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe', encoding: 'utf8' }).trim();
}

async function watch(dir: string, maxHoldMs?: number): Promise<Array<{ at: number; files: number }>> {
  const bursts: Array<{ at: number; files: number }> = [];
  const hold = () => {
    const dirs = findGitDirs(dir);
    return dirs !== null && checkoutInProgress(dirs);
  };
  const w = new ManifestWatcher(dir, () => bursts.push({ at: Date.now(), files: execFileSync('ls', [dir], { encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.yaml')).length }), {
    settle: { quietMs: 100, maxWaitMs: 1000, hold, ...(maxHoldMs === undefined ? {} : { maxHoldMs }) },
  });
  watchers.push(w);
  await w.start();
  return bursts;
}

describe('a git checkout settles into one notification', () => {
  test('git pull --ff-only of a commit that rewrites 60 manifests', async () => {
    const origin = join(base, 'origin');
    git(base, 'init', '-q', origin);
    for (let i = 0; i < 60; i++) writeFileSync(join(origin, `m${i}.yaml`), `n: ${i}\n`);
    git(origin, 'add', '.');
    git(origin, 'commit', '-qm', 'one');
    const clone = join(base, 'clone');
    git(base, 'clone', '-q', origin, clone);
    const bursts = await watch(clone);
    for (let i = 0; i < 60; i++) writeFileSync(join(origin, `m${i}.yaml`), `n: ${i + 100}\n`);
    git(origin, 'commit', '-qam', 'two');
    git(clone, 'pull', '-q', '--ff-only');
    await sleep(1500);
    expect(bursts.length).toBe(1);
  });

  test('a checkout slower than maxWaitMs: one notification after the lock goes, with every file', async () => {
    const dir = join(base, 'slow');
    git(base, 'init', '-q', dir);
    const bursts = await watch(dir);
    // What git does during a long checkout: the lock first, then the files, then the new index.
    writeFileSync(join(dir, '.git', 'index.lock'), '');
    const start = Date.now();
    for (let i = 0; i < 25; i++) {
      writeFileSync(join(dir, `s${i}.yaml`), `n: ${i}\n`);
      await sleep(100);
    }
    await sleep(500);
    expect(bursts).toEqual([]);
    unlinkSync(join(dir, '.git', 'index.lock'));
    const released = Date.now();
    await sleep(800);
    expect(bursts.length).toBe(1);
    expect(bursts[0]!.files).toBe(25);
    expect(bursts[0]!.at).toBeGreaterThanOrEqual(released);
    expect(released - start).toBeGreaterThan(2500);
  });

  test('a stale index.lock delays a change at most maxHoldMs', async () => {
    const dir = join(base, 'stale');
    git(base, 'init', '-q', dir);
    const bursts = await watch(dir, 800);
    writeFileSync(join(dir, '.git', 'index.lock'), '');
    const start = Date.now();
    writeFileSync(join(dir, 'a.yaml'), 'a: 1\n');
    for (let i = 0; i < 60 && bursts.length === 0; i++) await sleep(50);
    expect(bursts.length).toBe(1);
    expect(bursts[0]!.at - start).toBeGreaterThanOrEqual(800);
  });
});
