// One flock for the image store: an import (which may reuse a layer it saw on disk), `image rm`
// and the layer phase of GC must not interleave, or GC could delete a layer between an import
// deciding to reuse it and writing the record that references it.

import { closeSync, openSync } from 'node:fs';
import { CorralError } from '../../../errors.js';
import { flockWithTimeout, tryFlock } from '../../../sys/flock.js';
import { layout } from '../../../state/layout.js';
import { ensureDir, fsStep } from '../fs-util.js';

function openLock(root: string): { fd: number; path: string } {
  const l = layout(root);
  ensureDir(l.imagesDir);
  const fd = fsStep(`open the image store lock \`${l.imagesLock}\``, () => openSync(l.imagesLock, 'a', 0o600));
  return { fd, path: l.imagesLock };
}

/** Runs `fn` holding the store lock, waiting up to `timeoutMs` for it. */
export async function withStoreLock<T>(root: string, fn: () => Promise<T> | T, timeoutMs = 10 * 60_000): Promise<T> {
  const { fd, path } = openLock(root);
  try {
    if (!(await flockWithTimeout(fd, path, timeoutMs))) {
      throw new CorralError('STATE_LOCKED', `the image store lock \`${path}\` is held by another corral (an import, image rm or gc)`, { hint: 'wait for it to finish' });
    }
    return await fn();
  } finally {
    closeSync(fd); // closing the descriptor releases the flock
  }
}

/** Runs `fn` under the lock when it is free right now; returns undefined when it is not. */
export async function whenStoreLockFree<T>(root: string, fn: () => Promise<T> | T): Promise<T | undefined> {
  const { fd, path } = openLock(root);
  try {
    if (!tryFlock(fd, path)) return undefined;
    return await fn();
  } finally {
    closeSync(fd);
  }
}
