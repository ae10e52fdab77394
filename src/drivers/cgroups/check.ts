// Plan-time check of a container's resources against what this host's cgroups can enforce. Pure:
// the planner calls it with the capabilities detected once, and gets every problem at once. A knob
// the host lacks is an error, never silently dropped: a limit that is not enforced is worse than
// none, because the user believes it is there.

import { diagnostic, type Diagnostic } from '../../errors.js';
import type { ResourcesSpec } from '../../manifest/spec.js';
import { CPU_MILLIS_MIN, parseIdList } from './convert.js';
import type { CgroupFeature, HostCgroupCapabilities } from './types.js';

/** The manifest field behind each ResourcesSpec knob (what the user typed). */
export const RESOURCE_FIELDS = {
  memoryBytes: 'spec.resources.memory',
  memorySwapBytes: 'spec.resources.memorySwap',
  memoryReservationBytes: 'spec.resources.memoryReservation',
  cpuMillis: 'spec.resources.cpus',
  cpuWeight: 'spec.resources.cpuWeight',
  cpusetCpus: 'spec.resources.cpuset.cpus',
  cpusetMems: 'spec.resources.cpuset.mems',
  pids: 'spec.resources.pids',
  ioWeight: 'spec.resources.io.weight',
  ioLimits: 'spec.resources.io.limits',
} as const satisfies Record<keyof ResourcesSpec, string>;

export interface CheckOptions {
  readonly container?: string;
  /** Resolves an io limit's device path (impure: stat). Omitted: device paths are not checked. */
  readonly resolveDevice?: (path: string) => string;
}

export function checkResources(caps: HostCgroupCapabilities, r: ResourcesSpec, opts: CheckOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const where = { ...(opts.container ? { container: opts.container } : {}) };
  const need = (feature: CgroupFeature, field: keyof ResourcesSpec, asked: string): void => {
    const s = caps.features[feature];
    if (s.available) return;
    out.push(diagnostic('error', 'CGROUP_KNOB_UNAVAILABLE', `${RESOURCE_FIELDS[field]} (${asked}) cannot be enforced on this host`, {
      ...where,
      field: RESOURCE_FIELDS[field],
      detail: `${s.reason} (cgroup layout ${caps.layout})`,
      hint: 'remove the field, or run the container on a host that offers it (see `corral info`)',
    }));
  };

  if (r.memoryBytes !== null) need('memory', 'memoryBytes', `${r.memoryBytes} bytes`);
  if (r.memoryReservationBytes !== null) need('memoryReservation', 'memoryReservationBytes', `${r.memoryReservationBytes} bytes`);
  if (r.memorySwapBytes !== null && !caps.features.memorySwap.available) {
    if (r.memorySwapBytes === r.memoryBytes) {
      // The default (no swap) cannot be enforced either; refusing every container with a memory
      // limit would be useless, so it is a warning: the container may swap if the host has swap.
      out.push(diagnostic('warning', 'CGROUP_KNOB_UNAVAILABLE', `${RESOURCE_FIELDS.memorySwapBytes}: swap use cannot be limited on this host`, {
        ...where,
        field: RESOURCE_FIELDS.memorySwapBytes,
        detail: `${caps.features.memorySwap.reason}; the container can use swap beyond its memory limit if the host has swap`,
      }));
    } else {
      need('memorySwap', 'memorySwapBytes', String(r.memorySwapBytes));
    }
  }
  if (r.cpuMillis !== null) {
    need('cpuQuota', 'cpuMillis', `${r.cpuMillis}m`);
    if (r.cpuMillis < CPU_MILLIS_MIN) {
      out.push(diagnostic('error', 'MANIFEST_OUT_OF_RANGE', `${RESOURCE_FIELDS.cpuMillis} \`${r.cpuMillis}m\` is below the kernel's smallest CPU quota`, {
        ...where, field: RESOURCE_FIELDS.cpuMillis, detail: `at least ${CPU_MILLIS_MIN}m (1 ms of CPU per 100 ms period)`,
      }));
    }
  }
  if (r.cpuWeight !== null) need('cpuWeight', 'cpuWeight', String(r.cpuWeight));
  for (const [field, list, available] of [['cpusetCpus', r.cpusetCpus, caps.cpus], ['cpusetMems', r.cpusetMems, caps.mems]] as const) {
    if (list === null) continue;
    need('cpuset', field, list);
    const asked = parseIdList(list);
    const offered = available === null ? null : parseIdList(available);
    if (asked === null || offered === null) continue;
    const missing = asked.filter((id) => !offered.includes(id));
    if (missing.length > 0) {
      out.push(diagnostic('error', 'HOST_UNSUPPORTED', `${RESOURCE_FIELDS[field]} \`${list}\` names ${field === 'cpusetCpus' ? 'CPUs' : 'memory nodes'} this host does not offer: ${missing.join(',')}`, {
        ...where, field: RESOURCE_FIELDS[field], detail: `available here: \`${available}\``,
      }));
    }
  }
  if (r.pids !== 'unlimited') need('pids', 'pids', String(r.pids));
  if (r.ioWeight !== null) need('ioWeight', 'ioWeight', String(r.ioWeight));
  if (r.ioLimits.length > 0) {
    need('ioLimits', 'ioLimits', `${r.ioLimits.length} device${r.ioLimits.length === 1 ? '' : 's'}`);
    if (opts.resolveDevice) {
      // The spec sorts limits by device, so an index would not match the manifest: the summary
      // names the device instead.
      for (const l of r.ioLimits) {
        try {
          opts.resolveDevice(l.device);
        } catch (err) {
          const e = err as { summary?: string; hint?: string; message?: string };
          out.push(diagnostic('error', 'HOST_UNSUPPORTED', e.summary ?? e.message ?? String(err), {
            ...where, field: RESOURCE_FIELDS.ioLimits, ...(e.hint ? { hint: e.hint } : {}),
          }));
        }
      }
    }
  }
  return out;
}
