// One v1 controller, the way runc's fs package walks its `subsystems`: each module knows its own
// files and nothing else. The v1 manager calls them in a fixed order.

import type { ResourcesSpec } from '../../../manifest/spec.js';
import type { AppliedBuilder, StatsBuilder } from '../accumulate.js';
import type { DeviceResolver } from '../device.js';
import type { AppliedFields, HostCgroupCapabilities, StatsScope } from '../types.js';

export interface V1Context {
  readonly caps: HostCgroupCapabilities;
  readonly resolveDevice: DeviceResolver;
}

export interface V1Subsystem {
  readonly name: string;
  /**
   * Right after mkdir, before any process joins: make the new cgroup usable. `parentDir` is the
   * directory above it (corral's parent, or the hierarchy root for the parent itself).
   */
  apply?(dir: string, parentDir: string): Promise<void>;
  /**
   * Applies the limits to the container's directory. `leaves` are the leaf cgroups inside it
   * (handle.ts): most v1 controllers are hierarchical and leave them alone, but cpuset must nest
   * (a child's lists stay within its parent's) and blkio throttles apply per cgroup.
   */
  set?(dir: string, r: ResourcesSpec, ctx: V1Context, parentDir: string, leaves: readonly string[]): Promise<void>;
  /** Fills the fields `wanted` accepts (a subsystem may fill others it reads anyway). */
  read?(dir: string, into: AppliedBuilder, wanted: AppliedFields): Promise<void>;
  /** Counters of the container's directory; `leaves` for the ones v1 keeps per cgroup (OOM kills). */
  stats?(dir: string, into: StatsBuilder, leaves: readonly string[], scope: StatsScope): Promise<void>;
}
