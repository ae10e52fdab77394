// The cgroups driver's public surface. The reconciler constructs a manager once per agent start:
//
//   const cgroups = await openCgroupManager({ parentName: 'corral', rootId });   // rootId: src/state/root-id.ts
//   const diagnostics = cgroups.checkResources(spec.resources, spec.name);   // plan time
//   cgroups.capabilities.features.devices                                    // plan time: can devices be restricted?
//   const handle = await cgroups.create(spec.name, spec.resources, devices); // store `handle` in state
//   procsFiles(handle) / cloneIntoCgroupDir(handle)                          // for the shim: the container's leaf
//   monitorProcsFiles(handle) / oomEventsFile(handle)                        // for the shim: the monitor's leaf, OOM kills
//   await cgroups.checkDevices(handle, devices)                              // drift: {enforced, current}
//   handle = await cgroups.setDevices(handle, devices)                       // live update; store the result
//
// and later kills and destroys with the handle's own backend (killHandle, destroyHandle).

export type {
  AppliedIoLimit, AppliedResources, CgroupBackend, CgroupFeature, CgroupHandle, CgroupLayout, CgroupLayoutKind, CgroupManager,
  CgroupParents, CgroupStats, DeviceCheck, DevicePolicy, DeviceRule, Disposable, FeatureSupport, HostCgroupCapabilities, Leaves, OomEvent,
  UnifiedMount, V1Mount,
} from './types.js';
export { backendFor, destroyHandle, inspectCgroups, killHandle, openCgroupManager, type CgroupInspection, type CgroupManagerOptions } from './manager.js';
export { checkResources, RESOURCE_FIELDS, type CheckOptions } from './check.js';
export { resourcesDrift, type ResourceDrift } from './drift.js';
export { cloneIntoCgroupDir, handleDirs, LEAVES, monitorDirs, monitorProcsFiles, oomEventsFile, payloadDirs, payloadOnlyDirs, procsFiles } from './handle.js';
export { detectLayout, withoutUnified, withoutV1 } from './detect.js';
export { detectCapabilities } from './capabilities.js';
export { resolveBlockDevice } from './device.js';
export { adoptLeftover, DEFAULT_PARENT_NAME, MANAGED_V1_CONTROLLERS, Owner, ownerRole, UNSCOPED } from './owner.js';
export { readMark, type OwnerMark } from './mark.js';
export { MANAGED_V2_CONTROLLERS } from './v2.js';
