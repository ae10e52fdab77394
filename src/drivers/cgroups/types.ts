// The cgroups driver's public shapes: the layout of this host, the handle the reconciler stores,
// what a manager can do, and what it reports. Kept free of Node imports so the reconciler (and its
// kernel-free tests) can import the types without pulling in the driver.

import type { Diagnostic } from '../../errors.js';
import type { DeviceRule, ResourcesSpec } from '../../manifest/spec.js';

/** How this host mounts cgroups. `hybrid`: v1 controllers plus a cgroup2 tree (often without controllers). */
export type CgroupLayoutKind = 'v2' | 'v1' | 'hybrid' | 'none';

/** Which manager a handle belongs to. A hybrid host uses `v1`, whose handles also carry the cgroup2 directory. */
export type CgroupBackend = 'v1' | 'v2' | 'none';

export interface V1Mount {
  readonly mountPoint: string;
  /** The cgroup path of the mount's root inside its hierarchy (`/` unless mounted from a container). */
  readonly root: string;
  /** Controllers co-mounted there (`cpu`, `cpuacct`), or `name=…` for a named hierarchy. */
  readonly controllers: readonly string[];
}

export interface UnifiedMount {
  readonly mountPoint: string;
  readonly root: string;
  /** The root's `cgroup.controllers`: what the cgroup2 tree can offer at all. */
  readonly controllers: readonly string[];
  readonly nsdelegate: boolean;
}

export interface CgroupLayout {
  readonly kind: CgroupLayoutKind;
  /** Controller name → its v1 hierarchy. Co-mounted controllers point at the same mount. */
  readonly v1: Readonly<Record<string, V1Mount>>;
  readonly unified: UnifiedMount | null;
  /** Where each controller lives; a controller on neither side is absent. */
  readonly controllers: Readonly<Record<string, 'v1' | 'v2'>>;
}

/**
 * What the reconciler stores for one container's cgroup: enough for any later corral (even after
 * the host's layout or corral's configuration changed) to find, kill and remove it with the
 * backend that created it. Plain JSON.
 */
export interface CgroupHandle {
  readonly formatVersion: 1;
  readonly backend: CgroupBackend;
  /** The container name, which is the cgroup's directory name under corral's parent. */
  readonly name: string;
  /** v1 controller → absolute directory. Co-mounted controllers share a directory. Empty on v2. */
  readonly v1: Readonly<Record<string, string>>;
  /** The cgroup2 directory: the whole cgroup on v2, the joined cgroup2 twin on a hybrid host. */
  readonly unified: string | null;
  /**
   * The two leaf cgroups inside the directories of `leavesUnder`: the monitor's, and the payload's
   * (the container's processes). Limits, stats and OOM events are the directories' (so the
   * monitor shares the container's limits). Absent in a handle stored by a corral from before
   * leaves: the processes are in the directories themselves, until the container's next start.
   */
  readonly leaves?: Leaves;
  /**
   * The directories that hold the leaves; absent: all of them (handles stored before this field).
   * Only the hierarchies that act on the payload alone need them: the cgroup2 directory (freeze,
   * kill; its no-internal-process rule) and the v1 freezer. In every other v1 hierarchy monitor and
   * payload share the container's directory, as they share its limits: a leaf there cost a cgroup
   * (a memcg, a CFS group…) per container for nothing (bench/density.mjs, slab per container).
   */
  readonly leavesUnder?: readonly string[];
}

/** Names of a container cgroup's two leaves (relative to each of its directories). */
export interface Leaves {
  readonly monitor: string;
  readonly payload: string;
}

/** Where corral's parent cgroup lives in each hierarchy, and why there. */
export interface CgroupParents {
  readonly name: string;
  /** v1 controller → absolute directory of corral's parent in that hierarchy. */
  readonly v1: Readonly<Record<string, string>>;
  readonly unified: string | null;
  /** Set when corral runs as a systemd unit with `Delegate=yes` and uses its subtree. */
  readonly delegated: { readonly unitDir: string; readonly leafDir: string } | null;
}

