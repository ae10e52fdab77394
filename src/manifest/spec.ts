// ContainerSpec: the normalized, versioned form of a manifest — the only thing downstream code
// (plan, drivers, state) reads. Every default is written out so a plan can show it, units are
// resolved (bytes, millicores, milliseconds), and lists whose order carries no meaning are sorted
// so that two manifests saying the same thing give equal specs and equal hashes. Pure.

import type { Signal } from './signal.js';

export const SPEC_VERSION = 1;

export type PrivateOrHost = 'private' | 'host';
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export type Propagation = 'private' | 'rprivate' | 'slave' | 'rslave' | 'shared' | 'rshared';
export type MountOption = 'nosuid' | 'nodev' | 'noexec' | 'noatime' | 'nodiratime' | 'relatime';
export type Unlimited = 'unlimited';

export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';

export type RootfsSource =
  /**
   * A store name, or a registry reference kept under `registry/repository` (a name with a `/`)
   * and its tag; `digest` when the reference pins one; `pullPolicy` when not the default
   * IfNotPresent (both absent for store names, so their specs hash as before).
   */
  | { readonly kind: 'image'; readonly name: string; readonly tag: string; readonly digest?: string; readonly pullPolicy?: 'Always' | 'Never' }
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'host' };

export interface EnvVar {
  readonly name: string;
  /** '' when `secret` is set: the value is read from the secret at start, never stored. */
  readonly value: string;
  /** The name of a secret of `files` whose content is the value (`valueFrom: {secret}`). */
  readonly secret?: string;
}

/** Where a secret's or config file's content comes from; never the content of a secret itself. */
export type FileSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'systemdCredential'; readonly name: string }
  | { readonly kind: 'content'; readonly text: string };

/**
 * A spec's secrets and config files. A spec from a record of an older corral lacks the field (as
 * hash.ts › withLaterDefaults knows); so do specs tests build by hand.
 */
export function filesOf(spec: ContainerSpec): readonly FileSpec[] {
  const older: Partial<Pick<ContainerSpec, 'files'>> = spec;
  return older.files ?? [];
}

/** The prefix of the references that identify a single-file bind's source (`bind:/etc/app.conf`). */
export const BIND_REFERENCE = 'bind:';

/** The prefix of the references (content digests) of secrets and config files. */
export const FILE_REFERENCE = 'file:';

/** The reference key of a secret's or config file's content digest: `file:secret/db`. */
export function fileReferenceKey(f: { readonly kind: 'secret' | 'config'; readonly name: string }): string {
  return `${FILE_REFERENCE}${f.kind}/${f.name}`;
}

/** `restart`, nothing (`none`), or a signal to PID 1 after the swap. */
export type OnChange = { readonly kind: 'restart' } | { readonly kind: 'none' } | { readonly kind: 'signal'; readonly signal: Signal };

/**
 * A secret or a config file (`spec.secrets`, `spec.configFiles`): delivered read-only from a
 * memory-backed tree of the container, at `target` (a symlink into that tree). Its content's
 * digest is a reference of the spec (`file:KIND/NAME`), so a change is planned by `onChange`.
 */
export interface FileSpec {
  readonly kind: 'secret' | 'config';
  readonly name: string;
  readonly source: FileSource;
  readonly target: string;
  /** Ids inside the container. */
  readonly owner: MountOwner;
  readonly mode: number;
  readonly onChange: OnChange;
}

export interface Ulimit {
  readonly name: string;
  readonly soft: number | Unlimited;
  readonly hard: number | Unlimited;
}

export interface ProcessSpec {
  /** null: take the image's Entrypoint. */
  readonly command: readonly string[] | null;
  /** null: the image's Cmd when `command` is null too, else no extra arguments. */
  readonly args: readonly string[] | null;
  /** null: the image's WorkingDir, else `/`. */
  readonly workingDir: string | null;
  /** Sorted by name. The caller's environment never leaks in. */
  readonly env: readonly EnvVar[];
  /** Ids used as they are, unless `userLookup` is set. Left out in the manifest (0, 0, none, no lookup): the image's `User` applies when it has one. */
  readonly user: { readonly uid: number; readonly gid: number; readonly groups: readonly number[] };
  /**
   * A user or group given by name: looked up in the container's /etc/passwd and /etc/group at every
   * start (src/drivers/overlay/user-lookup.ts); `user` is then unused (0, 0, none). Null: none.
   */
  readonly userLookup: UserLookup | null;
  readonly oomScoreAdj: number;
  /** Sorted by name. */
  readonly ulimits: readonly Ulimit[];
}

