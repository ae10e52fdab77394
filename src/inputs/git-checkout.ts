// Which commit of a git repository the manifest directory holds, for `corral status` and fleet
// views ("host web-3 runs commit 4f1c…"). Read from git's own files, no `git` process: HEAD, a
// loose ref or packed-refs, through the `.git` file of a linked worktree or a submodule. Whether
// the tree is dirty needs the index compared with the files, which only git does well: that one
// question asks `git status` (without the optional index lock, so it never makes an operator's
// `git pull` fail), and is left unknown when git is not installed.
//
// A repository this reader does not understand (the reftable ref format) gives `commit: null`,
// never an error: the commit only informs, nothing is decided on it.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';

export interface GitCheckout {
  /** The work tree's top directory. */
  readonly workTree: string;
  /** The manifest directory relative to the work tree (`.` when it is the top). */
  readonly path: string;
  /** HEAD's commit (40 or 64 hex digits); null for a branch with no commit yet or refs this reader cannot read. */
  readonly commit: string | null;
  /** The branch HEAD names (`refs/heads/main`); null when HEAD is detached. */
  readonly ref: string | null;
  /** Uncommitted changes under the manifest directory (untracked files included); null when unknown. */
  readonly dirty: boolean | null;
}

export interface GitDirs {
  readonly workTree: string;
  /** This work tree's git directory: HEAD, index and index.lock live here. */
  readonly gitDir: string;
  /** Where refs and packed-refs live (a linked worktree shares its main repository's). */
  readonly commonDir: string;
}

/** The git directories of the work tree that holds `dir`, looking upwards; null outside one. */
export function findGitDirs(dir: string): GitDirs | null {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const dotGit = join(at, '.git');
    let gitDir: string | null = null;
    try {
      const st = statSync(dotGit);
      if (st.isDirectory()) gitDir = dotGit;
      else if (st.isFile()) {
        // A linked worktree or a submodule: `gitdir: <path>`, relative to the file's directory.
        const m = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(dotGit, 'utf8'));
        if (m) gitDir = isAbsolute(m[1]!) ? m[1]! : resolve(at, m[1]!);
      }
    } catch {
      // No .git here: look further up.
    }
    if (gitDir !== null && existsSync(join(gitDir, 'HEAD'))) {
      let commonDir = gitDir;
      try {
        const common = readFileSync(join(gitDir, 'commondir'), 'utf8').trim();
        if (common) commonDir = isAbsolute(common) ? common : resolve(gitDir, common);
      } catch {
        // Not a linked worktree.
      }
      return { workTree: at, gitDir, commonDir };
    }
    if (dirname(at) === at) return null;
  }
}

const HASH = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** A ref's commit, following symbolic refs a few levels; null when it does not exist (yet). */
export function resolveRef(dirs: GitDirs, ref: string, depth = 0): string | null {
  if (depth > 5) return null;
  // Per-worktree refs (HEAD, refs/bisect, refs/worktree) sit in the worktree's own directory.
  for (const base of ref.startsWith('refs/') && !ref.startsWith('refs/worktree/') && !ref.startsWith('refs/bisect/') ? [dirs.commonDir] : [dirs.gitDir, dirs.commonDir]) {
    let text: string;
    try {
      text = readFileSync(join(base, ref), 'utf8').trim();
    } catch {
      continue;
    }
    if (HASH.test(text)) return text;
    const sym = /^ref:\s*(\S+)$/.exec(text);
    return sym ? resolveRef(dirs, sym[1]!, depth + 1) : null;
  }
  try {
    // `<hash> <ref>` lines; `#` is the header and `^<hash>` the peeled tag of the line before.
    for (const line of readFileSync(join(dirs.commonDir, 'packed-refs'), 'utf8').split('\n')) {
      const [hash, name] = line.split(' ');
      if (name === ref && hash && HASH.test(hash)) return hash;
    }
  } catch {
    // No packed refs.
  }
  return null;
}

/** HEAD's branch and commit, from the files alone. */
export function readHead(dirs: GitDirs): { ref: string | null; commit: string | null } {
  let head: string;
  try {
    head = readFileSync(join(dirs.gitDir, 'HEAD'), 'utf8').trim();
  } catch {
    return { ref: null, commit: null };
  }
  if (HASH.test(head)) return { ref: null, commit: head };
  const sym = /^ref:\s*(\S+)$/.exec(head);
  if (!sym) return { ref: null, commit: null };
  return { ref: sym[1]!, commit: resolveRef(dirs, sym[1]!) };
}

/** `git status` for the directory: true when anything under it differs from HEAD; null when it cannot tell. */
export function isDirty(workTree: string, path: string, timeoutMs = 5000): Promise<boolean | null> {
  return new Promise((done) => {
    execFile('git', [
      // Never take the index lock (a concurrent `git pull` would fail on it), and trust this
      // repository whoever owns it: the agent runs as root over a checkout another user pulls.
      '--no-optional-locks', '-c', `safe.directory=${workTree}`, '-C', workTree,
      'status', '--porcelain', '--untracked-files=normal', '--', path,
    ], { timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => done(err ? null : stdout.trim() !== ''));
  });
}

/** The checkout that holds the manifest directory, or null when it is not in a git work tree. */
export async function gitCheckout(manifestDir: string, options: { dirty?: boolean } = {}): Promise<GitCheckout | null> {
  const dirs = findGitDirs(manifestDir);
  if (!dirs) return null;
  const head = readHead(dirs);
  const path = relative(dirs.workTree, resolve(manifestDir)) || '.';
  return { workTree: dirs.workTree, path, ...head, dirty: options.dirty === false ? null : await isDirty(dirs.workTree, path) };
}

/**
 * True while a git command is rewriting the work tree: git holds `index.lock` from before the
 * first file it writes until the new index is in place. A pass that read the directory now would
 * see half of a checkout.
 */
export function checkoutInProgress(dirs: GitDirs): boolean {
  return existsSync(join(dirs.gitDir, 'index.lock'));
}
