// v1 cpuset. A new v1 cpuset cgroup starts with empty `cpus` and `mems`, and a process cannot join
// it (ENOSPC) until both are set (DESIGN.md §3), so apply copies them from the parent, and set
// writes either the manifest's lists or the parent's again (null means "inherit").

import { shouldWrite } from '../accumulate.js';
import { canonicalIdList } from '../convert.js';
import { readKnob, writeKnob } from '../knob.js';
import type { V1Subsystem } from './subsystem.js';

async function inherited(parentDir: string, file: 'cpus' | 'mems'): Promise<string> {
  const own = await readKnob(parentDir, `cpuset.${file}`);
  return own.trim() !== '' ? own.trim() : (await readKnob(parentDir, `cpuset.effective_${file}`)).trim();
}

export const cpuset: V1Subsystem = {
  name: 'cpuset',
  async apply(dir, parentDir) {
    for (const file of ['cpus', 'mems'] as const) {
      if ((await readKnob(dir, `cpuset.${file}`)).trim() === '') await writeKnob(dir, `cpuset.${file}`, await inherited(parentDir, file));
    }
  },
  async set(dir, r, { caps }, parentDir) {
    const isDefault = r.cpusetCpus === null && r.cpusetMems === null;
    if (!shouldWrite(caps, 'cpuset', isDefault, `${r.cpusetCpus ?? ''}/${r.cpusetMems ?? ''}`)) return;
    await writeKnob(dir, 'cpuset.cpus', r.cpusetCpus ?? await inherited(parentDir, 'cpus'));
    await writeKnob(dir, 'cpuset.mems', r.cpusetMems ?? await inherited(parentDir, 'mems'));
  },
  async read(dir, into) {
    into.cpusetCpus = canonicalIdList(await readKnob(dir, 'cpuset.cpus')) || null;
    into.cpusetMems = canonicalIdList(await readKnob(dir, 'cpuset.mems')) || null;
  },
};
