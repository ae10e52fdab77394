// normalize: a schema-valid, checked manifest → ContainerSpec (our specconv). Defaults are written
// in, units resolved, unordered lists sorted. Total on documents that passed validate and checks;
// anything else is a bug and throws INTERNAL. Pure.

import { CorralError } from '../errors.js';
import {
  ALL_CAPABILITIES, canonicalCapability, DEFAULT_CAPABILITIES, DEFAULT_DEVICES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULTS,
} from './defaults.js';
import { parseDurationMs } from './duration.js';
import { isRegistryReference, parseReference, storeNameOf } from './image-reference.js';
import { DEFAULT_NETWORK } from './network.js';
import type { FileV1, IdMapV1, ManifestV1, MountV1, OwnerV1, SpecV1 } from './manifest-v1.js';
import { expandForward } from './ports.js';
import { depth, dirname, normalizeAbsolute } from './posix-path.js';
import { formatCpuList, parseBytes, parseBytesOrUnlimited, parseCpuList, parseCpuMillis, type ParseResult } from './quantity.js';
import { parseSignal } from './signal.js';
import {
  SPEC_VERSION, type ContainerSpec, type DevicesSpec, type EnvVar, type FileSource, type FileSpec, type IdMap, type OnChange, type MountOption, type MountOwner, type MountSpec, type NetworkNamespace,
  type NetworkSpec, type Propagation, type ResourcesSpec, type SecuritySpec, type Ulimit, type UserLookup, type UserNamespace,
} from './spec.js';

function must<T>(result: ParseResult<T>, what: string): T {
  if (result.ok) return result.value;
  throw new CorralError('INTERNAL', `normalize: ${what} passed validation but does not parse (expected ${result.expected})`);
}

const bytes = (v: string | number, what: string): number => must(parseBytes(v), what);
const duration = (v: string | undefined, fallback: number, what: string): number => (v === undefined ? fallback : must(parseDurationMs(v), what));

const byString = <T>(key: (t: T) => string) => (a: T, b: T): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * @param manifest a document that passed validate and checks
 * @param file absolute path of the manifest file; relative paths in it (seccomp) resolve against its directory
 */
