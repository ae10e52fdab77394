// v1 freezer: used on v1-only hosts (a hybrid host freezes through its cgroup2 twin instead).

import { readKnob, writeKnob } from '../knob.js';
import { waitUntil } from '../wait.js';
import type { V1Subsystem } from './subsystem.js';

export const freezer: V1Subsystem = { name: 'freezer' };

export async function freezeV1(dir: string): Promise<void> {
  // FREEZING is transient; writing FROZEN again makes the kernel retry tasks that were busy in the
  // kernel during the first attempt (runc does the same).
  await waitUntil(async () => {
    await writeKnob(dir, 'freezer.state', 'FROZEN');
    return (await readKnob(dir, 'freezer.state')).trim() === 'FROZEN';
  }, `freeze \`${dir}\``);
}

export async function thawV1(dir: string): Promise<void> {
  await writeKnob(dir, 'freezer.state', 'THAWED');
  await waitUntil(async () => (await readKnob(dir, 'freezer.state')).trim() === 'THAWED', `thaw \`${dir}\``);
}
