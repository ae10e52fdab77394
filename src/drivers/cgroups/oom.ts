// OOM notification.
//
// v2: `memory.events` is a kernfs file the kernel "modifies" (inotify IN_MODIFY) whenever one of its
//     counters moves, so fs.watch wakes us with no polling; the `oom_kill` counter says whether the
//     event was a kill (the file also moves for `max` and `high` events).
// v1: the kernel signals an eventfd registered through `cgroup.event_control` against
//     `memory.oom_control`. Node cannot wait on an arbitrary fd without a native addon, and a
//     blocking read would pin a thread and hang process exit (docs/architecture.md, "Calling the
//     kernel from Node"), so the eventfd is non-blocking and read every POLL_MS; its counter
//     accumulates, so no event is lost between reads. The kernel also signals it when the cgroup
//     is removed, which ends the watch. The eventfd fires for OOM in the cgroup whose limit is hit
//     (the container's), but v1 counts each kill in the victim's own cgroup (a leaf): the counter
//     read is the sum over both.

import { closeSync, openSync, readSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../errors.js';
import { eventfd } from '../../sys/eventfd.js';
import { parseFlatKeyed } from './convert.js';
import { describeFsError, errnoOf, readKnobSync } from './knob.js';
import type { Disposable, OomEvent } from './types.js';

export const V1_OOM_POLL_MS = 100;

function counter(dir: string, file: string): number | null {
  const text = readKnobSync(dir, file);
  return text === null ? null : parseFlatKeyed(text).get('oom_kill') ?? 0;
}

/** Calls the listener when the counter grew since the last look; returns false once the cgroup is gone. */
function notifier(count: () => number | null, name: string, listener: (e: OomEvent) => void): () => boolean {
  let last = count() ?? 0;
  return () => {
    const now = count();
    if (now === null) return false;
    if (now > last) {
      last = now;
      listener({ name, oomKills: now });
    }
    return true;
  };
}

export function watchOomV2(dir: string, name: string, listener: (e: OomEvent) => void): Disposable {
  const check = notifier(() => counter(dir, 'memory.events'), name, listener);
  let watcher: FSWatcher | undefined;
  const close = (): void => {
    watcher?.close();
    watcher = undefined;
  };
  try {
    watcher = watch(join(dir, 'memory.events'), { persistent: false }, () => {
      if (!check()) close();
    });
  } catch (err) {
    throw new CorralError('CGROUP_READ_FAILED', `watch \`${join(dir, 'memory.events')}\`: ${describeFsError(err)}`, { cause: err });
  }
  watcher.on('error', close);
  return { close };
}

/** `leaves`: cgroups below `dir` whose kills count too (see above). */
export function watchOomV1(dir: string, name: string, listener: (e: OomEvent) => void, leaves: readonly string[] = []): Disposable {
  const efd = eventfd();
  let ofd = -1;
  try {
    ofd = openSync(join(dir, 'memory.oom_control'), 'r');
    writeFileSync(join(dir, 'cgroup.event_control'), `${efd} ${ofd}`);
  } catch (err) {
    if (ofd >= 0) closeSync(ofd);
    closeSync(efd);
    throw new CorralError('CGROUP_WRITE_FAILED', `register an OOM eventfd in \`${join(dir, 'cgroup.event_control')}\`: ${describeFsError(err)}`, { cause: err });
  }
  const check = notifier(() => {
    const own = counter(dir, 'memory.oom_control');
    return own === null ? null : leaves.reduce((sum, leaf) => sum + (counter(leaf, 'memory.oom_control') ?? 0), own);
  }, name, listener);
  const buf = Buffer.alloc(8);
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    clearInterval(timer);
    closeSync(efd);
    closeSync(ofd);
  };
  const timer = setInterval(() => {
    try {
      readSync(efd, buf, 0, 8, null);
    } catch (err) {
      if (errnoOf(err) === 'EAGAIN') return;
      close();
      return;
    }
    if (!check()) close();
  }, V1_OOM_POLL_MS);
  timer.unref();
  return { close };
}
