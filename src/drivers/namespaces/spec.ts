// ContainerSpec + RootfsLayout + host facts → SpawnSpec. All runtime policy lives here: which
// namespaces, the mount program (/proc, /dev and its device allowlist, /sys, masks, read-only
// paths), capabilities, seccomp, the environment and argv. The shim only carries it out. Pure:
// everything host-dependent (allocated uid range, join target, cgroup files) is an input, except
// a seccomp profile file, read and compiled here so every caller (start and exec) gets the same
// filter; its problems are reported at plan time by checkSeccompProfile.

import { CorralError } from '../../errors.js';
import { ALL_CAPABILITIES } from '../../manifest/defaults.js';
import type { ContainerSpec, IdMap } from '../../manifest/spec.js';
import type { ImageDefaults, ProcessUser, RootfsLayout } from '../../reconciler/ports.js';
import { capabilityMask } from './capabilities.js';
import { buildMountProgram } from './mount-program.js';
import { defaultSeccompProgram } from './seccomp.js';
import { seccompProgramFromFile } from './seccomp-file.js';
import { CLONE, RLIM_INFINITY, type ExecSpawnSpec, type JoinTarget, type NetworkJoin, type ProcessPlan, type Rlimit, type RunSpawnSpec } from './spawn-spec.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The monitor shares its container's memory cgroup: the OOM killer must never pick it, or the
 * container's exit would go unrecorded (it would show as unmonitored). Its own memory is small
 * and bounded, so this takes nothing from the container. Lowering a score needs
 * CAP_SYS_RESOURCE: an agent without it (some sandboxes drop it) leaves the score inherited.
 */
export const MONITOR_OOM_SCORE_ADJ = -1000;

export function monitorOomScoreAdj(hostCapabilities: bigint | undefined): number | null {
  return hostCapabilities !== undefined && (hostCapabilities & capabilityMask(['CAP_SYS_RESOURCE'])) !== 0n ? MONITOR_OOM_SCORE_ADJ : null;
}

/** RLIMIT_* numbers (asm-generic, shared by x86-64 and arm64). */
export const RLIMIT_NUMBERS: Readonly<Record<string, number>> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9, locks: 10,
  sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};

export interface SpawnInputs {
  readonly spec: ContainerSpec;
  readonly rootfs: RootfsLayout;
  /** Defaults of the image, or null for a path/host rootfs. */
  readonly image: ImageDefaults | null;
  /** Absolute cgroup.procs paths, one per hierarchy, from the cgroups driver. */
  readonly cgroupProcs: readonly string[];
  /** cgroup v2 directory for CLONE_INTO_CGROUP, when the cgroups driver offers one. */
  readonly cgroupDir?: string | null;
  /** A file with an `oom_kill N` line for this container's memory cgroup. */
  readonly oomEventsFile?: string | null;
  /** Absolute cgroup.procs paths of the monitor's own leaf, one per hierarchy, from the cgroups driver. */
  readonly monitorCgroupProcs?: readonly string[];
  /** containers/<name>/shim and containers/<name>/logs. */
  readonly shimDir: string;
  readonly logDir: string;
  /** Host paths of named volumes (volumes/<name>/data). */
  readonly volumes: Readonly<Record<string, string>>;
  /** Who the process runs as, resolved at start (src/drivers/overlay/user-lookup.ts); absent: the manifest's ids. */
  readonly user?: ProcessUser;
  /** For `user: {auto}`: the first host uid and gid of the range the reconciler allocated. */
  readonly autoUserRange?: { readonly uid: number; readonly gid: number } | null;
  /** For `network: container:NAME`: that container's init. */
  readonly networkTarget?: JoinTarget | null;
  /** A network namespace the network driver prepared (bridge): joined instead of a new one. */
  readonly netnsPath?: string | null;
  /** `process.arch`, for the seccomp filter's syscall numbers. */
  readonly arch: string;
  /** The agent's own bounding set (`hostCapabilityMask()`): what `privileged` can hand out. */
  readonly hostCapabilities?: bigint;
}

