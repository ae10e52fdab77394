// v1 devices: the allow-list in `devices.allow`/`devices.deny`, read back from `devices.list`. A
// child cgroup never gets more than its parent, so corral's parent stays `a *:* rwm` (a new
// cgroup copies its parent's list) and each container cgroup narrows itself.

import { existsSync } from 'node:fs';
import { CorralError } from '../../../errors.js';
import { BoundedMemo } from '../../../bounded-memo.js';
import { describePolicy, parseV1List, samePolicy, v1Writes } from '../device-rules.js';
import { childCgroups, errnoOf, readKnob, readPids, writeKnob } from '../knob.js';
import type { DeviceCheck, DevicePolicy } from '../types.js';
import type { V1Subsystem } from './subsystem.js';

/** Listed so that corral's parent and container directories exist in the hierarchy; the policy is set apart (setDevicesV1). */
export const devices: V1Subsystem = { name: 'devices' };

/** Rounds of moving processes into a new devices cgroup before giving up (a fork bomb). */
const JOIN_ROUNDS = 20;

/**
 * Policies by the `devices.list` text they were parsed from. Every container of a host usually
 * lists the same few texts, and a resync reads them all: the same policy object each time lets
 * its normalized form be remembered (device-rules.ts). Bounded.
 */
const parsedLists = new BoundedMemo<string, DevicePolicy>(256);

export async function readDevicesV1(dir: string): Promise<DevicePolicy> {
  const text = await readKnob(dir, 'devices.list');
  return parsedLists.getOrMake(text, () => parseV1List(text));
}

/** Takes the cgroup from what it enforces now to `policy`, in the order v1Writes explains. */
export async function setDevicesV1(dir: string, policy: DevicePolicy): Promise<void> {
  for (const w of v1Writes(await readDevicesV1(dir), policy)) await writeKnob(dir, w.file, w.value);
}

/**
 * Sets the policy on a container's devices cgroup, then on its leaves: v1 copies a list into a
 * child only at mkdir, and passes on a narrowing but never a widening. It refuses to switch the
 * default (allow-all ↔ a list) of a cgroup that has children: that needs the leaves made again
 * (create does it while they are idle), so a running container must be restarted.
 */
export async function setDevicesTree(dir: string, leaves: readonly string[], policy: DevicePolicy, name: string): Promise<void> {
  const current = await readDevicesV1(dir);
  if (current.allowAll !== policy.allowAll && (await childCgroups(dir)).length > 0) {
    throw new CorralError('CGROUP_BUSY', `the device policy of \`${name}\` cannot switch ${policy.allowAll ? 'to allow-all' : 'from allow-all to a list'} while the container runs`, {
      detail: `v1 refuses to change the default of \`${dir}\` while it has child cgroups (the container's leaves)`,
      hint: 'restart the container',
    });
  }
  for (const d of [dir, ...leaves]) await setDevicesV1(d, policy);
}

/**
 * Whether `devices.list` is exactly `policy`. While the cgroup allows all by default the kernel
 * lists `a *:* rwm` only, so a deny written there by hand does not show: corral never writes one.
 */
export async function checkDevicesV1(dir: string, policy: DevicePolicy): Promise<DeviceCheck> {
  let current: DevicePolicy;
  try {
    current = await readDevicesV1(dir);
  } catch (err) {
    // Asked after the read fails, not before it: a drift check reads every container's list.
    if (!existsSync(dir)) return { enforced: false, current: 'no devices cgroup' };
    throw err;
  }
  return { enforced: samePolicy(current, policy), current: describePolicy(current) };
}

/**
 * Moves processes into a devices cgroup `dir` that a handle from a corral that did not manage
 * devices lacks: `candidates` lists them (from the handle's other directories). A process forked
 * during a move lands in its parent's old cgroup or in the new one (the kernel orders forks and
 * migrations), so the moves repeat until a round finds every process inside.
 */
export async function joinDevicesCgroup(dir: string, candidates: () => Promise<number[]>, name: string): Promise<void> {
  for (let round = 0; round < JOIN_ROUNDS; round++) {
    const inside = new Set(await readPids(dir));
    const outside = (await candidates()).filter((pid) => !inside.has(pid));
    if (outside.length === 0) return;
    for (const pid of outside) {
      await writeKnob(dir, 'cgroup.procs', String(pid)).catch((err: unknown) => {
        // The process exited meanwhile.
        if (errnoOf((err as { cause?: unknown }).cause) !== 'ESRCH') throw err;
      });
    }
  }
  throw new CorralError('CGROUP_BUSY', `processes of \`${name}\` keep appearing outside its devices cgroup \`${dir}\` after ${JOIN_ROUNDS} rounds of moves`, {
    hint: 'stop the container and start it again: a new process is placed in every cgroup before it runs',
  });
}