export function normalize(manifest: ManifestV1, file: string): ContainerSpec {
  const { metadata, spec } = manifest;
  const namespaces = normalizeNamespaces(spec);
  return {
    version: SPEC_VERSION,
    name: metadata.name,
    labels: sortedRecord(metadata.labels),
    annotations: sortedRecord(metadata.annotations),
    rootfs: spec.rootfs.image !== undefined ? imageRef(spec.rootfs.image, spec.rootfs.pullPolicy)
      : spec.rootfs.path !== undefined ? { kind: 'path', path: spec.rootfs.path } : { kind: 'host' },
    readOnlyRootfs: spec.readOnlyRootfs ?? false,
    process: {
      command: spec.command ?? null,
      args: spec.args ?? null,
      workingDir: spec.workingDir ?? null,
      env: normalizeEnv(spec.env),
      ...processUser(spec.user),
      oomScoreAdj: spec.oomScoreAdj ?? 0,
      ulimits: Object.entries(spec.ulimits ?? {})
        .map(([name, u]): Ulimit => ({ name, soft: u.soft, hard: u.hard }))
        .sort(byString((u) => u.name)),
    },
    hostname: namespaces.uts === 'private' ? (spec.hostname ?? metadata.name) : '',
    namespaces,
    resources: normalizeResources(spec),
    files: normalizeFiles(spec),
    mounts: (spec.mounts ?? []).map(normalizeMount).sort((a, b) => depth(a.target) - depth(b.target) || byString<MountSpec>((m) => m.target)(a, b)),
    network: normalizeNetwork(spec, namespaces.network),
    restartPolicy: spec.restartPolicy ?? DEFAULTS.restartPolicy,
    init: spec.init ?? false,
    stopSignal: must(parseSignal(spec.stopSignal ?? DEFAULTS.stopSignal), 'stopSignal'),
    stopTimeoutMs: duration(spec.stopTimeout, DEFAULTS.stopTimeoutMs, 'stopTimeout'),
    security: normalizeSecurity(spec, file),
    devices: normalizeDevices(spec),
    storage: { sizeBytes: spec.storage?.size === undefined ? null : bytes(spec.storage.size, 'storage.size') },
    logging: {
      maxSizeBytes: spec.logging?.maxSize === undefined ? DEFAULTS.logMaxSizeBytes : bytes(spec.logging.maxSize, 'logging.maxSize'),
      maxFiles: spec.logging?.maxFiles ?? DEFAULTS.logMaxFiles,
    },
    dependsOn: [...(spec.dependsOn ?? [])].sort(),
    healthcheck: spec.healthcheck === undefined ? null : {
      exec: spec.healthcheck.exec,
      intervalMs: duration(spec.healthcheck.interval, DEFAULTS.healthcheck.intervalMs, 'healthcheck.interval'),
      timeoutMs: duration(spec.healthcheck.timeout, DEFAULTS.healthcheck.timeoutMs, 'healthcheck.timeout'),
      retries: spec.healthcheck.retries ?? DEFAULTS.healthcheck.retries,
      startPeriodMs: duration(spec.healthcheck.startPeriod, DEFAULTS.healthcheck.startPeriodMs, 'healthcheck.startPeriod'),
      onFailure: spec.healthcheck.onFailure ?? DEFAULTS.healthcheck.onFailure,
    },
    hosts: {
      hostnames: [...new Set(spec.hosts?.hostnames ?? [])].sort(),
      labels: sortedRecord(spec.hosts?.labels),
    },
  };
}

const isDigits = (s: string): boolean => s.length > 0 && [...s].every((c) => c >= '0' && c <= '9');
/** `1000` in a name field is the number, as in an image's `User`. */
const nameOrId = (s: string): string | number => (isDigits(s) ? Number(s) : s);

/**
 * Ids as they are (the spec hashes as before names existed). Root written out is kept apart from
 * a user left out, which the image's `User` may set: it is looked up, like a name (uid 0 has an
 * entry everywhere), so that it wins over the image.
 */
function numericUser(uid: number, gid: number, groups: number[]): Pick<ContainerSpec['process'], 'user' | 'userLookup'> {
  if (uid === 0 && gid === 0 && groups.length === 0) return { user: { uid, gid, groups }, userLookup: { user: 0, group: 0, groups: [] } };
  return { user: { uid, gid, groups }, userLookup: null };
}

/** Numeric ids are used as they are; any name is looked up at start. */
function processUser(user: SpecV1['user']): Pick<ContainerSpec['process'], 'user' | 'userLookup'> {
  const root = { uid: 0, gid: 0, groups: [] };
  if (user === undefined) return { user: root, userLookup: null };
  if (typeof user === 'string') {
    const [name, group] = user.split(':') as [string, string?];
    const lookup: UserLookup = { user: nameOrId(name), group: group === undefined ? null : nameOrId(group), groups: [] };
    if (typeof lookup.user === 'number' && (lookup.group === null || typeof lookup.group === 'number')) {
      return numericUser(lookup.user, lookup.group ?? lookup.user, []);
    }
    return { user: root, userLookup: lookup };
  }
  const groups = [...new Set((user.groups ?? []).map((g) => (typeof g === 'string' ? nameOrId(g) : g)))];
  const numbers = groups.filter((g): g is number => typeof g === 'number').sort((a, b) => a - b);
  const names = groups.filter((g): g is string => typeof g === 'string').sort();
  const named = user.name !== undefined || user.group !== undefined || names.length > 0;
  if (!named) {
    const uid = user.uid ?? 0;
    return numericUser(uid, user.gid ?? uid, numbers);
  }
  return {
    user: root,
    userLookup: {
      user: user.name !== undefined ? nameOrId(user.name) : user.uid ?? 0,
      group: user.group !== undefined ? nameOrId(user.group) : user.gid ?? null,
      groups: [...numbers, ...names],
    },
  };
}

