import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { ManifestWatcher } from '../../src/watch/watcher.js';

const base = mkdtempSync(join(tmpdir(), 'corral-watch-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const watchers: ManifestWatcher[] = [];
afterEach(() => watchers.splice(0).forEach((w) => w.dispose()));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

async function watched(name: string, prepare?: (dir: string) => void): Promise<{ dir: string; bursts: number[]; watcher: ManifestWatcher }> {
  const dir = join(base, name);
  if (prepare) prepare(dir);
  else mkdirSync(dir, { recursive: true });
  const bursts: number[] = [];
  const w = new ManifestWatcher(dir, (n) => bursts.push(n), { settle: { quietMs: 150, maxWaitMs: 3000 } });
  watchers.push(w);
  await w.start();
  return { dir, bursts, watcher: w };
}

describe('manifest watcher', () => {
  test('100 quick writes settle into at most 3 notifications', async () => {
    const { dir, bursts } = await watched('burst');
    for (let i = 0; i < 100; i++) writeFileSync(join(dir, `m${i % 10}.yaml`), `# ${i}\n`);
    await until(() => bursts.length > 0);
    await sleep(600);
    expect(bursts.length).toBeGreaterThanOrEqual(1);
    expect(bursts.length).toBeLessThanOrEqual(3);
  });

  test('ignored files wake nothing', async () => {
    const { dir, bursts } = await watched('ignored');
    writeFileSync(join(dir, '.web.yaml.swp'), 'x');
    writeFileSync(join(dir, 'web.yaml~'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    mkdirSync(join(dir, '.git'));
    writeFileSync(join(dir, '.git', 'HEAD'), 'x');
    await sleep(600);
    expect(bursts).toEqual([]);
  });

  test('an editor-style atomic save (write temp, rename over) is noticed', async () => {
    const { dir, bursts } = await watched('atomic');
    writeFileSync(join(dir, 'web.yaml'), 'a: 1\n');
    await until(() => bursts.length === 1);
    writeFileSync(join(dir, '.web.yaml.tmp'), 'a: 2\n');
    renameSync(join(dir, '.web.yaml.tmp'), join(dir, 'web.yaml'));
    await until(() => bursts.length === 2);
  });

  test('a delete and re-create inside the settle window is one notification', async () => {
    const { dir, bursts } = await watched('recreate');
    writeFileSync(join(dir, 'web.yaml'), 'a: 1\n');
    await until(() => bursts.length === 1);
    unlinkSync(join(dir, 'web.yaml'));
    writeFileSync(join(dir, 'web.yaml'), 'a: 1\n');
    await until(() => bursts.length === 2);
    await sleep(500);
    expect(bursts.length).toBe(2);
  });

  test('the watch survives the directory being removed and recreated', async () => {
    const { dir, bursts } = await watched('vanish');
    rmSync(dir, { recursive: true });
    await until(() => bursts.length === 1);
    mkdirSync(dir);
    await until(() => bursts.length === 2);
    await sleep(300);
    writeFileSync(join(dir, 'web.yaml'), 'a: 1\n');
    await until(() => bursts.length === 3);
  });

  test('a git checkout of another branch is one or two notifications', async () => {
    const { dir, bursts } = await watched('git');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: dir, stdio: 'ignore' });
    git('init', '-q', '-b', 'main');
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, `c${i}.yaml`), `# ${i}\n`);
    git('add', '.');
    git('commit', '-qm', 'one');
    git('checkout', '-qb', 'other');
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, `c${i}.yaml`), `# other ${i}\n`);
    git('commit', '-qam', 'two');
    await sleep(600);
    const before = bursts.length;
    git('checkout', '-q', 'main');
    await until(() => bursts.length > before);
    await sleep(600);
    expect(bursts.length - before).toBeLessThanOrEqual(2);
  });

  test('one watch per directory, none per file: 300 manifests in 3 directories are 3 watches', async () => {
    const { dir, bursts, watcher } = await watched('many', (d) => {
      for (const sub of ['', 'a', 'a/b']) {
        mkdirSync(join(d, sub), { recursive: true });
        for (let i = 0; i < 100; i++) writeFileSync(join(d, sub, `c${i}.yaml`), `# ${i}\n`);
      }
    });
    expect(watcher.watchCount).toBe(3);
    writeFileSync(join(dir, 'a', 'b', 'c7.yaml'), '# edited\n');
    await until(() => bursts.length === 1);
  });

  test('a directory made after the start is watched, and one removed is let go', async () => {
    const { dir, bursts, watcher } = await watched('late-dir');
    mkdirSync(join(dir, 'team', 'web'), { recursive: true });
    await until(() => bursts.length === 1);
    await sleep(200);
    expect(watcher.watchCount).toBe(3);
    writeFileSync(join(dir, 'team', 'web', 'web.yaml'), 'a: 1\n');
    await until(() => bursts.length === 2);
    rmSync(join(dir, 'team'), { recursive: true });
    await until(() => bursts.length === 3);
    expect(watcher.watchCount).toBe(1);
  });

  test('a symlinked manifest is noticed when the file it leads to changes, wherever it lives', async () => {
    const outside = join(base, 'outside');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'shared.yaml'), 'a: 1\n');
    const { bursts } = await watched('linked-file', (d) => {
      mkdirSync(d, { recursive: true });
      symlinkSync(join(outside, 'shared.yaml'), join(d, 'shared.yaml'));
    });
    writeFileSync(join(outside, 'shared.yaml'), 'a: 2\n');
    await until(() => bursts.length === 1);
  });

  test('the directory as a symlink flipped to another checkout (ln -sfn): noticed, and the new one watched', async () => {
    const releases = join(base, 'releases');
    mkdirSync(join(releases, 'r1'), { recursive: true });
    mkdirSync(join(releases, 'r2'), { recursive: true });
    writeFileSync(join(releases, 'r1', 'web.yaml'), 'a: 1\n');
    writeFileSync(join(releases, 'r2', 'web.yaml'), 'a: 2\n');
    const { dir, bursts } = await watched('current', (d) => symlinkSync(join(releases, 'r1'), d));
    symlinkSync(join(releases, 'r2'), `${dir}.tmp`);
    renameSync(`${dir}.tmp`, dir);
    await until(() => bursts.length === 1);
    await sleep(300);
    writeFileSync(join(releases, 'r2', 'web.yaml'), 'a: 3\n');
    await until(() => bursts.length === 2);
    writeFileSync(join(releases, 'r1', 'web.yaml'), 'a: 4\n');
    await sleep(600);
    expect(bursts.length).toBe(2);
  });

  test('a parent that does not exist is an error the caller sees', async () => {
    const w = new ManifestWatcher(join(base, 'no', 'such', 'dir'), () => undefined);
    watchers.push(w);
    await expect(w.start()).rejects.toThrow(/cannot watch/);
  });

  test('its generation moves with every event that may matter, and only then; null when it cannot vouch', async () => {
    const dir = join(base, 'generation');
    mkdirSync(dir, { recursive: true });
    const w = new ManifestWatcher(dir, () => undefined, { settle: { quietMs: 50, maxWaitMs: 1000 } });
    watchers.push(w);
    expect(w.generation).toBeNull();
    await w.start();
    const g0 = w.generation;
    expect(typeof g0).toBe('number');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    writeFileSync(join(dir, '.web.yaml.swp'), 'x');
    await sleep(300);
    expect(w.generation).toBe(g0);
    writeFileSync(join(dir, 'web.yaml'), 'a: 1\n');
    await until(() => w.generation !== g0);
    const g1 = w.generation;
    await sleep(300);
    expect(w.generation).toBe(g1);
    w.dispose();
    expect(w.generation).toBeNull();
  });

  test('a symlink loop in the tree is followed once: the start ends, one watch per real directory', async () => {
    const { dir, bursts, watcher } = await watched('loop', (d) => {
      mkdirSync(join(d, 'team', 'nested'), { recursive: true });
      symlinkSync(join(d, 'team'), join(d, 'team', 'nested', 'back'));
      symlinkSync(d, join(d, 'root-again'));
    });
    expect(watcher.watchCount).toBe(3);
    // A new loop made while watching is followed once too.
    symlinkSync(join(dir, 'team'), join(dir, 'team', 'again'));
    await until(() => bursts.length === 1);
    expect(watcher.watchCount).toBe(3);
    writeFileSync(join(dir, 'team', 'nested', 'web.yaml'), 'a: 1\n');
    await until(() => bursts.length === 2);
  });
});
