// SpawnSpec: everything the shim does, decided. It is a plain value (no policy is left for the C
// side), built by spec.ts and encoded by protocol.ts. Pure.

import type { OpKindName } from './protocol-fields.js';

export type CreateKind = 'none' | 'dir' | 'file' | 'replace';

/** One step of the mount program. MOUNT steps run inside the new root before pivot_root, FINAL steps after it. */
export interface MountOp {
  readonly kind: OpKindName;
  /** Container path (absolute); resolved inside the new root, symlinks cannot escape it. */
  readonly target: string;
  /** Host path for binds, the link text for symlinks, the filesystem name for mounts. */
  readonly source?: string;
  readonly fstype?: string;
  readonly data?: string;
  /** MS_* flags. */
  readonly flags?: number;
  /** mknod mode, file type bits included. */
  readonly mode?: number;
  /** mknod device: makedev(major, minor). */
  readonly dev?: number;
  /**
   * Create the target when missing; for binds the kind follows the source. `replace` (binds of a
   * file corral owns, such as /etc/hosts): a symlink the image put there is removed first, so the
   * file lands at the path the container reads and never where the image's link points.
   */
  readonly create?: CreateKind;
  /** A missing target (ENOENT) is not an error: masked paths that this kernel lacks. */
  readonly optional?: boolean;
  /**
   * A bind's id mapping: `container` maps through the container's user namespace (host id n shows
   * as n inside), `{uidMap, gidMap}` through maps of its own (uid_map lines: inside-the-mount id,
   * host id, count).
   */
  readonly idmap?: 'container' | { readonly uidMap: string; readonly gidMap: string };
}

export interface Rlimit {
  readonly resource: number;
  readonly soft: bigint;
  readonly hard: bigint;
}

export interface CapabilitySets {
  readonly bounding: bigint;
  readonly effective: bigint;
  readonly permitted: bigint;
  readonly inheritable: bigint;
  readonly ambient: bigint;
}

export interface ProcessPlan {
  readonly argv: readonly string[];
  /** `NAME=value`, the complete environment. */
  readonly env: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly rlimits: readonly Rlimit[];
  readonly capabilities: CapabilitySets;
  readonly noNewPrivileges: boolean;
  /** A classic BPF program (8 bytes per instruction), or null for none. */
  readonly seccomp: Uint8Array | null;
  /** null: leave the inherited value. */
  readonly oomScoreAdj: number | null;
  readonly umask: number;
}

export interface RootMount {
  /** Empty host directory; the shim mounts the root here inside the new mount namespace. */
  readonly target: string;
  readonly source: string;
  readonly fstype: string;
  readonly data: string;
  readonly flags: number;
  /** MS_REC|MS_PRIVATE or MS_REC|MS_SLAVE, applied to `/` of the new namespace first. */
  readonly propagation: number;
  /**
   * With a user namespace: the overlay's layers, for the monitor to mount it itself with the lower
   * layers idmapped to the container's namespace (nothing is chowned or copied).
   */
  readonly layers?: { readonly lower: readonly string[]; readonly upper: string; readonly work: string };
}

/** A process whose namespaces are joined; checked against its start time. */
export interface JoinTarget {
  readonly pid: number;
  readonly startTime: number;
}

/** Whose network namespace a new container joins: a running process's, or a namespace file's (a network driver's). */
export type NetworkJoin = JoinTarget | { readonly netnsPath: string };

export interface RunSpawnSpec {
  readonly kind: 'run';
  readonly name: string;
  /** CLONE_NEW* flags. CLONE_NEWCGROUP is applied after the cgroup placement. */
  readonly namespaceFlags: number;
  /** Lines of uid_map and gid_map, or null without a user namespace. */
  readonly userNamespace: { readonly uidMap: string; readonly gidMap: string } | null;
  readonly joinNetwork: NetworkJoin | null;
  readonly cgroupProcs: readonly string[];
  /** cgroup v2 directory for clone3(CLONE_INTO_CGROUP), or null. */
  readonly cgroupDir: string | null;
  readonly root: RootMount;
  readonly mounts: readonly MountOp[];
  readonly finalize: readonly MountOp[];
  readonly hostname: string | null;
  readonly loopback: boolean;
  readonly process: ProcessPlan;
  readonly shimDir: string;
  readonly logDir: string;
  readonly logMaxBytes: number;
  readonly logMaxFiles: number;
  readonly stopSignal: number;
  /**
   * PID 1 is the shim's own init (`spec.init`): set up like the command (same credentials,
   * capabilities, seccomp), it forks the command, forwards signals to it, reaps every zombie, and
   * passes the command's wait status to the monitor when it ends.
   */
  readonly init: boolean;
  /** A file with an `oom_kill N` line (memory.oom_control on v1, memory.events on v2), or null. */
  readonly oomEventsFile: string | null;
  /**
   * `cgroup.procs` files the monitor writes its own pid into, so that its CPU and memory are the
   * container's (a leaf of the container's cgroup). Empty: the monitor stays where it started.
   */
  readonly monitorCgroupProcs: readonly string[];
  /** The monitor's own oom_score_adj, set once the container's first process is cloned (which keeps its own); null: inherited. */
  readonly monitorOomScoreAdj: number | null;
}

export interface ExecSpawnSpec {
  readonly kind: 'exec';
  readonly name: string;
  /** CLONE_NEW* flags of the namespaces to enter (only those the container does not share with the host). */
  readonly namespaceFlags: number;
  readonly cgroupProcs: readonly string[];
  readonly process: ProcessPlan;
  readonly tty: boolean;
}

export type SpawnSpec = RunSpawnSpec | ExecSpawnSpec;

export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const RLIM_INFINITY = 2n ** 64n - 1n;