function imageRef(ref: string, pullPolicy: SpecV1['rootfs']['pullPolicy']): ContainerSpec['rootfs'] {
  if (isRegistryReference(ref)) {
    const r = parseReference(ref);
    return {
      kind: 'image', ...storeNameOf(r), ...(r.digest ? { digest: r.digest } : {}),
      ...(pullPolicy === 'Always' || pullPolicy === 'Never' ? { pullPolicy } : {}),
    };
  }
  const [name, tag = DEFAULTS.imageTag] = ref.split(':') as [string, string?];
  return { kind: 'image', name, tag };
}

function sortedRecord(record: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(record ?? {}).sort(byString(([k]) => k)));
}

export function normalizeEnv(env: SpecV1['env']): EnvVar[] {
  const list = Array.isArray(env)
    ? env
    : Object.entries(env ?? {}).map(([name, v]) => (typeof v === 'string' ? { name, value: v } : { name, valueFrom: v.valueFrom }));
  return list
    .map((e): EnvVar => (e.valueFrom !== undefined ? { name: e.name, value: '', secret: e.valueFrom.secret } : { name: e.name, value: e.value ?? '' }))
    .sort(byString((e) => e.name));
}

function fileSource(source: FileV1['source']): FileSource {
  if (source.file !== undefined) return { kind: 'file', path: source.file };
  if (source.env !== undefined) return { kind: 'env', name: source.env };
  if (source.systemdCredential !== undefined) return { kind: 'systemdCredential', name: source.systemdCredential };
  return { kind: 'content', text: source.content ?? '' };
}

function onChange(text: string | undefined): OnChange {
  if (text === undefined || text === 'restart') return { kind: 'restart' };
  if (text === 'none') return { kind: 'none' };
  return { kind: 'signal', signal: must(parseSignal(text.slice('signal:'.length)), 'onChange') };
}

/** Secrets, then config files, each by name (checks/ refuses duplicates). */
function normalizeFiles(spec: SpecV1): FileSpec[] {
  const one = (kind: FileSpec['kind']) => (f: FileV1): FileSpec => ({
    kind,
    name: f.name,
    source: fileSource(f.source),
    target: f.target ?? `${DEFAULTS.secretsDir}/${f.name}`,
    owner: mountOwner(f.owner) ?? { uid: 0, gid: 0 },
    mode: f.mode === undefined ? (kind === 'secret' ? DEFAULTS.secretMode : DEFAULTS.configFileMode) : parseInt(f.mode, 8),
    onChange: onChange(f.onChange),
  });
  return [
    ...(spec.secrets ?? []).map(one('secret')).sort(byString((f) => f.name)),
    ...(spec.configFiles ?? []).map(one('config')).sort(byString((f) => f.name)),
  ];
}

function normalizeNamespaces(spec: SpecV1): ContainerSpec['namespaces'] {
  const ns = spec.namespaces ?? {};
  return {
    pid: ns.pid ?? 'private',
    ipc: ns.ipc ?? 'private',
    uts: ns.uts ?? 'private',
    cgroup: ns.cgroup ?? 'private',
    network: networkNamespace(ns.network, spec.network?.mode),
    user: userNamespace(ns.user),
  };
}

/** `network.mode: host` is a second way to say `namespaces.network: host`; checks/ refuses contradictions. */
export function networkNamespace(ns: string | undefined, mode: string | undefined): NetworkNamespace {
  if (ns?.startsWith('container:')) return { kind: 'container', container: ns.slice('container:'.length) };
  if (ns === 'host' || (ns === undefined && mode === 'host')) return { kind: 'host' };
  return { kind: 'private' };
}