function setupError(spec: ContainerSpec, summary: string, hint?: string): CorralError {
  return new CorralError('CONTAINER_SETUP_FAILED', summary, { container: spec.name, ...(hint ? { hint } : {}) });
}

function mapLines(maps: readonly IdMap[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function userNamespace(inputs: SpawnInputs): { uidMap: string; gidMap: string; uid: readonly IdMap[]; gid: readonly IdMap[] } | null {
  const user = inputs.spec.namespaces.user;
  if (!user) return null;
  if (user.kind === 'manual') {
    return { uidMap: mapLines(user.uidMap), gidMap: mapLines(user.gidMap), uid: user.uidMap, gid: user.gidMap };
  }
  const range = inputs.autoUserRange;
  if (!range) throw setupError(inputs.spec, 'user namespace `auto` needs a host id range, and none was allocated');
  const uid = [{ containerID: 0, hostID: range.uid, size: user.size }];
  const gid = [{ containerID: 0, hostID: range.gid, size: user.size }];
  return { uidMap: mapLines(uid), gidMap: mapLines(gid), uid, gid };
}

/** A user the namespace does not map cannot be switched to (setuid fails EINVAL): said plainly. */
function checkMapped(spec: ContainerSpec, user: ProcessUser, uidMap: readonly IdMap[], gidMap: readonly IdMap[]): void {
  const mapped = (id: number, maps: readonly IdMap[]): boolean => maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
  const ranges = (maps: readonly IdMap[]): string => maps.map((m) => `${m.containerID}-${m.containerID + m.size - 1}`).join(', ');
  for (const [kind, id, maps] of [['uid', user.uid, uidMap], ['gid', user.gid, gidMap], ...user.groups.map((g) => ['group', g, gidMap] as const)] as const) {
    if (!mapped(id, maps)) {
      throw new CorralError('MANIFEST_CONFLICT', `the container's user has ${kind} ${id}, which its user namespace does not map (${ranges(maps)})`, {
        container: spec.name, hint: 'give `namespaces.user.auto.size` room for it, or run as another user',
      });
    }
  }
}

export function namespaceFlags(spec: ContainerSpec): number {
  const ns = spec.namespaces;
  let flags = CLONE.NEWNS;
  if (ns.pid === 'private') flags |= CLONE.NEWPID;
  if (ns.ipc === 'private') flags |= CLONE.NEWIPC;
  if (ns.uts === 'private') flags |= CLONE.NEWUTS;
  if (ns.cgroup === 'private') flags |= CLONE.NEWCGROUP;
  if (ns.network.kind === 'private') flags |= CLONE.NEWNET;
  if (ns.user) flags |= CLONE.NEWUSER;
  return flags >>> 0;
}

function checkNetwork(inputs: SpawnInputs): NetworkJoin | null {
  const { spec } = inputs;
  if (inputs.netnsPath) {
    if (spec.namespaces.network.kind !== 'private') throw setupError(spec, 'a network namespace was prepared for a container that shares another\'s network');
    return { netnsPath: inputs.netnsPath };
  }
  if (spec.network.mode === 'bridge') {
    // The network driver makes a bridged namespace; without one there is nothing to join.
    throw setupError(spec, 'network mode `bridge` needs a network namespace from the network driver, and none was prepared');
  }
  if (spec.namespaces.network.kind !== 'container') return null;
  if (!inputs.networkTarget) {
    throw setupError(spec, `network \`container:${spec.namespaces.network.container}\`: that container is not running`);
  }
  return inputs.networkTarget;
}

export function argvOf(spec: ContainerSpec, image: ImageDefaults | null): string[] {
  const { command, args } = spec.process;
  const head = command ?? image?.entrypoint ?? [];
  const tail = args ?? (command === null ? image?.cmd ?? [] : []);
  const argv = [...head, ...tail];
  if (argv.length === 0) throw setupError(spec, 'no command to run: the manifest sets none and the image has no entrypoint or cmd');
  return argv;
}

/** Image env, then the manifest's by name (the manifest wins), then PATH and HOSTNAME if missing. */
export function envOf(spec: ContainerSpec, image: ImageDefaults | null, extra: readonly string[] = []): string[] {
  const env = new Map<string, string>();
  const put = (entry: string): void => {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  };
  for (const e of image?.env ?? []) put(e);
  // A variable from a secret has its value only in the spec a start is given (src/reconciler/apply/steps.ts);
  // `exec` and health checks read the secret's file instead, and keep the image's value if any.
  for (const e of spec.process.env) if (e.secret === undefined) env.set(e.name, e.value);
  for (const e of extra) put(e);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  if (!env.has('HOSTNAME') && spec.namespaces.uts === 'private') env.set('HOSTNAME', spec.hostname);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function rlimits(spec: ContainerSpec): Rlimit[] {
  return spec.process.ulimits.map((u) => {
    const resource = RLIMIT_NUMBERS[u.name];
    if (resource === undefined) throw setupError(spec, `unknown ulimit \`${u.name}\``);
    const v = (x: number | 'unlimited'): bigint => (x === 'unlimited' ? RLIM_INFINITY : BigInt(x));
    return { resource, soft: v(u.soft), hard: v(u.hard) };
  });
}

export interface ProcessOverrides {
  readonly argv?: readonly string[];
  readonly extraEnv?: readonly string[];
  /** The user as resolved at start (names looked up); absent: the manifest's ids. */
  readonly user?: ProcessUser;
  readonly uid?: number;
  readonly gid?: number;
  readonly cwd?: string;
}

/** The manifest's numeric ids, for a caller that resolved nothing. */
export function specUser(spec: ContainerSpec): ProcessUser {
  return { ...spec.process.user, home: null };
}

/** HOME from the user's /etc/passwd entry, unless the image or the manifest sets one. */
function withHome(env: string[], home: string | null): string[] {
  return home === null || env.some((e) => e.startsWith('HOME=')) ? env : [...env, `HOME=${home}`];
}

/** Privileged and unconfined containers run without a filter, as before profile files existed. */
function seccompFilter(spec: ContainerSpec, arch: string): Uint8Array | null {
  const { seccomp, privileged, capabilities } = spec.security;
  if (privileged || seccomp.kind === 'unconfined') return null;
  if (seccomp.kind === 'default') return defaultSeccompProgram(arch);
  return seccompProgramFromFile(seccomp.path, { arch, capabilities, container: spec.name });
}

export function processPlan(spec: ContainerSpec, image: ImageDefaults | null, arch: string, o: ProcessOverrides = {}, hostCapabilities?: bigint): ProcessPlan {
  const sec = spec.security;
  // Root gets its capabilities from the bounding set at exec; other users get none unless ambient,
  // which stays empty (Docker leaves inheritable and ambient empty since CVE-2022-24769).
  const all = capabilityMask(ALL_CAPABILITIES);
  const caps = sec.privileged ? all & (hostCapabilities ?? all) : capabilityMask(sec.capabilities);
  const user = o.user ?? specUser(spec);
  // Another uid than the resolved user's is not that user: no home of its.
  const other = o.uid !== undefined && o.uid !== user.uid;
  return {
    argv: o.argv ? [...o.argv] : argvOf(spec, image),
    env: withHome(envOf(spec, image, o.extraEnv), other ? null : user.home),
    cwd: o.cwd ?? spec.process.workingDir ?? image?.workingDir ?? '/',
    uid: o.uid ?? user.uid,
    gid: o.gid ?? user.gid,
    groups: [...user.groups],
    rlimits: rlimits(spec),
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: 0n, ambient: 0n },
    noNewPrivileges: sec.noNewPrivileges,
    seccomp: seccompFilter(spec, arch),
    oomScoreAdj: spec.process.oomScoreAdj === 0 ? null : spec.process.oomScoreAdj,
    umask: 0o022,
  };
}

export function buildSpawnSpec(inputs: SpawnInputs): RunSpawnSpec {
  const { spec, rootfs } = inputs;
  const joinNetwork = checkNetwork(inputs);
  const userns = userNamespace(inputs);
  const user = inputs.user ?? specUser(spec);
  if (userns) checkMapped(spec, user, userns.uid, userns.gid);
  const program = buildMountProgram({ spec, rootfs, volumes: inputs.volumes, user, userns: userns ? { uid: userns.uid, gid: userns.gid } : null });
  return {
    kind: 'run',
    name: spec.name,
    // A joined namespace file replaces the new network namespace.
    namespaceFlags: joinNetwork && 'netnsPath' in joinNetwork ? (namespaceFlags(spec) & ~CLONE.NEWNET) >>> 0 : namespaceFlags(spec),
    userNamespace: userns ? { uidMap: userns.uidMap, gidMap: userns.gidMap } : null,
    joinNetwork,
    cgroupProcs: [...inputs.cgroupProcs],
    cgroupDir: inputs.cgroupDir ?? null,
    root: program.root,
    mounts: program.mounts,
    finalize: program.finalize,
    hostname: spec.namespaces.uts === 'private' ? spec.hostname : null,
    // A prepared namespace (bridge) comes with `lo` up; with a user namespace the container could
    // not bring it up there (the network namespace is the host's user namespace's).
    loopback: spec.namespaces.network.kind === 'private' && !(joinNetwork && 'netnsPath' in joinNetwork),
    process: processPlan(spec, inputs.image, inputs.arch, { user }, inputs.hostCapabilities),
    shimDir: inputs.shimDir,
    logDir: inputs.logDir,
    logMaxBytes: spec.logging.maxSizeBytes,
    logMaxFiles: spec.logging.maxFiles,
    stopSignal: spec.stopSignal.number,
    init: spec.init,
    oomEventsFile: inputs.oomEventsFile ?? null,
    monitorCgroupProcs: [...(inputs.monitorCgroupProcs ?? [])],
    monitorOomScoreAdj: monitorOomScoreAdj(inputs.hostCapabilities),
  };
}

export interface ExecRequest {
  readonly argv: readonly string[];
  /** `K=V` entries added over the manifest's environment. */
  readonly env?: readonly string[];
  /** The container's user as resolved at its start (its runtime handle); absent: the manifest's ids. */
  readonly user?: ProcessUser;
  readonly uid?: number;
  readonly gid?: number;
  readonly cwd?: string;
  readonly tty?: boolean;
}

/** What `corral exec` runs: the manifest's environment and security, entering every private namespace. */
export function buildExecSpec(spec: ContainerSpec, image: ImageDefaults | null, cgroupProcs: readonly string[], req: ExecRequest, arch: string, hostCapabilities?: bigint): ExecSpawnSpec {
  if (req.argv.length === 0) throw new CorralError('CLI_USAGE', 'exec needs a command after `--`');
  let flags = namespaceFlags(spec);
  // A joined network namespace is still the container's own to enter.
  if (spec.namespaces.network.kind === 'container') flags |= CLONE.NEWNET;
  const o: ProcessOverrides = { argv: req.argv, ...(req.env ? { extraEnv: req.env } : {}), ...(req.user ? { user: req.user } : {}), ...(req.uid !== undefined ? { uid: req.uid } : {}), ...(req.gid !== undefined ? { gid: req.gid } : {}), ...(req.cwd ? { cwd: req.cwd } : {}) };
  const process = processPlan(spec, image, arch, o, hostCapabilities);
  return {
    kind: 'exec',
    name: spec.name,
    namespaceFlags: flags >>> 0,
    cgroupProcs: [...cgroupProcs],
    process: req.tty ? { ...process, env: process.env.some((e) => e.startsWith('TERM=')) ? process.env : [...process.env, 'TERM=xterm'] } : process,
    tty: req.tty ?? false,
  };
}
