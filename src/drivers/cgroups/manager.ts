// The one place a backend is picked (runc's manager.NewWithPaths): cgroup2-only hosts get the v2
// manager, v1 and hybrid hosts the v1 manager (which joins the cgroup2 tree on hybrid), hosts
// without cgroups the null manager. Handles remember their backend, so killing and destroying a
// cgroup always uses the rules it was created under (killHandle, destroyHandle), even after the
// host or corral's configuration changed.

import { existsSync } from 'node:fs';
import { CorralError } from '../../errors.js';
import { detectCapabilities } from './capabilities.js';
import type { DeviceResolver } from './device.js';
import { detectLayout } from './detect.js';
import { assertHandleOwned, destroyHandle, payloadDir } from './handle.js';
import { Owner, UNSCOPED } from './mark.js';
import { NoneManager } from './none.js';
import { DEFAULT_PARENT_NAME, delegatedUnitPath, readDelegationFacts, resolveParents, type DelegationFacts } from './owner.js';
import type { CgroupBackend, CgroupHandle, CgroupLayout, CgroupManager, CgroupParents, HostCgroupCapabilities } from './types.js';
import { killUnified } from './unified.js';
import { killV1, V1Manager } from './v1/manager.js';
import { V2Manager } from './v2.js';

export interface CgroupManagerOptions {
  /** corral's parent cgroup in every hierarchy. Default `corral`; tests use their own. */
  readonly parentName?: string;
  /**
   * The state root acting (its id, src/state/root-id.ts): it marks what it creates with it and
   * touches nothing another root marked (mark.ts). Absent: every container cgroup under the parent
   * counts, for tests and benches on a parent of their own.
   */
  readonly rootId?: string;
  /** `auto` (default): use a systemd-delegated subtree when the rule in owner.ts holds; `off`: never. */
  readonly delegation?: 'auto' | 'off';
  /** false: the null manager, whatever the host offers. */
  readonly enabled?: boolean;
  /** Instead of detection: tests drive the v1-only path on a hybrid host with `withoutUnified(detectLayout())`. */
  readonly layout?: CgroupLayout;
  /** Instead of this process's /proc/self/cgroup and xattrs: tests of the delegation rule. */
  readonly delegationFacts?: DelegationFacts;
  readonly resolveDevice?: DeviceResolver;
  /**
   * false: the parents are neither created nor changed, for commands that only look (`ps`,
   * `inspect`): they must leave no cgroup behind on a host that runs nothing, and skip the cost.
   */
  readonly createParents?: boolean;
}

export function backendFor(layout: CgroupLayout): CgroupBackend {
  switch (layout.kind) {
    case 'v2': return 'v2';
    case 'v1':
    case 'hybrid': return 'v1';
    case 'none': return 'none';
  }
}

export interface CgroupInspection {
  readonly layout: CgroupLayout;
  readonly backend: CgroupBackend;
  readonly parents: CgroupParents;
  readonly capabilities: HostCgroupCapabilities;
}

/** Layout, parents and capabilities without creating or writing anything (`corral info`, the planner). */
export function inspectCgroups(opts: CgroupManagerOptions = {}): CgroupInspection {
  const layout = opts.layout ?? detectLayout();
  const backend = opts.enabled === false ? 'none' : backendFor(layout);
  const delegated = opts.delegation === 'off' || backend === 'none' ? null : delegatedUnitPath(layout, opts.delegationFacts ?? readDelegationFacts(layout));
  const parents = resolveParents(layout, opts.parentName ?? DEFAULT_PARENT_NAME, backend === 'v2' ? delegated : null);
  return { layout, backend, parents, capabilities: detectCapabilities(layout, parents, backend) };
}

/**
 * The manager for this host. Creates corral's parents when missing (idempotent, refusing a parent
 * corral did not create) and detects capabilities inside them, so `checkResources` describes what
 * a container cgroup will really get.
 */
export async function openCgroupManager(opts: CgroupManagerOptions = {}): Promise<CgroupManager> {
  const first = inspectCgroups(opts);
  const { layout, parents, backend } = first;
  const owner = opts.rootId === undefined ? UNSCOPED : new Owner(opts.rootId);
  switch (backend) {
    case 'none':
      return new NoneManager(layout, parents, first.capabilities, owner.rootId);
    case 'v1': {
      if (opts.createParents === false) return new V1Manager(layout, parents, first.capabilities, opts.resolveDevice, owner);
      await new V1Manager(layout, parents, first.capabilities, opts.resolveDevice, owner).ensureParents();
      return new V1Manager(layout, parents, detectCapabilities(layout, parents, backend), opts.resolveDevice, owner);
    }
    case 'v2': {
      if (opts.createParents === false) return new V2Manager(layout, parents, first.capabilities, opts.resolveDevice, owner);
      await new V2Manager(layout, parents, first.capabilities, opts.resolveDevice, owner).ensureParents();
      return new V2Manager(layout, parents, detectCapabilities(layout, parents, backend), opts.resolveDevice, owner);
    }
  }
}

/**
 * Kills the container's processes of a handle (never its monitor) with its creator's rules,
 * whichever manager is current.
 */
export async function killHandle(handle: CgroupHandle, owner: Owner = UNSCOPED): Promise<void> {
  assertHandleOwned(handle, owner);
  switch (handle.backend) {
    case 'v1': return killV1(handle, 'payload');
    case 'v2': {
      const dir = handle.unified === null ? null : payloadDir(handle, handle.unified);
      return dir === null || !existsSync(dir) ? undefined : killUnified(dir);
    }
    case 'none': throw new CorralError('HOST_UNSUPPORTED', `cannot kill \`${handle.name}\` through cgroups: it was created without any`);
  }
}

export { destroyHandle };