function userNamespace(user: NonNullable<SpecV1['namespaces']>['user']): UserNamespace | null {
  if (!user?.enabled) return null;
  if (user.uidMap && user.gidMap) {
    const sortMaps = (maps: IdMapV1[]): IdMap[] =>
      maps.map(({ containerID, hostID, size }) => ({ containerID, hostID, size })).sort((a, b) => a.containerID - b.containerID);
    return { kind: 'manual', uidMap: sortMaps(user.uidMap), gidMap: sortMaps(user.gidMap) };
  }
  return { kind: 'auto', size: user.auto?.size ?? DEFAULTS.userNamespaceSize };
}

function normalizeResources(spec: SpecV1): ResourcesSpec {
  const r = spec.resources ?? {};
  const memoryBytes = r.memory === undefined ? null : bytes(r.memory, 'resources.memory');
  const swap = r.memorySwap === undefined ? memoryBytes : must(parseBytesOrUnlimited(r.memorySwap), 'resources.memorySwap');
  return {
    memoryBytes,
    memorySwapBytes: swap,
    memoryReservationBytes: r.memoryReservation === undefined ? null : bytes(r.memoryReservation, 'resources.memoryReservation'),
    cpuMillis: r.cpus === undefined ? null : must(parseCpuMillis(r.cpus), 'resources.cpus'),
    cpuWeight: r.cpuWeight ?? null,
    cpusetCpus: r.cpuset?.cpus === undefined ? null : formatCpuList(must(parseCpuList(r.cpuset.cpus), 'cpuset.cpus')),
    cpusetMems: r.cpuset?.mems === undefined ? null : formatCpuList(must(parseCpuList(r.cpuset.mems), 'cpuset.mems')),
    pids: r.pids ?? DEFAULTS.pids,
    ioWeight: r.io?.weight ?? null,
    ioLimits: (r.io?.limits ?? [])
      .map((l) => ({
        device: l.device,
        readBps: l.readBps === undefined ? null : bytes(l.readBps, 'io.readBps'),
        writeBps: l.writeBps === undefined ? null : bytes(l.writeBps, 'io.writeBps'),
        readIops: l.readIops ?? null,
        writeIops: l.writeIops ?? null,
      }))
      .sort(byString((l) => l.device)),
  };
}

function options(list: string[] | undefined, forced: MountOption[] = []): MountOption[] {
  return [...new Set([...forced, ...((list ?? []) as MountOption[])])].sort();
}

function normalizeMount(m: MountV1): MountSpec {
  switch (m.type) {
    case 'bind':
      return {
        type: 'bind',
        source: m.source,
        target: m.target,
        readOnly: m.readOnly ?? false,
        propagation: (m.propagation as Propagation | undefined) ?? ((m.recursive ?? true) ? 'rprivate' : 'private'),
        recursive: m.recursive ?? true,
        options: options(m.options),
        idmap: m.idmap === true ? 'container' : m.idmap ? { uid: m.idmap.uid, gid: m.idmap.gid ?? m.idmap.uid } : null,
      };
    case 'tmpfs':
      return {
        type: 'tmpfs',
        target: m.target,
        sizeBytes: m.size === undefined ? DEFAULTS.tmpfsSizeBytes : bytes(m.size, 'tmpfs size'),
        mode: m.mode === undefined ? DEFAULTS.tmpfsMode : parseInt(m.mode, 8),
        owner: mountOwner(m.owner),
        readOnly: m.readOnly ?? false,
        // A tmpfs or a volume holding device nodes or setuid files would be a way around the
        // device allowlist and no_new_privs, so these two flags are not optional.
        options: options(m.options, ['nodev', 'nosuid']),
      };
    case 'volume':
      return {
        type: 'volume', name: m.name, target: m.target, owner: mountOwner(m.owner), mode: m.mode === undefined ? null : parseInt(m.mode, 8),
        readOnly: m.readOnly ?? false, options: options(m.options, ['nodev', 'nosuid']),
      };
  }
}

