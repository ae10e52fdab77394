// v1 cpuacct: CPU time used (its own hierarchy on some hosts, co-mounted with cpu on others).

import { nsToUs } from '../accumulate.js';
import { readOptionalKnob } from '../knob.js';
import type { V1Subsystem } from './subsystem.js';

const ns = async (dir: string, file: string): Promise<number | null> => {
  const text = await readOptionalKnob(dir, file);
  return text === null || !/^\d+$/.test(text.trim()) ? null : nsToUs(Number(text));
};

export const cpuacct: V1Subsystem = {
  name: 'cpuacct',
  async stats(dir, into, _leaves, scope) {
    into.cpu.usageUsec = await ns(dir, 'cpuacct.usage');
    if (scope === 'usage') return;
    into.cpu.userUsec = await ns(dir, 'cpuacct.usage_user');
    into.cpu.systemUsec = await ns(dir, 'cpuacct.usage_sys');
  },
};
