// The raw manifest as written by users, typed after schemas/manifest.schema.json. Only documents
// that passed the schema are viewed through these types (checks/, normalize.ts). Pure.

type Bytes = string | number;

export interface ManifestV1 {
  apiVersion: 'corral/v1';
  kind: 'Container';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: SpecV1;
}

/** `kind: Network`: a bridge that containers join (`network: {mode: bridge, name}`). */
export interface NetworkManifestV1 {
  apiVersion: 'corral/v1';
  kind: 'Network';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: NetworkSpecV1;
}

export interface NetworkSpecV1 {
  bridge?: string;
  subnet: string;
  gateway?: string;
  ipv6?: { enabled: boolean; subnet?: string };
  masquerade?: boolean;
  isolated?: boolean;
  mtu?: number;
}

/** Any document that passed the schema; `kind` tells which. */
export type AnyManifestV1 = ManifestV1 | NetworkManifestV1;

/** The kinds of objects a manifest describes, in the schema's order. */
export const MANIFEST_KINDS = ['Container', 'Network'] as const;

export interface IdMapV1 {
  containerID: number;
  hostID: number;
  size: number;
}

export type MountV1 =
  | { type: 'bind'; source: string; target: string; readOnly?: boolean; propagation?: string; recursive?: boolean; options?: string[]; idmap?: boolean | OwnerV1 }
  | { type: 'tmpfs'; target: string; size?: Bytes; mode?: string; owner?: OwnerV1; readOnly?: boolean; options?: string[] }
  | { type: 'volume'; name: string; target: string; owner?: OwnerV1; mode?: string; readOnly?: boolean; options?: string[] };

/** Owner of a tmpfs's or a volume's top directory, as ids inside the container. */
export interface OwnerV1 {
  uid: number;
  gid?: number;
}

export interface PortV1 {
  /** A port, or a range `"8080-8089"`. */
  host?: number | string;
  container: number | string;
  protocol?: 'tcp' | 'udp';
  hostIP?: string;
}

export interface EnvValueFromV1 {
  valueFrom: { secret: string };
}

/** A secret or a config file (`content` only for config files: the schema says so). */
export interface FileV1 {
  name: string;
  source: { file?: string; env?: string; systemdCredential?: string; content?: string };
  target?: string;
  owner?: OwnerV1;
  mode?: string;
  onChange?: string;
}

export interface UlimitV1 {
  soft: number | 'unlimited';
  hard: number | 'unlimited';
}

export interface SpecV1 {
  rootfs: { image?: string; pullPolicy?: 'IfNotPresent' | 'Always' | 'Never'; path?: string; host?: Record<string, never> };
  readOnlyRootfs?: boolean;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: Record<string, string | EnvValueFromV1> | Array<{ name: string; value?: string; valueFrom?: EnvValueFromV1['valueFrom'] }>;
  secrets?: FileV1[];
  configFiles?: FileV1[];
  user?: string | { uid?: number; name?: string; gid?: number; group?: string; groups?: Array<number | string> };
  hostname?: string;
  oomScoreAdj?: number;
  namespaces?: {
    pid?: 'private' | 'host';
    ipc?: 'private' | 'host';
    uts?: 'private' | 'host';
    cgroup?: 'private' | 'host';
    network?: string;
    user?: { enabled: boolean; auto?: { size?: number }; uidMap?: IdMapV1[]; gidMap?: IdMapV1[] };
  };
  resources?: {
    memory?: Bytes;
    memorySwap?: Bytes;
    memoryReservation?: Bytes;
    cpus?: string | number;
    cpuWeight?: number;
    cpuset?: { cpus?: string; mems?: string };
    pids?: number | 'unlimited';
    io?: {
      weight?: number;
      limits?: Array<{ device: string; readBps?: Bytes; writeBps?: Bytes; readIops?: number; writeIops?: number }>;
    };
  };
  mounts?: MountV1[];
  devices?: Array<{ path: string; containerPath?: string; permissions?: string }>;
  storage?: { size?: Bytes };
  network?: {
    mode?: 'none' | 'host' | 'bridge';
    name?: string;
    address?: string;
    aliases?: string[];
    ports?: PortV1[];
    dns?: { nameservers?: string[]; search?: string[]; options?: string[] };
  };
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  init?: boolean;
  stopSignal?: string | number;
  stopTimeout?: string;
  security?: {
    capabilities?: { add?: string[]; drop?: string[] };
    noNewPrivileges?: boolean;
    privileged?: boolean;
    seccomp?: 'default' | 'unconfined' | { file: string };
    maskedPaths?: string[];
    readonlyPaths?: string[];
    sysctls?: Record<string, string>;
  };
  ulimits?: Record<string, UlimitV1>;
  logging?: { maxSize?: Bytes; maxFiles?: number };
  dependsOn?: string[];
  healthcheck?: {
    exec: string[];
    interval?: string;
    timeout?: string;
    retries?: number;
    startPeriod?: string;
    onFailure?: 'restart' | 'none';
  };
  hosts?: { hostnames?: string[]; labels?: Record<string, string> };
}

/** The kind a document declares: `Network`, or `Container` for anything else (the schema says which are valid). */
export function kindOf(value: unknown): 'Container' | 'Network' {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'Network' ? 'Network' : 'Container';
}
