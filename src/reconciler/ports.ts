// What the reconciler needs from the host, as four narrow ports, in the order a start uses them:
// rootfs → cgroups → network → runtime (and the reverse to tear down). Each driver implements
// its own port in `src/drivers/<driver>/port.ts`; `src/compose.ts` only wires them; tests of
// apply's logic use fakes. Every method is idempotent where the name says so: crash recovery
// re-runs them. docs/architecture.md ("Ports") explains the contract and how to add a driver.
//
// Handles (`Json`): what a driver hands back to be stored in the state record and gets back
// later (cgroup directories, the shim's pids, the network's addresses). They are opaque here;
// each driver versions its own and validates it when it reads it back.
//
// Signals: every call that can take long gets an AbortSignal (the pass's, bounded by the step's
// deadline); a driver stops its work and rejects when it fires.

import type { UserRangeAllocator } from './user-ranges.js';
import type { Diagnostic, Disposable } from '../errors.js';
import type { ContainerSpec, DevicesSpec, ResourcesSpec, UserNamespace } from '../manifest/spec.js';
import type { ExitRecord, Json, UserRange } from '../state/record.js';
import type { NetworkDefinition } from '../manifest/network.js';
import type { SpecOrigin } from '../manifest/spec.js';
import type { ActualNetwork, FieldDiff } from './plan/types.js';

export type { Json } from '../state/record.js';
export type { ActualNetwork, FieldDiff } from './plan/types.js';

/** Every port answers these at plan time, so `plan` refuses what apply could not do. */
interface PlanTimeChecks {
  /**
   * What this host cannot do for the spec: a cgroup knob it lacks, a missing image or host device,
   * a broken seccomp profile, a bridge name taken. Errors make the container unplannable.
   */
  check(spec: ContainerSpec): Promise<Diagnostic[]>;
}

// ---------------------------------------------------------------------------------------------
// The root filesystem: the rootfs driver prepares directories; the runtime mounts them inside the
// container's own mount namespace. Nothing is mounted in the host's mount table.

export interface BindSpec {
  /** Absolute host path. */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
  readonly readOnly: boolean;
  /** Extra flags for the bind (applied with the read-only remount). Absent: none. */
  readonly options?: readonly ('nosuid' | 'nodev' | 'noexec')[];
  /** A file corral owns (/etc/hosts): a symlink the image has at the target is replaced, not followed. */
  readonly replaceSymlink?: boolean;
}

export interface RootfsLayout {
  /** Lower layers, top first (overlayfs `lowerdir` order). */
  readonly lower: readonly string[];
  /** Copy-on-write layer of this container; survives restarts, removed with the container. */
  readonly upper: string;
  readonly work: string;
  /** Empty directory on the host; the runtime mounts the overlay here, inside the new mount namespace. */
  readonly target: string;
  /**
   * Binds applied inside the new root right after the overlay mount, before the manifest's own
   * mounts (the host rootfs binds the host's /usr read-only this way).
   */
  readonly binds: readonly BindSpec[];
  /** `readOnlyRootfs`: the root is remounted read-only once everything is mounted. */
  readonly readOnly: boolean;
  /**
   * The host directory of the container's secrets and config files (a tmpfs), bound read-only
   * at /run/corral/files after the manifest's mounts; each file's target is a symlink into it.
   * Absent or null: the spec has none.
   */
  readonly files?: string | null;
}

/** Defaults an image supplies; the manifest overrides each (command, args, env by name...). */
export interface ImageDefaults {
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
  readonly env: readonly string[];
  readonly user: string | null;
  readonly workingDir: string | null;
  readonly stopSignal: string | null;
}

/** Ids inside the container, as resolved at start; `home` from /etc/passwd (null: none found). */
export interface ProcessUser {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly home: string | null;
}

export interface PreparedRootfs {
  readonly layout: RootfsLayout;
  readonly defaults: ImageDefaults | null;
  /** Host paths of the named volumes the spec mounts, by volume name. */
  readonly volumes: Readonly<Record<string, string>>;
  /** Who the process runs as, names looked up in the container's own /etc/passwd and /etc/group. */
  readonly user: ProcessUser;
  /**
   * Digests of what the start really used (`image`), when they may differ from the plan's: an
   * image pulled at start was not in the store when the plan was made. Absent: the plan's.
   */
  readonly references?: Readonly<Record<string, string>>;
  /**
   * Values of the environment variables that come from secrets (`valueFrom: {secret}`), read at
   * this start: given to the process, never to a record.
   */
  readonly secretEnv?: Readonly<Record<string, string>>;
  /** What the state record keeps of it. */
  readonly handle: Json;
}