/** A user given by name or number, with a group (null: the user's primary one) and extra groups. */
export interface UserLookup {
  readonly user: string | number;
  readonly group: string | number | null;
  /** Sorted: numbers first, ascending, then names. */
  readonly groups: readonly (string | number)[];
}

export interface IdMap {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

export type UserNamespace =
  | { readonly kind: 'auto'; readonly size: number }
  | { readonly kind: 'manual'; readonly uidMap: readonly IdMap[]; readonly gidMap: readonly IdMap[] };

export type NetworkNamespace =
  | { readonly kind: 'private' }
  | { readonly kind: 'host' }
  | { readonly kind: 'container'; readonly container: string };

export interface NamespacesSpec {
  readonly pid: PrivateOrHost;
  readonly ipc: PrivateOrHost;
  readonly uts: PrivateOrHost;
  readonly cgroup: PrivateOrHost;
  readonly network: NetworkNamespace;
  /** null: no user namespace. */
  readonly user: UserNamespace | null;
}

export interface IoLimit {
  readonly device: string;
  readonly readBps: number | null;
  readonly writeBps: number | null;
  readonly readIops: number | null;
  readonly writeIops: number | null;
}

export interface ResourcesSpec {
  readonly memoryBytes: number | null;
  /** Memory plus swap. Equal to memoryBytes by default: no swap. */
  readonly memorySwapBytes: number | Unlimited | null;
  readonly memoryReservationBytes: number | null;
  /** CPU limit in millicores (1000 = one core); null: no limit. */
  readonly cpuMillis: number | null;
  /** 1..10000, cgroup v2 scale; null: the kernel default (100). */
  readonly cpuWeight: number | null;
  /** Canonical cpu lists (`0-2,5`); null: inherit. */
  readonly cpusetCpus: string | null;
  readonly cpusetMems: string | null;
  readonly pids: number | Unlimited;
  readonly ioWeight: number | null;
  /** Sorted by device. */
  readonly ioLimits: readonly IoLimit[];
}

/**
 * One rule of the device allow-list the kernel enforces for a container (a v1 `devices.allow`
 * line, a clause of the v2 device program). Everything not allowed is denied: open, and mknod.
 */
export interface DeviceRule {
  readonly type: 'c' | 'b';
  /** null: any major (minor). */
  readonly major: number | null;
  readonly minor: number | null;
  /** Non-empty subset of `rwm`, in that order: read, write, mknod. */
  readonly access: string;
}

/** A host device node the manifest hands to the container (`spec.devices`). */
export interface HostDevice {
  /** Host path, under /dev. */
  readonly hostPath: string;
  /** Where the node appears in the container, under /dev. */
  readonly containerPath: string;
  /** Non-empty subset of `rwm`, in that order. */
  readonly access: string;
}

/**
 * The container's device policy, written out in full so a plan shows it. The host devices are
 * added to the allow-list at start, once the host tells their numbers.
 */
export interface DevicesSpec {
  /** privileged: every device of the host may be opened and created; `allow` is then empty. */
  readonly allowAll: boolean;
  readonly allow: readonly DeviceRule[];
  /** Sorted by container path. */
  readonly host: readonly HostDevice[];
}

/** Ids inside the container (with a user namespace, as the container sees them). */
export interface MountOwner {
  readonly uid: number;
  readonly gid: number;
}

export type MountSpec =
  | {
      readonly type: 'bind';
      readonly source: string;
      readonly target: string;
      readonly readOnly: boolean;
      readonly propagation: Propagation;
      readonly recursive: boolean;
      readonly options: readonly MountOption[];
      /** null: host ids as they are; `container`: through the user namespace; an owner: these host ids show as the container's user. */
      readonly idmap: 'container' | MountOwner | null;
    }
  | {
      readonly type: 'tmpfs';
      readonly target: string;
      readonly sizeBytes: number;
      /** Permission bits, e.g. 0o1777. */
      readonly mode: number;
      /** Owner of the root directory; null: root (0:0). */
      readonly owner: MountOwner | null;
      readonly readOnly: boolean;
      readonly options: readonly MountOption[];
    }
  | {
      readonly type: 'volume';
      readonly name: string;
      readonly target: string;
      /** Set on the volume's top directory at every start; null: left as it is (root on creation). */
      readonly owner: MountOwner | null;
      /** Permission bits set at every start; null: left as they are (0755 on creation). */
      readonly mode: number | null;
      readonly readOnly: boolean;
      readonly options: readonly MountOption[];
    };

export interface PortMapping {
  readonly hostIP: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
}

export interface NetworkSpec {
  /** Derived from namespaces.network for host and container:NAME; else the manifest's mode. */
  readonly mode: 'none' | 'bridge' | 'host' | 'container';
  /**
   * `mode: bridge`: the fixed address asked for (`auto`: leased), the extra names, and the network
   * joined (absent: the default network, so that a spec written before networks had names hashes
   * as it did); null otherwise.
   */
  readonly bridge: { readonly address: string; readonly aliases: readonly string[]; readonly network?: string } | null;
  /** Sorted by host address, port and protocol. */
  readonly ports: readonly PortMapping[];
  readonly dns: { readonly nameservers: readonly string[]; readonly search: readonly string[]; readonly options: readonly string[] } | null;
}

export type SeccompSpec =
  | { readonly kind: 'default' }
  | { readonly kind: 'unconfined' }
  /** An absolute path; relative manifest paths are resolved against the manifest's directory. */
  | { readonly kind: 'file'; readonly path: string };

export interface SecuritySpec {
  /** The final capability set (defaults, then drop, then add), sorted, `CAP_` names. */
  readonly capabilities: readonly string[];
  readonly noNewPrivileges: boolean;
  readonly privileged: boolean;
  readonly seccomp: SeccompSpec;
  /** Final lists: defaults plus the manifest's additions; empty when privileged. Sorted. */
  readonly maskedPaths: readonly string[];
  readonly readonlyPaths: readonly string[];
  /** Sorted by name. */
  readonly sysctls: readonly { readonly name: string; readonly value: string }[];
}

export interface HealthcheckSpec {
  readonly exec: readonly string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly startPeriodMs: number;
  readonly onFailure: 'restart' | 'none';
}

export interface HostSelector {
  /** Empty: any host name. */
  readonly hostnames: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerSpec {
  readonly version: typeof SPEC_VERSION;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly rootfs: RootfsSource;
  readonly readOnlyRootfs: boolean;
  readonly process: ProcessSpec;
  readonly hostname: string;
  readonly namespaces: NamespacesSpec;
  readonly resources: ResourcesSpec;
  /** Sorted parents first (by depth, then path), so nested targets mount in a working order. */
  readonly mounts: readonly MountSpec[];
  /** Secrets, then config files, each sorted by name. */
  readonly files: readonly FileSpec[];
  readonly network: NetworkSpec;
  readonly restartPolicy: RestartPolicy;
  /** A small init as PID 1 that runs the process, forwards signals and reaps (`spec.init`). */
  readonly init: boolean;
  readonly stopSignal: Signal;
  readonly stopTimeoutMs: number;
  readonly security: SecuritySpec;
  readonly devices: DevicesSpec;
  /** The writable layer: `sizeBytes` null is no limit. */
  readonly storage: { readonly sizeBytes: number | null };
  readonly logging: { readonly maxSizeBytes: number; readonly maxFiles: number };
  /** Sorted. */
  readonly dependsOn: readonly string[];
  readonly healthcheck: HealthcheckSpec | null;
  readonly hosts: HostSelector;
}

/** Where a spec came from: not part of the spec (moving a file must not restart anything). */
export interface SpecOrigin {
  readonly file: string;
  readonly index: number;
}
