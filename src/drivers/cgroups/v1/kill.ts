// Killing a v1 handle's processes: through the cgroup2 twin when there is one (atomic), then
// whatever is left in v1 only (a placement that stopped half-way, or a v1-only host) by rounds of
// freeze, SIGKILL each pid, thaw, so that nothing forks between reading the list and the kill.
// `payload` kills the container's processes and leaves the monitor to record their exit; `tree`
// kills everything in the cgroup (destroy).

import { existsSync } from 'node:fs';
import { CorralError } from '../../../errors.js';
import { allHandlePids, payloadDir } from '../handle.js';
import type { CgroupHandle } from '../types.js';
import { isPopulated, killPids, killUnified } from '../unified.js';
import { waitUntil } from '../wait.js';
import { freezeV1, thawV1 } from './freezer.js';

/** Rounds of freeze, SIGKILL, thaw before giving up on a v1-only kill. */
const KILL_ROUNDS = 5;

export async function killV1(handle: CgroupHandle, scope: 'payload' | 'tree' = 'payload'): Promise<void> {
  const within = (dir: string): string => (scope === 'payload' ? payloadDir(handle, dir) : dir);
  const twin = handle.unified === null ? null : within(handle.unified);
  if (twin !== null && existsSync(twin) && await isPopulated(twin)) await killUnified(twin);
  // The v1 freezer is hierarchical: freezing the container's cgroup freezes the monitor's leaf too.
  const freezer = handle.v1['freezer'] === undefined ? undefined : within(handle.v1['freezer']);
  const canFreeze = freezer !== undefined && existsSync(freezer);
  const left = (): Promise<number[]> => allHandlePids(handle, scope);
  for (let round = 0; round < KILL_ROUNDS && (await left()).length > 0; round++) {
    if (canFreeze) await freezeV1(freezer);
    try {
      killPids(await left());
    } finally {
      if (canFreeze) await thawV1(freezer);
    }
    await waitUntil(async () => (await left()).length === 0, `empty \`${handle.name}\` after SIGKILL`, 2000).catch(() => undefined);
  }
  const pids = await left();
  if (pids.length > 0) {
    throw new CorralError('CGROUP_BUSY', `cgroup \`${handle.name}\` still holds processes after ${KILL_ROUNDS} rounds of SIGKILL`, { detail: `pids: ${pids.join(', ')}` });
  }
}
