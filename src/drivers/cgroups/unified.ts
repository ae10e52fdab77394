// Process-level operations on a cgroup2 directory, which need no controller: membership
// (`cgroup.procs`), freezing (`cgroup.freeze`, Linux 5.2) and killing (`cgroup.kill`, Linux 5.14).
// The v2 manager uses them, and so does the v1 manager on a hybrid host, where the cgroup2 tree has
// no controllers but still freezes and kills (docs/architecture.md, "cgroups").

import { constants } from 'node:os';
import { CorralError } from '../../errors.js';
import { parseFlatKeyed } from './convert.js';
import { knobExists, readOptionalKnob, readPids, writeKnob } from './knob.js';
import { waitUntil } from './wait.js';

async function events(dir: string): Promise<Map<string, number>> {
  const text = await readOptionalKnob(dir, 'cgroup.events');
  if (text === null) throw new CorralError('CGROUP_READ_FAILED', `\`${dir}/cgroup.events\` is missing: not a cgroup2 directory, or it was removed`);
  return parseFlatKeyed(text);
}

export async function isPopulated(dir: string): Promise<boolean> {
  return (await events(dir)).get('populated') === 1;
}

export async function freezeUnified(dir: string): Promise<void> {
  if (!(await knobExists(dir, 'cgroup.freeze'))) {
    throw new CorralError('HOST_UNSUPPORTED', `cannot freeze \`${dir}\`: this kernel has no \`cgroup.freeze\` (Linux 5.2+)`);
  }
  await writeKnob(dir, 'cgroup.freeze', '1');
  // The write returns at once; tasks stop at their next return to user space, and only then does
  // cgroup.events say frozen.
  await waitUntil(async () => (await events(dir)).get('frozen') === 1, `freeze \`${dir}\``);
}

export async function thawUnified(dir: string): Promise<void> {
  await writeKnob(dir, 'cgroup.freeze', '0');
  await waitUntil(async () => (await events(dir)).get('frozen') === 0, `thaw \`${dir}\``);
}

/** SIGKILL to each pid, ignoring the ones that are already gone. */
export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, constants.signals.SIGKILL);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/**
 * Kills every process of a cgroup2 directory and its children, and waits until the kernel reports
 * it unpopulated. `cgroup.kill` does it atomically (no fork can escape); before 5.14 the group is
 * frozen first so that no process forks between reading the list and the kill.
 */
export async function killUnified(dir: string): Promise<void> {
  if (await knobExists(dir, 'cgroup.kill')) {
    await writeKnob(dir, 'cgroup.kill', '1');
  } else {
    await freezeUnified(dir);
    try {
      killPids(await readPids(dir));
    } finally {
      await thawUnified(dir);
    }
  }
  await waitUntil(async () => !(await isPopulated(dir)), `empty \`${dir}\` after SIGKILL`);
}