export interface RootfsPort extends PlanTimeChecks {
  /** Digests that belong in the spec hash (`image`: the image's config digest). */
  references(spec: ContainerSpec): Promise<Record<string, string>>;
  /** Creates upper/work/mount point and volumes and resolves lower layers. Idempotent. */
  prepare(name: string, spec: ContainerSpec, signal: AbortSignal): Promise<PreparedRootfs>;
  /**
   * Writes the current content of the spec's secrets and config files into the running
   * container's tree, swapped in at once; returns their digests (`file:…`) as written.
   */
  refreshFiles(name: string, spec: ContainerSpec, signal: AbortSignal): Promise<Record<string, string>>;
  /** Bytes the container's writable layer holds (metrics); null when it has none. Optional. */
  writableBytes?(name: string): Promise<number | null>;
  /** Deletes the container's writable layer and directories (volumes stay). Idempotent. */
  remove(name: string, signal: AbortSignal): Promise<void>;
  exists(name: string): Promise<boolean>;
  /**
   * Names that have a container directory under the state root. `except`: names left out without
   * a look at their directories (orphan detection passes those it has records for).
   */
  list(except?: ReadonlySet<string>): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------
// cgroups: limits, the device policy, and where the container's processes go.

/** Where a new process of the container is placed, in every hierarchy the host has. */
export interface CgroupPlacement {
  /** `cgroup.procs` files the container's processes are written into before they run. */
  readonly procs: readonly string[];
  /** `cgroup.procs` files of the monitor's own leaf (charged to the container, kept apart from it). */
  readonly monitorProcs: readonly string[];
  /** A cgroup2 directory for clone3(CLONE_INTO_CGROUP), or null. */
  readonly cloneInto: string | null;
  /** A file with an `oom_kill N` line for the container's memory cgroup, or null. */
  readonly oomEvents: string | null;
}

/** What `CgroupPort.survey` saw; the reconciler only hands it back to `drift`. */
export interface CgroupSurvey {
  /** True: the directory existed at the look. False: it did not, or the look did not cover it. */
  has(dir: string): boolean;
}

export interface CgroupPort extends PlanTimeChecks {
  /** Creates (or adopts) the container's cgroups with these limits and device policy. Idempotent. */
  create(name: string, resources: ResourcesSpec, devices: DevicesSpec, signal: AbortSignal): Promise<Json>;
  /** Applies the limits and the device policy live; returns the handle to store from now on. */
  update(handle: Json, resources: ResourcesSpec, devices: DevicesSpec, signal: AbortSignal): Promise<Json>;
  /**
   * Limits and device rules on the host that differ from the spec's; null when the cgroup is gone.
   * `survey`: what `survey` saw, for an inspection that checks many containers at once.
   */
  drift(handle: Json, resources: ResourcesSpec, devices: DevicesSpec, survey?: CgroupSurvey): Promise<FieldDiff[] | null>;
  /**
   * One listing of corral's cgroup parents, which `drift` consults before asking the kernel
   * about each of a container's directories (nine of them on a hybrid host).
   */
  survey?(): Promise<CgroupSurvey>;
  /** Where the container's processes (and its monitor) go. */
  placement(handle: Json): CgroupPlacement;
  /** The placement of a container by name (for a process that joins it), or null without a cgroup. */
  placementOf(name: string): Promise<CgroupPlacement | null>;
  /** Kills every process in the container's cgroups. Idempotent. */
  kill(name: string): Promise<void>;
  /** Kills what is left and removes the cgroups. Idempotent. */
  destroy(name: string, signal: AbortSignal): Promise<void>;
  /**
   * Container names with a cgroup under corral's parent. `except`: names left out without a look
   * at their cgroups (orphan detection passes the names it has records for: 1,000 containers'
   * ownership marks are 27,000 reads on a v1 host). `survey`: one taken in the same inspection,
   * which may show that no other name has a directory there.
   */
  list(except?: ReadonlySet<string>, survey?: CgroupSurvey): Promise<string[]>;
  /** OOM kills counted in the container's cgroup so far. */
  oomKills(handle: Json): Promise<number>;
  /** `usage`: `memoryBytes` and `cpuSeconds` only, the others null (`corral ps`, a start's CPU baseline). */
  stats(handle: Json, scope?: 'all' | 'usage'): Promise<Record<string, number | null>>;
}

// ---------------------------------------------------------------------------------------------
// Network: what the container's network namespace needs beyond what the runtime makes itself
// (`none`: a private namespace with only `lo`; `host`; `container:NAME`). A bridge driver creates
// a namespace here, wires it, and hands its path to the runtime to join.

export interface NetworkAttachment {
  /** A network namespace file the container joins instead of making its own; null: none. */
  readonly netnsPath: string | null;
  /** What the state record keeps (addresses, veth names, forwarded ports); null: nothing to undo. */
  readonly handle: Json | null;
  /** Files the runtime binds into the container (read-only): its /etc/hosts and /etc/resolv.conf. */
  readonly binds: readonly BindSpec[];
}

export interface NetworkPort extends PlanTimeChecks {
  /**
   * What the manifest asks of the network that this driver does not implement: `NOT_SUPPORTED`
   * errors. Pure (no host access), so `validate` runs it too.
   */
  supports(spec: ContainerSpec): Diagnostic[];
  /** Before the start: makes what the container's network needs. Idempotent (by name). */
  attach(name: string, spec: ContainerSpec, signal: AbortSignal): Promise<NetworkAttachment>;
  /** After the stop: undoes it (addresses released, forwards removed). Idempotent (by name). */
  detach(name: string, handle: Json | null, signal: AbortSignal): Promise<void>;
  /**
   * Bytes the container received and sent through what attach made (a bridged container's veth),
   * for metrics; null when the driver made nothing for it. Optional: drivers without counters.
   */
  stats?(handle: Json): Promise<{ readonly receiveBytes: number; readonly transmitBytes: number } | null>;
  /** Names with network resources under this state root (orphan detection). */
  list(): Promise<string[]>;
  /** The networks (`kind: Network`) this driver made and keeps, as it recorded them. */
  networks(): Promise<ActualNetwork[]>;
  /** What this host cannot do for the network: its subnet over a host route, its bridge name taken. */
  checkNetwork(definition: NetworkDefinition): Promise<Diagnostic[]>;
  /**
   * Makes the network as defined: its bridge, address, MTU and rules; a changed subnet, gateway or
   * bridge name rebuilds the bridge (its containers are restarted by the plan). Idempotent.
   */
  ensureNetwork(definition: NetworkDefinition, hash: string, origin: SpecOrigin | null, signal: AbortSignal): Promise<void>;
  /** Removes the network's bridge and record once no container joins it. Idempotent. */
  removeNetwork(name: string, signal: AbortSignal): Promise<void>;
  /**
   * Once per pass, after the changes: restores what the network needs beyond each container
   * (the nftables table, when a firewall reload removed or altered it). Returns what it repaired.
   */
  sync(signal: AbortSignal): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------
// Runtime: the container's processes (namespaces, the monitor, exec).

export interface StartRequest {
  readonly name: string;
  readonly spec: ContainerSpec;
  readonly rootfs: PreparedRootfs;
  readonly cgroup: CgroupPlacement;
  readonly network: NetworkAttachment;
  /** Host id range for `namespaces.user: auto`. */
  readonly userRange: UserRange | null;
  /** For `namespaces.network: container:NAME`: that container's runtime handle. */
  readonly joinNetworkOf: Json | null;
}

export interface ProcessStatus {
  /** `unmonitored`: the command runs but its monitor is gone (nothing would record its exit). */
  readonly process: 'running' | 'unmonitored' | 'exited' | 'missing';
  readonly exit: ExitRecord | null;
  /** The current runtime handle, found from the container's own directory. */
  readonly runtime: Json | null;
  readonly startedAt: string | null;
}

export interface StopResult {
  /** The recorded exit (an unknown one when no monitor watched it); null when nothing ran. */
  readonly exit: ExitRecord | null;
  /** The process ignored its stop signal for its whole stopTimeout and was killed. */
  readonly killedAfterTimeout: boolean;
}

export interface RuntimePort extends PlanTimeChecks {
  /** Digests that belong in the spec hash (`seccomp`: the profile file's digest). */
  references(spec: ContainerSpec): Promise<Record<string, string>>;
  start(request: StartRequest, signal: AbortSignal): Promise<{ runtime: Json; startedAt: string }>;
  /** Sends stopSignal, waits up to stopTimeout, then runs killAll. */
  stop(name: string, runtime: Json | null, spec: ContainerSpec, killAll: () => Promise<void>, signal: AbortSignal): Promise<StopResult>;
  /** What runs for `name` now, checked against pid start times (no pid-reuse mistakes). */
  status(name: string, runtime: Json | null): Promise<ProcessStatus>;
  /** Sends `signal` to the container's PID 1 (by pidfd, checked against its start time); false when it does not run. */
  signal(name: string, runtime: Json | null, signal: number): Promise<boolean>;
  /** Removes the monitor's files and kills a monitor left without a container. Idempotent. */
  cleanup(name: string, signal: AbortSignal): Promise<void>;
  /** Names with a monitor directory under the state root. */
  list(): Promise<string[]>;
  /** Calls back once when the container's PID 1 exits (agent mode), without polling /proc. */
  watchExit(name: string, runtime: Json, onExit: () => void): Disposable;
  /**
   * The user namespace a manifest that sets none gets here (`auto` where this state root can build
   * an idmapped root), or null. Absent: none.
   */
  defaultUserNamespace?(): Promise<UserNamespace | null>;
  /** Runs a command inside the container (health checks); resolves with its exit code. */
  exec(name: string, runtime: Json, spec: ContainerSpec, argv: readonly string[], timeoutMs: number): Promise<{ code: number; output: string }>;
}

export interface Ports {
  readonly rootfs: RootfsPort;
  readonly cgroups: CgroupPort;
  readonly network: NetworkPort;
  readonly runtime: RuntimePort;
  /** Host id ranges of `auto` user namespaces (src/state/subid-pool.ts); absent: `auto` is refused. */
  readonly userRanges?: UserRangeAllocator;
}
