// v1 cpuset. A new v1 cpuset cgroup starts with empty `cpus` and `mems`, and a process cannot join
// it (ENOSPC) until both are set (docs/architecture.md, "cgroups"), so apply copies them from the
// parent, and set writes either the manifest's lists or the parent's again (null means
// "inherit"). v1 cpusets nest at every step (the kernel refuses a parent list that drops a CPU a
// child still has, and a child list with one its parent lacks), so the container's leaves follow
// it through a union.

import { shouldWrite } from '../accumulate.js';
import { canonicalIdList, unionIdList } from '../convert.js';
import { readKnob, writeKnob } from '../knob.js';
import type { V1Subsystem } from './subsystem.js';

async function inherited(parentDir: string, file: 'cpus' | 'mems'): Promise<string> {
  const own = await readKnob(parentDir, `cpuset.${file}`);
  return own.trim() !== '' ? own.trim() : (await readKnob(parentDir, `cpuset.effective_${file}`)).trim();
}

/** Sets `knob` of the container's cgroup and its leaves to `wanted`: widen the cgroup to old ∪ new, move the leaves, narrow it. */
async function nest(dir: string, knob: string, wanted: string, leaves: readonly string[]): Promise<void> {
  if (leaves.length > 0) {
    const now = await readKnob(dir, knob);
    const wide = unionIdList(now, wanted);
    if (wide !== canonicalIdList(now)) await writeKnob(dir, knob, wide);
    for (const leaf of leaves) await writeKnob(leaf, knob, wanted);
  }
  await writeKnob(dir, knob, wanted);
}

export const cpuset: V1Subsystem = {
  name: 'cpuset',
  async apply(dir, parentDir) {
    for (const file of ['cpus', 'mems'] as const) {
      if ((await readKnob(dir, `cpuset.${file}`)).trim() === '') await writeKnob(dir, `cpuset.${file}`, await inherited(parentDir, file));
    }
  },
  async set(dir, r, { caps }, parentDir, leaves) {
    const isDefault = r.cpusetCpus === null && r.cpusetMems === null;
    if (!shouldWrite(caps, 'cpuset', isDefault, `${r.cpusetCpus ?? ''}/${r.cpusetMems ?? ''}`)) return;
    await nest(dir, 'cpuset.cpus', r.cpusetCpus ?? await inherited(parentDir, 'cpus'), leaves);
    await nest(dir, 'cpuset.mems', r.cpusetMems ?? await inherited(parentDir, 'mems'), leaves);
  },
  async read(dir, into, wanted) {
    if (wanted('cpusetCpus')) into.cpusetCpus = canonicalIdList(await readKnob(dir, 'cpuset.cpus')) || null;
    if (wanted('cpusetMems')) into.cpusetMems = canonicalIdList(await readKnob(dir, 'cpuset.mems')) || null;
  },
};
