// A container's DevicesSpec (the manifest's view: the default rules plus host devices by path) →
// the DevicePolicy the cgroups driver enforces (numbers only), and the plan-time checks of it: the
// host must be able to enforce a list, and every host device asked for must exist.

import { diagnostic, type Diagnostic } from '../../errors.js';
import type { DevicesSpec } from '../../manifest/spec.js';
import { statDeviceNode, type DeviceNode } from '../../sys/device-node.js';
import type { DevicePolicy, HostCgroupCapabilities } from './types.js';

export function devicePolicy(devices: DevicesSpec, resolve: (hostPath: string) => DeviceNode = statDeviceNode): DevicePolicy {
  if (devices.allowAll) return { allowAll: true };
  // The spec's own list when nothing is added: its normalized form is then remembered (device-rules.ts).
  if (devices.host.length === 0) return { allowAll: false, rules: devices.allow };
  return {
    allowAll: false,
    rules: [
      ...devices.allow,
      ...devices.host.map((d) => {
        const node = resolve(d.hostPath);
        return { type: node.type, major: node.major, minor: node.minor, access: d.access };
      }),
    ],
  };
}

/** Plan-time errors: a list this host cannot enforce (a container would open every device), a host device that is not there. */
export function checkDevicePolicy(capabilities: HostCgroupCapabilities, devices: DevicesSpec, resolve: (hostPath: string) => DeviceNode = statDeviceNode): Diagnostic[] {
  const out: Diagnostic[] = [];
  const support = capabilities.features.devices;
  if (!devices.allowAll && !support.available) {
    out.push(diagnostic('error', 'CGROUP_KNOB_UNAVAILABLE', 'this host cannot enforce a device allow-list, and a container without one can open every host device', {
      field: 'spec.devices', detail: support.reason, hint: 'run corral where the `devices` cgroup controller or cgroup2 device programs are available',
    }));
  }
  devices.host.forEach((d, i) => {
    try {
      resolve(d.hostPath);
    } catch (err) {
      out.push(diagnostic('error', 'MOUNT_SOURCE_MISSING', (err as Error).message, { field: `spec.devices[${i}].path` }));
    }
  });
  return out;
}
