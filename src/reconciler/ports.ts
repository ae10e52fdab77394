// What the reconciler needs from the host, as three narrow ports. src/reconciler/wiring.ts adapts
// the real drivers (cgroups, overlay, namespaces) to them; tests of apply's logic use fakes.
// Every method is idempotent where the name says so: crash recovery re-runs them.

import type { Diagnostic, Disposable } from '../errors.js';
import type { ContainerSpec, DevicesSpec, ResourcesSpec } from '../manifest/spec.js';
import type { ImageDefaults, RootfsLayout } from '../drivers/overlay/rootfs-layout.js';
import type { ExitRecord, Json, UserRange } from '../state/record.js';
import type { FieldDiff } from './plan/types.js';

export interface PreparedRootfs {
  readonly layout: RootfsLayout;
  readonly defaults: ImageDefaults | null;
  /** Host paths of the named volumes the spec mounts, by volume name. */
  readonly volumes: Readonly<Record<string, string>>;
}

export interface RootfsPort {
  /** Digests that belong in the spec hash (`image`: config digest, `seccomp`: profile digest). */
  references(spec: ContainerSpec): Promise<Record<string, string>>;
  /** Creates upper/work/mount point and volumes and resolves lower layers. Idempotent. */
  prepare(name: string, spec: ContainerSpec): Promise<PreparedRootfs>;
  /** Deletes the container's writable layer and directories (volumes stay). Idempotent. */
  remove(name: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  /** Names that have a container directory under the state root. */
  list(): Promise<string[]>;
  /** Host checks at plan time (bind sources that do not exist, unknown images). */
  check(spec: ContainerSpec): Promise<Diagnostic[]>;
}

export interface CgroupPort {
  /** Creates (or adopts) the container's cgroups with these limits and device policy. Idempotent. */
  create(name: string, resources: ResourcesSpec, devices: DevicesSpec): Promise<Json>;
  /** Applies the limits and the device policy live; returns the handle to store from now on. */
  update(handle: Json, resources: ResourcesSpec, devices: DevicesSpec): Promise<Json>;
  /** Limits and device rules on the host that differ from the spec's; null when the cgroup is gone. */
  drift(handle: Json, resources: ResourcesSpec, devices: DevicesSpec): Promise<FieldDiff[] | null>;
  /** `cgroup.procs` files a new process must be written into before it runs. */
  procsFiles(handle: Json): string[];
  /** Kills every process in the container's cgroups. Idempotent. */
  kill(name: string): Promise<void>;
  /** Kills what is left and removes the cgroups. Idempotent. */
  destroy(name: string): Promise<void>;
  /** Container names with a cgroup under corral's parent. */
  list(): Promise<string[]>;
  /** Knobs and device enforcement the host lacks, missing host devices: plan-time errors. */
  check(resources: ResourcesSpec, devices: DevicesSpec): Diagnostic[];
  /** OOM kills counted in the container's cgroup so far. */
  oomKills(handle: Json): Promise<number>;
  stats(handle: Json): Promise<Record<string, number | null>>;
}

export interface StartRequest {
  readonly name: string;
  readonly spec: ContainerSpec;
  readonly rootfs: PreparedRootfs;
  readonly cgroupHandle: Json;
  readonly cgroupProcs: readonly string[];
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

export interface RuntimePort {
  start(request: StartRequest, signal: AbortSignal): Promise<{ runtime: Json; startedAt: string }>;
  /** Sends stopSignal, waits up to stopTimeout, then runs killAll; returns the recorded exit (an unknown one without a monitor). */
  stop(name: string, runtime: Json | null, spec: ContainerSpec, killAll: () => Promise<void>): Promise<ExitRecord | null>;
  /** What runs for `name` now, checked against pid start times (no pid-reuse mistakes). */
  status(name: string, runtime: Json | null): Promise<ProcessStatus>;
  /** Removes the monitor's files and kills a monitor left without a container. Idempotent. */
  cleanup(name: string): Promise<void>;
  /** Names with a monitor directory under the state root. */
  list(): Promise<string[]>;
  /** Calls back once when the container's PID 1 exits (agent mode), without polling /proc. */
  watchExit(name: string, runtime: Json, onExit: () => void): Disposable;
  /** Runs a command inside the container (health checks); resolves with its exit code. */
  exec(name: string, runtime: Json, spec: ContainerSpec, argv: readonly string[], timeoutMs: number): Promise<{ code: number; output: string }>;
}

export interface Ports {
  readonly rootfs: RootfsPort;
  readonly cgroups: CgroupPort;
  readonly runtime: RuntimePort;
}
