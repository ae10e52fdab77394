// Watches the manifest directory recursively with chokidar and reports "something may have
// changed" after the burst settles. Events carry no payload to the reconciler (level-triggered:
// it re-reads the directory). The directory may be removed and recreated (a `git clone` into
// place, `rm -rf` + checkout): its parent is watched too, and the watch is rebuilt.

import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Disposable } from '../errors.js';
import { eventMatters } from './filter.js';
import { DEFAULT_SETTLE, Settler, type SettleOptions } from './settle.js';

export interface WatchOptions {
  readonly settle?: SettleOptions;
  readonly onError?: (err: Error) => void;
}

export class ManifestWatcher implements Disposable {
  private tree: FSWatcher | undefined;
  private parent: FSWatcher | undefined;
  private readonly settler: Settler;
  private closed = false;

  /** @param onChange called once per settled burst, with the number of events in it */
  constructor(private readonly dir: string, onChange: (events: number) => void, private readonly options: WatchOptions = {}) {
    this.settler = new Settler(options.settle ?? DEFAULT_SETTLE, onChange);
  }

  /** Resolves once the initial scan is done, so changes made after it are seen. */
  async start(): Promise<void> {
    const parentDir = dirname(this.dir);
    const name = basename(this.dir);
    this.parent = watch(parentDir, {
      depth: 0,
      ignoreInitial: true,
      ignored: (path: string) => path !== parentDir && basename(path) !== name,
    });
    this.parent.on('addDir', () => {
      void this.watchTree().then(() => this.settler.poke());
    });
    this.parent.on('unlinkDir', () => {
      void this.tree?.close();
      this.tree = undefined;
      this.settler.poke();
    });
    this.parent.on('error', (err) => this.options.onError?.(err as Error));
    await new Promise<void>((resolve) => this.parent!.once('ready', () => resolve()));
    if (existsSync(this.dir)) await this.watchTree();
  }

  private async watchTree(): Promise<void> {
    if (this.closed) return;
    await this.tree?.close();
    const tree = watch(this.dir, {
      ignoreInitial: true,
      // Editors and git replace files by rename; chokidar folds such a delete+add into a change.
      atomic: true,
      followSymlinks: true,
      ignored: (path: string, stats) => !eventMatters(this.dir, path, stats?.isDirectory() ?? !/\.[^/]*$/.test(path)),
    });
    this.tree = tree;
    for (const event of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) tree.on(event, () => this.settler.poke());
    tree.on('error', (err) => this.options.onError?.(err as Error));
    await new Promise<void>((resolve) => tree.once('ready', () => resolve()));
  }

  dispose(): void {
    this.closed = true;
    this.settler.dispose();
    void this.tree?.close();
    void this.parent?.close();
  }
}
