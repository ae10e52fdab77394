// Watches the manifest directory recursively and reports "something may have changed" after the
// burst settles. Events carry no payload to the reconciler (level-triggered: it re-reads the
// directory). The directory may be removed and recreated (a `git clone` into place, `rm -rf` +
// checkout) or be a symlink flipped to another checkout: its parent is watched too, and the watch
// is rebuilt.
//
// One inotify watch per directory, none per file: Linux reports a directory's entries being
// created, written, renamed and removed on the directory's own watch. (chokidar, used before,
// watches every file besides its directory: 500 manifests cost the agent 500 inotify watches,
// 1.5 MB of heap and several MB of resident memory; docs/architecture.md, "What an idle agent
// costs".) The one exception is a symlinked manifest: its target may live in a directory not
// watched, so the target file gets a watch of its own.

import { lstatSync, readdirSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Disposable } from '../errors.js';
import { eventMatters } from './filter.js';
import { DEFAULT_SETTLE, Settler, type SettleOptions } from './settle.js';

export interface WatchOptions {
  readonly settle?: SettleOptions;
  readonly onError?: (err: Error) => void;
}

export class ManifestWatcher implements Disposable {
  private parent: FSWatcher | undefined;
  /** Watched path (a directory of the tree, or a symlinked file's path) → its watch. */
  private readonly watches = new Map<string, { readonly watcher: FSWatcher; readonly real: string }>();
  private readonly settler: Settler;
  private closed = false;
  private started = false;
  /** A watch failed (other than a directory vanishing under it): events may be missed from now on. */
  private failed = false;
  private changes = 0;

  /** @param onChange called once per settled burst, with the number of events in it */
  constructor(private readonly dir: string, onChange: (events: number) => void, private readonly options: WatchOptions = {}) {
    this.settler = new Settler(options.settle ?? DEFAULT_SETTLE, onChange);
  }

  /** Resolves once every directory is watched, so changes made after it are seen. */
  async start(): Promise<void> {
    const name = basename(this.dir);
    const parentDir = dirname(this.dir);
    this.parent = this.open(parentDir, (_event, entry) => {
      if (entry !== null && entry !== name) return;
      // Created, removed, renamed into place or a symlink flipped: the tree is rebuilt either way.
      this.closeTree();
      this.watchTree(this.dir, new Set());
      this.poke();
    });
    if (!this.parent) throw new Error(`cannot watch \`${parentDir}\` for the manifest directory appearing or going`);
    this.watchTree(this.dir, new Set());
    this.started = true;
  }

  /**
   * A number that moves whenever an event that may matter arrives (before its burst settles), or
   * null while the watch cannot vouch for the tree (not started, closed, or a watch failed). Equal
   * values at two moments mean nothing this watch can see changed in between.
   */
  get generation(): number | null {
    return this.started && !this.closed && !this.failed ? this.changes : null;
  }

  private poke(): void {
    this.changes++;
    this.settler.poke();
  }

  /** Watches `path` and every directory below it that the loader would read (symlinks followed once). */
  private watchTree(path: string, seen: Set<string>): void {
    if (this.closed || this.watches.has(path)) return;
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      return; // gone already; its parent's event brought us here or will
    }
    if (seen.has(real)) return;
    seen.add(real);
    const watcher = this.open(path, (_event, entry) => this.onEntry(path, entry));
    if (!watcher) return;
    this.watches.set(path, { watcher, real });
    let entries;
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) {
        if (eventMatters(this.dir, child, true)) this.watchTree(child, seen);
      } else if (entry.isSymbolicLink()) {
        this.watchLink(child, seen);
      }
    }
  }

  /** A symlink: followed into a directory, or its target file watched. */
  private watchLink(path: string, seen: Set<string>): void {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      return; // dangling: the loader skips it too, and its directory's watch sees it change
    }
    if (!eventMatters(this.dir, path, isDirectory) || this.watches.has(path)) return;
    if (isDirectory) return this.watchTree(path, seen);
    const watcher = this.open(path, () => this.poke());
    if (watcher) this.watches.set(path, { watcher, real: path });
  }

  /** An event inside watched directory `dir`; `entry` is the name it concerns (null: unknown). */
  private onEntry(dir: string, entry: string | null): void {
    if (entry === null) {
      this.poke();
      return;
    }
    const path = join(dir, entry);
    let isDirectory: boolean;
    let exists = true;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      exists = false;
      isDirectory = this.watches.has(path) || !/\.[^/]*$/.test(entry);
    }
    if (!eventMatters(this.dir, path, isDirectory)) return;
    if (!exists) this.closeBelow(path);
    else if (isDirectory) this.watchTree(path, new Set([...this.watches.values()].map((w) => w.real)));
    else this.watchLinkIfAny(path);
    this.poke();
  }

  private watchLinkIfAny(path: string): void {
    const old = this.watches.get(path);
    if (old) {
      // A symlinked file replaced or repointed: watch what it leads to now.
      old.watcher.close();
      this.watches.delete(path);
    }
    try {
      if (lstatSync(path).isSymbolicLink()) this.watchLink(path, new Set());
    } catch {
      // gone again
    }
  }

  private open(path: string, listener: (event: string, entry: string | null) => void): FSWatcher | undefined {
    try {
      const watcher = watch(path, { persistent: true }, (event, entry) => listener(event, entry));
      watcher.on('error', (err) => {
        this.failed = true;
        this.options.onError?.(err);
        watcher.close();
        for (const [p, w] of this.watches) if (w.watcher === watcher) this.watches.delete(p);
      });
      return watcher;
    } catch (err) {
      // ENOENT is a race with a removal (its parent's event follows); anything else (ENOSPC: the
      // inotify watch limit) is worth an operator's attention. The resync still picks edits up.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.failed = true;
        this.options.onError?.(err as Error);
      }
      return undefined;
    }
  }

  private closeBelow(path: string): void {
    for (const [p, w] of this.watches) {
      if (p === path || p.startsWith(`${path}/`)) {
        w.watcher.close();
        this.watches.delete(p);
      }
    }
  }

  private closeTree(): void {
    for (const w of this.watches.values()) w.watcher.close();
    this.watches.clear();
  }

  /** How many inotify watches the tree holds (for tests: one per directory). */
  get watchCount(): number {
    return this.watches.size;
  }

  dispose(): void {
    this.closed = true;
    this.settler.dispose();
    this.closeTree();
    this.parent?.close();
  }
}
