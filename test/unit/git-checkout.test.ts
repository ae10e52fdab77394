// The manifest directory's git commit, read from git's files (src/inputs/git-checkout.ts), checked
// against what `git rev-parse` says: loose and packed refs, a detached HEAD, a branch without a
// commit, a subdirectory, a linked worktree, and the dirty flag.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { checkoutInProgress, findGitDirs, gitCheckout } from '../../src/inputs/git-checkout.js';

const base = mkdtempSync(join(tmpdir(), 'corral-gitinfo-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=ci@example.org', '-c', 'user.name=ci', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe', encoding: 'utf8' }).trim();
}

function repo(name: string): string {
  const dir = join(base, name);
  mkdirSync(join(dir, 'manifests'), { recursive: true });
  git(dir, 'init', '-q');
  writeFileSync(join(dir, 'manifests', 'a.yaml'), 'a: 1\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'one');
  return dir;
}

describe('git checkout of the manifest directory', () => {
  test('a loose ref, then the same after pack-refs; the path inside the work tree; clean', async () => {
    const dir = repo('loose');
    const head = git(dir, 'rev-parse', 'HEAD');
    expect(await gitCheckout(join(dir, 'manifests'))).toEqual({ workTree: dir, path: 'manifests', commit: head, ref: 'refs/heads/main', dirty: false });
    git(dir, 'pack-refs', '--all');
    expect((await gitCheckout(dir))!.commit).toBe(head);
    expect((await gitCheckout(dir))!.path).toBe('.');
  });

  test('dirty: a changed or an untracked file under the directory, not elsewhere', async () => {
    const dir = repo('dirty');
    writeFileSync(join(dir, 'README'), 'outside the manifests\n');
    expect((await gitCheckout(join(dir, 'manifests')))!.dirty).toBe(false);
    writeFileSync(join(dir, 'manifests', 'b.yaml'), 'b: 1\n');
    expect((await gitCheckout(join(dir, 'manifests')))!.dirty).toBe(true);
    expect((await gitCheckout(join(dir, 'manifests'), { dirty: false }))!.dirty).toBeNull();
  });

  test('detached HEAD, a new commit, a branch without commits', async () => {
    const dir = repo('detached');
    const first = git(dir, 'rev-parse', 'HEAD');
    writeFileSync(join(dir, 'manifests', 'a.yaml'), 'a: 2\n');
    git(dir, 'commit', '-qam', 'two');
    expect((await gitCheckout(dir))!.commit).toBe(git(dir, 'rev-parse', 'HEAD'));
    git(dir, 'checkout', '-q', '--detach', first);
    expect(await gitCheckout(dir, { dirty: false })).toMatchObject({ commit: first, ref: null });
    git(dir, 'checkout', '-q', '--orphan', 'empty');
    expect(await gitCheckout(dir, { dirty: false })).toMatchObject({ commit: null, ref: 'refs/heads/empty' });
  });

  test('a linked worktree: its own HEAD, the main repository\'s refs', async () => {
    const dir = repo('main-wt');
    git(dir, 'branch', 'other');
    writeFileSync(join(dir, 'manifests', 'a.yaml'), 'a: 3\n');
    git(dir, 'commit', '-qam', 'main moves on');
    git(dir, 'pack-refs', '--all');
    const wt = join(base, 'linked');
    git(dir, 'worktree', 'add', '-q', wt, 'other');
    const info = await gitCheckout(join(wt, 'manifests'));
    expect(info).toEqual({ workTree: wt, path: 'manifests', commit: git(wt, 'rev-parse', 'HEAD'), ref: 'refs/heads/other', dirty: false });
    expect(info!.commit).not.toBe(git(dir, 'rev-parse', 'HEAD'));
  });

  test('outside a work tree: null; index.lock tells a checkout in progress', async () => {
    const plain = join(base, 'plain');
    mkdirSync(plain);
    // tmpdir is not inside a repository on any machine that runs this.
    expect(await gitCheckout(plain)).toBeNull();
    const dir = repo('locked');
    const dirs = findGitDirs(join(dir, 'manifests'))!;
    expect(checkoutInProgress(dirs)).toBe(false);
    writeFileSync(join(dir, '.git', 'index.lock'), '');
    expect(checkoutInProgress(dirs)).toBe(true);
  });
});