function mountOwner(owner: OwnerV1 | undefined): MountOwner | null {
  return owner === undefined ? null : { uid: owner.uid, gid: owner.gid ?? owner.uid };
}

function normalizeNetwork(spec: SpecV1, ns: NetworkNamespace): NetworkSpec {
  const net = spec.network ?? {};
  const mode = ns.kind === 'host' ? 'host' : ns.kind === 'container' ? 'container' : net.mode === 'bridge' ? 'bridge' : 'none';
  return {
    mode,
    bridge: mode === 'bridge' ? {
      address: net.address ?? 'auto',
      aliases: [...(net.aliases ?? [])].sort(),
      ...(net.name !== undefined && net.name !== DEFAULT_NETWORK ? { network: net.name } : {}),
    } : null,
    ports: (net.ports ?? [])
      .flatMap(expandForward)
      .sort((a, b) => byString<typeof a>((p) => p.hostIP)(a, b) || a.hostPort - b.hostPort || byString<typeof a>((p) => p.protocol)(a, b)),
    dns: net.dns === undefined ? null : {
      nameservers: net.dns.nameservers ?? [],
      search: net.dns.search ?? [],
      options: net.dns.options ?? [],
    },
  };
}

/** The final capability set: defaults, then `drop` (ALL empties it), then `add` (ALL fills it). */
export function effectiveCapabilities(add: readonly string[] = [], drop: readonly string[] = [], privileged = false): string[] {
  if (privileged) return [...ALL_CAPABILITIES].sort();
  const dropped = drop.map(canonicalCapability);
  const added = add.map(canonicalCapability);
  let set = new Set(dropped.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !dropped.includes(c)));
  if (added.includes('ALL')) set = new Set(ALL_CAPABILITIES);
  for (const cap of added) if (cap !== 'ALL') set.add(cap);
  return [...set].sort();
}

function normalizeSecurity(spec: SpecV1, file: string): SecuritySpec {
  const s = spec.security ?? {};
  const privileged = s.privileged ?? false;
  const seccomp = s.seccomp;
  return {
    capabilities: effectiveCapabilities(s.capabilities?.add, s.capabilities?.drop, privileged),
    noNewPrivileges: s.noNewPrivileges ?? true,
    privileged,
    seccomp: seccomp === undefined || seccomp === 'default' ? { kind: 'default' }
      : seccomp === 'unconfined' ? { kind: 'unconfined' }
      : { kind: 'file', path: seccomp.file.startsWith('/') ? normalizeAbsolute(seccomp.file) : normalizeAbsolute(`${dirname(file)}/${seccomp.file}`) },
    maskedPaths: privileged ? [] : [...new Set([...DEFAULT_MASKED_PATHS, ...(s.maskedPaths ?? [])])].sort(),
    readonlyPaths: privileged ? [] : [...new Set([...DEFAULT_READONLY_PATHS, ...(s.readonlyPaths ?? [])])].sort(),
    sysctls: Object.entries(s.sysctls ?? {}).map(([name, value]) => ({ name, value })).sort(byString((x) => x.name)),
  };
}

/** `rwm` letters in canonical order. */
export function canonicalAccess(access: string): string {
  return ['r', 'w', 'm'].filter((c) => access.includes(c)).join('');
}

/** The default allow-list written out (privileged: everything), plus the host devices asked for. */
function normalizeDevices(spec: SpecV1): DevicesSpec {
  const privileged = spec.security?.privileged ?? false;
  return {
    allowAll: privileged,
    allow: privileged ? [] : DEFAULT_DEVICES.map((d) => d.rule),
    host: (spec.devices ?? [])
      .map((d) => ({ hostPath: d.path, containerPath: d.containerPath ?? d.path, access: canonicalAccess(d.permissions ?? 'rwm') }))
      .sort(byString((d) => d.containerPath)),
  };
}
