// The null manager (crun's cgroup_manager_disabled): for hosts without a cgroup filesystem, or when
// cgroups are turned off. Creating, setting, placing and destroying do nothing; every resource a
// manifest asks for is reported unavailable at plan time (checkResources), and freeze and kill,
// which cannot be faked, refuse with HOST_UNSUPPORTED. Devices cannot be restricted either:
// `features.devices` is unavailable, and a device allow-list is refused (CGROUP_KNOB_UNAVAILABLE)
// rather than dropped; only allow-all (a privileged container) passes.

import { CorralError } from '../../errors.js';
import type { ResourcesSpec } from '../../manifest/spec.js';
import { emptyApplied, emptyStats, shouldWrite } from './accumulate.js';
import { checkResources } from './check.js';
import { describePolicy } from './device-rules.js';
import { resolveBlockDevice } from './device.js';
import { checkHandle } from './handle.js';
import { checkCgroupName } from './owner.js';
import type {
  AppliedResources, CgroupHandle, CgroupLayout, CgroupManager, CgroupParents, CgroupStats, DeviceCheck, DevicePolicy, Disposable,
  HostCgroupCapabilities,
} from './types.js';

export class NoneManager implements CgroupManager {
  readonly backend = 'none' as const;

  constructor(readonly layout: CgroupLayout, readonly parents: CgroupParents, readonly capabilities: HostCgroupCapabilities, readonly rootId: string | null = null) {}

  checkResources(resources: ResourcesSpec, container?: string) {
    return checkResources(this.capabilities, resources, container ? { container } : {});
  }

  async create(name: string, _resources: ResourcesSpec, devices: DevicePolicy): Promise<CgroupHandle> {
    checkCgroupName(name, 'container name');
    shouldWrite(this.capabilities, 'devices', devices.allowAll, describePolicy(devices));
    return { formatVersion: 1, backend: 'none', name, v1: {}, unified: null };
  }

  async set(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'none');
  }

  async setDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<CgroupHandle> {
    checkHandle(handle, 'none');
    shouldWrite(this.capabilities, 'devices', devices.allowAll, describePolicy(devices));
    return handle;
  }

  /** Nothing restricts devices here: only allow-all is what the kernel does. */
  async checkDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<DeviceCheck> {
    checkHandle(handle, 'none');
    return { enforced: devices.allowAll, current: 'not restricted (no cgroups)' };
  }

  resolveDevice(path: string): string {
    return resolveBlockDevice(path);
  }

  async read(handle: CgroupHandle): Promise<AppliedResources> {
    checkHandle(handle, 'none');
    return emptyApplied();
  }

  async stats(handle: CgroupHandle): Promise<CgroupStats> {
    checkHandle(handle, 'none');
    return emptyStats();
  }

  watchOom(handle: CgroupHandle): Disposable {
    checkHandle(handle, 'none');
    return { close() {} };
  }

  async addProc(handle: CgroupHandle): Promise<void> {
    checkHandle(handle, 'none');
  }

  async pids(handle: CgroupHandle): Promise<number[]> {
    checkHandle(handle, 'none');
    return [];
  }

  private unsupported(what: string, handle: CgroupHandle): never {
    throw new CorralError('HOST_UNSUPPORTED', `cannot ${what} \`${handle.name}\`: corral manages no cgroups on this host`, {
      hint: 'stop the container through its process instead',
    });
  }

  async freeze(handle: CgroupHandle): Promise<void> {
    this.unsupported('freeze', handle);
  }

  async thaw(handle: CgroupHandle): Promise<void> {
    this.unsupported('thaw', handle);
  }

  async kill(handle: CgroupHandle): Promise<void> {
    this.unsupported('kill every process of', handle);
  }

  async destroy(): Promise<void> {}

  async list(): Promise<CgroupHandle[]> {
    return [];
  }

  async listWithoutRootId(): Promise<CgroupHandle[]> {
    return [];
  }

  async adopt(): Promise<void> {}

  async removeAll(): Promise<void> {}
}