/**
 * What a container's cgroup lets it do with device nodes, host numbers resolved. `allowAll` is a
 * privileged container; otherwise everything outside `rules` is denied (open and mknod).
 */
export type DevicePolicy =
  | { readonly allowAll: true }
  | { readonly allowAll: false; readonly rules: readonly DeviceRule[] };

export type { DeviceRule };

/** What `checkDevices` found: whether the kernel enforces exactly the policy asked, and what it does enforce. */
export interface DeviceCheck {
  readonly enforced: boolean;
  /** A short summary of what the kernel enforces now (`a *:* rwm`, `8 rules`, `no device program`): a drift report's "before". */
  readonly current: string;
}

/** The resource knobs a manifest can ask for, and the operations a manager offers. */
export type CgroupFeature =
  | 'memory' | 'memorySwap' | 'memoryReservation'
  | 'cpuQuota' | 'cpuWeight' | 'cpuset' | 'pids' | 'ioWeight' | 'ioLimits'
  | 'freeze' | 'kill' | 'oomEvents' | 'memoryPeak' | 'cpuThrottleStats' | 'cloneIntoCgroup'
  /** A device allow-list the kernel enforces: the v1 `devices` controller, or a cgroup2 device program. */
  | 'devices';

export type FeatureSupport =
  | { readonly available: true; readonly via: string }
  | { readonly available: false; readonly reason: string };

export interface HostCgroupCapabilities {
  readonly layout: CgroupLayoutKind;
  readonly backend: CgroupBackend;
  readonly features: Readonly<Record<CgroupFeature, FeatureSupport>>;
  /** CPUs and memory nodes a container's cpuset may name (canonical lists), null when unknown. */
  readonly cpus: string | null;
  readonly mems: string | null;
}

/** Kernel counters of one cgroup; null where this host does not report the figure. */
export interface CgroupStats {
  readonly memory: {
    readonly currentBytes: number | null;
    readonly peakBytes: number | null;
    /** Processes the kernel OOM killer killed inside the cgroup. */
    readonly oomKills: number | null;
  };
  readonly cpu: {
    readonly usageUsec: number | null;
    readonly userUsec: number | null;
    readonly systemUsec: number | null;
    readonly periods: number | null;
    readonly throttledPeriods: number | null;
    readonly throttledUsec: number | null;
  };
  readonly pids: {
    readonly current: number | null;
    /** Times a fork or clone failed because the cgroup was at `pids.max`. */
    readonly limitHits: number | null;
  };
}

export interface AppliedIoLimit {
  /** `major:minor`, as the kernel reports it. */
  readonly device: string;
  readonly readBps: number | null;
  readonly writeBps: number | null;
  readonly readIops: number | null;
  readonly writeIops: number | null;
}

/**
 * The limits the kernel enforces right now, in ResourcesSpec units. null means the kernel default
 * (no limit, default weight, inherited cpuset) or a knob this host does not have.
 */
export type AppliedResources = {
  readonly [K in keyof ResourcesSpec]: K extends 'ioLimits' ? readonly AppliedIoLimit[] : ResourcesSpec[K] | null;
};

/**
 * Which fields of AppliedResources a read-back is for: the others are not read and keep the
 * kernel default (null). Drift checks read only what they compare (drift.ts › comparedFields).
 */
export type AppliedFields = (field: keyof AppliedResources) => boolean;

/** What a stats read covers: every counter, or the memory in use and the CPU time only. */
export type StatsScope = 'all' | 'usage';

export interface OomEvent {
  readonly name: string;
  /** The cgroup's OOM kill counter after the event. */
  readonly oomKills: number;
}

/** An active OOM subscription; `close` is idempotent. */
export interface Disposable {
  close(): void;
}

/**
 * One container cgroup's life. v1 and v2 implement it (like runc's fs and fs2); `none` is the null
 * manager. Every method refuses a cgroup corral did not create, or another state root did
 * (CGROUP_NOT_OWNED).
 */
/**
 * Which container cgroups a listing reads the marks of: a name, that container's only (a start or
 * a teardown must not read every container's marks); `except`, all but those (orphan detection
 * skips the names it has records for, whatever their cgroups are).
 */
