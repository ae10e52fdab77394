// DevicesSpec → DevicePolicy, and its plan-time checks, with the host's answers injected.

import { describe, expect, test } from '@jest/globals';
import { checkDevicePolicy, devicePolicy } from '../../../src/drivers/cgroups/device-policy.js';
import type { HostCgroupCapabilities } from '../../../src/drivers/cgroups/types.js';
import { CorralError } from '../../../src/errors.js';
import { DEFAULT_DEVICES } from '../../../src/manifest/defaults.js';
import type { DevicesSpec } from '../../../src/manifest/spec.js';

const DEFAULT = DEFAULT_DEVICES.map((d) => d.rule);
const fuse: DevicesSpec = { allowAll: false, allow: DEFAULT, host: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', access: 'rw' }] };
const resolve = (path: string) => {
  if (path === '/dev/fuse') return { type: 'c' as const, major: 10, minor: 229 };
  throw new CorralError('MOUNT_SOURCE_MISSING', `device \`${path}\` does not exist on this host`);
};
const caps = (available: boolean): HostCgroupCapabilities => ({
  features: { devices: available ? { available: true, via: 'devices controller (v1)' } : { available: false, reason: 'no devices controller' } },
} as unknown as HostCgroupCapabilities); // only `features.devices` is read

describe('device policy', () => {
  test('the default rules, then each host device with its numbers and the access asked for', () => {
    expect(devicePolicy(fuse, resolve)).toEqual({ allowAll: false, rules: [...DEFAULT, { type: 'c', major: 10, minor: 229, access: 'rw' }] });
    expect(devicePolicy({ allowAll: true, allow: [], host: [] }, resolve)).toEqual({ allowAll: true });
  });

  test('plan-time: a host that cannot enforce a list, a missing host device', () => {
    expect(checkDevicePolicy(caps(true), fuse, resolve)).toEqual([]);
    expect(checkDevicePolicy(caps(false), fuse, resolve).map((d) => d.code)).toEqual(['CGROUP_KNOB_UNAVAILABLE']);
    // privileged asks for no list: nothing to enforce.
    expect(checkDevicePolicy(caps(false), { allowAll: true, allow: [], host: [] }, resolve)).toEqual([]);
    const missing = { ...fuse, host: [{ hostPath: '/dev/nope', containerPath: '/dev/nope', access: 'r' }] };
    expect(checkDevicePolicy(caps(true), missing, resolve).map((d) => [d.code, d.field])).toEqual([['MOUNT_SOURCE_MISSING', 'spec.devices[0].path']]);
  });
});
