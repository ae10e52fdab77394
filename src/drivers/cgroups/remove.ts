// Removing a cgroup directory the way runc's RemovePath does: a fast rmdir, then children
// depth-first, then retries while the kernel still reports it busy (exiting processes linger for a
// moment after SIGKILL), with a doubling delay and a deadline. A missing directory counts as removed,
// so destroy is idempotent and a second destroy after a crash is harmless.

import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CorralError } from '../../errors.js';
import { childCgroups, describeFsError, errnoOf, readPids } from './knob.js';

export const REMOVE_TIMEOUT_MS = 10_000;

async function tryRmdir(dir: string): Promise<'gone' | 'busy'> {
  try {
    await rmdir(dir);
    return 'gone';
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT') return 'gone';
    if (errno === 'EBUSY' || errno === 'ENOTEMPTY' || errno === 'EAGAIN') return 'busy';
    throw new CorralError('CGROUP_WRITE_FAILED', `remove cgroup \`${dir}\`: ${describeFsError(err)}`, { cause: err });
  }
}

export interface RemoveOptions {
  readonly timeoutMs?: number;
  /**
   * Remove child cgroups first (default). A container's cgroup may hold children its own processes
   * made (cgroup namespace); corral's parent never gets this, as its children may not be corral's.
   */
  readonly children?: boolean;
}

/** Removes a cgroup directory, and by default every cgroup below it. */
export async function removeCgroupDir(dir: string, opts: RemoveOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? REMOVE_TIMEOUT_MS;
  if ((await tryRmdir(dir)) === 'gone') return;
  const deadline = Date.now() + timeoutMs;
  if (opts.children !== false) {
    for (const child of await childCgroups(dir)) await removeCgroupDir(join(dir, child), { timeoutMs: Math.max(0, deadline - Date.now()) });
  }
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    if ((await tryRmdir(dir)) === 'gone') return;
    if (Date.now() >= deadline) break;
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
  }
  const pids = await readPids(dir).catch(() => []);
  const children = await childCgroups(dir).catch(() => []);
  throw new CorralError('CGROUP_BUSY', `cgroup \`${dir}\` is still busy after ${timeoutMs} ms`, {
    detail: [
      pids.length ? `processes still in it: ${pids.slice(0, 20).join(', ')}${pids.length > 20 ? ', …' : ''}` : 'no process listed',
      children.length ? `child cgroups: ${children.join(', ')}` : '',
    ].filter(Boolean).join('; '),
    hint: 'kill the cgroup first (corral stops containers before removing them)',
  });
}
