// Limits the schema lets through but that cannot work (a memory limit too small to exec in, a
// writable layer too small for a start), and limits that contradict each other (swap below
// memory, a reservation above the limit, a soft ulimit above the hard one). Pure.

import { DEFAULTS } from '../../defaults.js';
import type { FieldPath } from '../../field-path.js';
import { formatBytes, parseBytes, parseBytesOrUnlimited, parseCpuList } from '../../quantity.js';
import type { DocumentCheck } from '../report.js';

export const storage: DocumentCheck = {
  name: 'storage',
  run: ({ spec }, report) => {
    if (spec.storage?.size === undefined) return;
    const size = parseBytes(spec.storage.size);
    if (size.ok && size.value < 2 ** 20) report('error', 'MANIFEST_OUT_OF_RANGE', ['spec', 'storage', 'size'], `storage size ${formatBytes(size.value)} is below 1Mi`, { hint: 'a writable layer needs room for the files a start writes' });
  },
};

export const memory: DocumentCheck = {
  name: 'memory',
  run: ({ spec }, report) => {
    const r = spec.resources;
    if (!r) return;
    const at = (f: string): FieldPath => ['spec', 'resources', f];
    const memory = r.memory === undefined ? undefined : parseBytes(r.memory);
    const limit = memory?.ok ? memory.value : undefined;
    if (limit !== undefined && limit < DEFAULTS.minMemoryBytes) {
      report('error', 'MANIFEST_OUT_OF_RANGE', at('memory'), `memory limit ${limit} bytes is below the minimum of ${formatBytes(DEFAULTS.minMemoryBytes)}`, { hint: 'limits are in bytes; did you forget a suffix such as `Mi`?' });
    }
    if (r.memorySwap !== undefined) {
      const swap = parseBytesOrUnlimited(r.memorySwap);
      if (limit === undefined) {
        report('error', 'MANIFEST_CONFLICT', at('memorySwap'), '`memorySwap` needs `memory`', { detail: 'memorySwap limits memory and swap together, so it only means something next to a memory limit' });
      } else if (swap.ok && swap.value !== 'unlimited' && swap.value < limit) {
        report('error', 'MANIFEST_CONFLICT', at('memorySwap'), `memorySwap (${formatBytes(swap.value)}) is less than memory (${formatBytes(limit)})`, { detail: 'memorySwap is memory plus swap, so it is at least memory' });
      }
    }
    if (r.memoryReservation !== undefined && limit !== undefined) {
      const reservation = parseBytes(r.memoryReservation);
      if (reservation.ok && reservation.value > limit) {
        report('error', 'MANIFEST_CONFLICT', at('memoryReservation'), `memoryReservation (${formatBytes(reservation.value)}) is more than memory (${formatBytes(limit)})`);
      }
    }
  },
};

export const cpusetAndIo: DocumentCheck = {
  name: 'cpuset-and-io',
  run: ({ spec }, report) => {
    const r = spec.resources;
    for (const key of ['cpus', 'mems'] as const) {
      const value = r?.cpuset?.[key];
      if (value === undefined) continue;
      const parsed = parseCpuList(value);
      if (!parsed.ok) report('error', 'MANIFEST_INVALID_FORMAT', ['spec', 'resources', 'cpuset', key], `\`spec.resources.cpuset.${key}\` is \`${value}\`, expected ${parsed.expected}`);
    }
    const devices = new Map<string, number>();
    (r?.io?.limits ?? []).forEach((l, i) => {
      const previous = devices.get(l.device);
      if (previous !== undefined) report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', 'resources', 'io', 'limits', i, 'device'], `device \`${l.device}\` already has limits in \`io.limits[${previous}]\``, { hint: 'merge the two entries' });
      else devices.set(l.device, i);
    });
  },
};

export const ulimits: DocumentCheck = {
  name: 'ulimits',
  run: ({ spec }, report) => {
    for (const [name, u] of Object.entries(spec.ulimits ?? {})) {
      const soft = u.soft === 'unlimited' ? Infinity : u.soft;
      const hard = u.hard === 'unlimited' ? Infinity : u.hard;
      if (soft > hard) report('error', 'MANIFEST_CONFLICT', ['spec', 'ulimits', name, 'soft'], `ulimit \`${name}\`: soft limit ${u.soft} is above hard limit ${u.hard}`);
    }
  },
};