export type CgroupListFilter = string | { readonly except: ReadonlySet<string> };

export interface CgroupManager {
  readonly backend: CgroupBackend;
  /** The state root this manager acts for (mark.ts); null: every root's cgroups under the parent (tests, benches). */
  readonly rootId: string | null;
  readonly layout: CgroupLayout;
  readonly parents: CgroupParents;
  readonly capabilities: HostCgroupCapabilities;

  /** Plan-time check of a container's resources against this host (no kernel access). */
  checkResources(resources: ResourcesSpec, container?: string): Diagnostic[];

  /**
   * Creates the container's cgroup in every hierarchy and applies the limits and the device
   * policy, all before any process can join. An existing cgroup of that name that corral made (a
   * crash between create and the state record) is adopted. A restricted device policy on a host
   * without `features.devices` is refused (CGROUP_KNOB_UNAVAILABLE), never dropped.
   */
  create(name: string, resources: ResourcesSpec, devices: DevicePolicy): Promise<CgroupHandle>;
  /** Applies limits to a live cgroup; knobs set to null go back to the kernel default. */
  set(handle: CgroupHandle, resources: ResourcesSpec): Promise<void>;
  /** `major:minor` of a block device path, as this manager writes I/O throttles (drift compares them so). */
  resolveDevice(path: string): string;
  /** What the kernel enforces now (drift detection: compare with `resourcesDrift`); all fields by default. */
  read(handle: CgroupHandle, fields?: AppliedFields): Promise<AppliedResources>;
  /**
   * Changes a live cgroup's device policy. A device allowed before and after is never denied in
   * between, except when leaving allow-all for a list on v1 (everything is denied between the two
   * writes). Returns the handle to store from now on: a handle made by a corral that did not
   * manage devices gains its devices cgroup, into which the container's processes are moved.
   */
  setDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<CgroupHandle>;
  /** Whether the kernel enforces exactly `devices` for the cgroup now, and what it enforces. */
  checkDevices(handle: CgroupHandle, devices: DevicePolicy): Promise<DeviceCheck>;
  /** `usage`: memory in use and CPU time only, the rest null (what `corral ps` shows). */
  stats(handle: CgroupHandle, scope?: StatsScope): Promise<CgroupStats>;
  /** Calls `listener` after each OOM kill inside the cgroup, until closed. */
  watchOom(handle: CgroupHandle, listener: (event: OomEvent) => void): Disposable;

  // "The container's processes" below means the payload leaf (the whole cgroup for a handle
  // without leaves): never the monitor, which must outlive them to record their exit.

  /** Moves a process (its whole thread group) into the container's processes, in every hierarchy. */
  addProc(handle: CgroupHandle, pid: number): Promise<void>;
  /** Pids of the container's processes (thread-group leaders). */
  pids(handle: CgroupHandle): Promise<number[]>;

  /** Stops the container's processes, and resolves once the kernel reports them frozen. */
  freeze(handle: CgroupHandle): Promise<void>;
  thaw(handle: CgroupHandle): Promise<void>;
  /** SIGKILLs the container's processes, and resolves once they are gone. */
  kill(handle: CgroupHandle): Promise<void>;
  /**
   * Kills whatever is left in the whole cgroup (the monitor too) and removes it from every
   * hierarchy, leaves first, retrying while busy (bounded). Missing counts as done.
   */
  destroy(handle: CgroupHandle): Promise<void>;

  /** The container cgroups this root owns under its parent (marked with its id), from any earlier run too. */
  list(filter?: CgroupListFilter): Promise<CgroupHandle[]>;
  /**
   * Container cgroups under the parent marked by a corral from before root ids: whose they are is
   * for the caller to tell (a state record of this root naming one). Empty for a manager without
   * a root id, whose `list` has them.
   */
  listWithoutRootId(filter?: CgroupListFilter): Promise<CgroupHandle[]>;
  /** Stamps this root's id on a handle's directories that carry a mark without one. */
  adopt(handle: CgroupHandle): Promise<void>;
  /** Kills and destroys every cgroup this root owns under its parent, then the parent if empty (tests, uninstall). */
  removeAll(): Promise<void>;
}
