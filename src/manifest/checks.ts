// validate (rules half): what JSON Schema cannot say — cross-field rules, path tricks, references
// between manifests. A list of small named checks (runc's validator), then warnings that never block.
// They run only on documents that passed the schema, so the types in manifest-v1.ts hold. Pure.

import { diagnostic, type Diagnostic } from '../errors.js';
import { reporter, type DocumentCheck, type Report } from './check-report.js';
import { ALL_CAPABILITIES, canonicalCapability, DEFAULT_MASKED_PATHS, sysctlNamespace, DEFAULTS } from './defaults.js';
import type { FieldPath } from './field-path.js';
import type { LoadedDocument } from './load.js';
import type { ManifestV1 } from './manifest-v1.js';
import { networkNamespace } from './normalize.js';
import { isCanonicalAbsolute, isWithin, normalizeAbsolute } from './posix-path.js';
import { formatBytes, parseBytes, parseBytesOrUnlimited, parseCpuList } from './quantity.js';
import { didYouMean } from './suggest.js';
import { DOCUMENT_WARNINGS } from './warnings.js';

export type { DocumentCheck };

/** A document that passed the schema, with its typed view. */
export interface CheckedDocument {
  readonly doc: LoadedDocument;
  readonly manifest: ManifestV1;
}

export interface SetCheck {
  readonly name: string;
  readonly run: (docs: readonly CheckedDocument[]) => Diagnostic[];
}

const RESERVED_TARGETS = ['/proc', '/sys', '/dev'];

/**
 * What corral puts in a container's /dev itself. A mount or a device over one of them would put
 * something else where the runtime and programs expect these (masks bind /dev/null).
 */
export const MANAGED_DEV_ENTRIES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx',
  '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/fd', '/dev/stdin', '/dev/stdout', '/dev/stderr', '/dev/console'];

/** `target` is, or is below, one of corral's own /dev entries or a masked path. */
function coversProtected(target: string, masked: readonly string[]): string | undefined {
  return [...MANAGED_DEV_ENTRIES, ...masked].find((p) => isWithin(target, p));
}

function checkPath(report: Report, path: FieldPath, value: string, what: string): boolean {
  if (isCanonicalAbsolute(value)) return true;
  const clean = normalizeAbsolute(value);
  report('error', 'MANIFEST_PATH_TRICK', path, `${what} \`${value}\` is not a canonical absolute path`, {
    detail: 'paths must not contain `.` or `..` segments, `//` or a trailing `/`',
    hint: clean !== value ? `write \`${clean}\` if that is what you mean` : undefined,
  });
  return false;
}

export const DOCUMENT_CHECKS: readonly DocumentCheck[] = [
  {
    name: 'command-required',
    run: ({ spec }, report) => {
      if (spec.command === undefined && spec.rootfs.image === undefined) {
        report('error', 'MANIFEST_REQUIRED_FIELD', ['spec'], 'missing required field `spec.command`', {
          key: true, detail: 'only an image can supply a default command; `path` and `host` roots need one', hint: 'add `command: [/bin/sh, -c, "..."]`',
        });
      }
    },
  },
  {
    name: 'canonical-paths',
    run: ({ spec }, report) => {
      if (spec.rootfs.path !== undefined && checkPath(report, ['spec', 'rootfs', 'path'], spec.rootfs.path, 'rootfs path') && spec.rootfs.path === '/') {
        report('error', 'MANIFEST_PATH_TRICK', ['spec', 'rootfs', 'path'], 'rootfs path `/` would expose the whole host', { hint: 'use `rootfs: {host: {}}` for a safe read-only view of the host system' });
      }
      if (spec.workingDir !== undefined && checkPath(report, ['spec', 'workingDir'], spec.workingDir, 'workingDir')) {
        const kernel = RESERVED_TARGETS.find((r) => isWithin(spec.workingDir!, r));
        if (kernel) {
          report('error', 'MANIFEST_PATH_TRICK', ['spec', 'workingDir'], `workingDir \`${spec.workingDir}\` is under \`${kernel}\``, {
            detail: 'kernel filesystems hold links to objects outside the container (/proc/self/fd/N, /proc/PID/root); the runtime refuses them anyway',
            hint: 'use a directory of the container\'s own filesystem',
          });
        }
      }
      (spec.security?.maskedPaths ?? []).forEach((p, i) => checkPath(report, ['spec', 'security', 'maskedPaths', i], p, 'masked path'));
      (spec.security?.readonlyPaths ?? []).forEach((p, i) => checkPath(report, ['spec', 'security', 'readonlyPaths', i], p, 'read-only path'));
      (spec.resources?.io?.limits ?? []).forEach((l, i) => {
        if (checkPath(report, ['spec', 'resources', 'io', 'limits', i, 'device'], l.device, 'device') && !l.device.startsWith('/dev/')) {
          report('error', 'MANIFEST_PATH_TRICK', ['spec', 'resources', 'io', 'limits', i, 'device'], `device \`${l.device}\` is not under /dev`);
        }
      });
    },
  },
  {
    name: 'mounts',
    run: ({ spec }, report) => {
      const targets = new Map<string, number>();
      (spec.mounts ?? []).forEach((m, i) => {
        const at: FieldPath = ['spec', 'mounts', i];
        if (checkPath(report, [...at, 'target'], m.target, 'mount target')) {
          if (m.target === '/') report('error', 'MANIFEST_PATH_TRICK', [...at, 'target'], 'a mount cannot replace the root filesystem', { hint: 'use `spec.rootfs` for that' });
          const reserved = RESERVED_TARGETS.find((r) => isWithin(m.target, r) && !(r === '/dev' && m.target !== '/dev'));
          const guarded = reserved ? undefined : coversProtected(m.target, [...DEFAULT_MASKED_PATHS, ...(spec.security?.maskedPaths ?? [])]);
          if (reserved) report('error', 'MANIFEST_PATH_TRICK', [...at, 'target'], `mount target \`${m.target}\` is under \`${reserved}\`, which corral sets up itself`, { hint: 'mount elsewhere; to restrict kernel paths use `security.maskedPaths` or `security.readonlyPaths`' });
          else if (guarded) {
            report('error', 'MANIFEST_PATH_TRICK', [...at, 'target'], `mount target \`${m.target}\` would replace \`${guarded}\`, which corral creates or masks itself`, {
              detail: 'masked paths are bind mounts of /dev/null: a mount over /dev/null would turn each of them into what was mounted',
              hint: 'mount elsewhere; hand a host device to the container with `spec.devices`',
            });
          }
          const previous = targets.get(m.target);
          if (previous !== undefined) {
            report('error', 'MANIFEST_DUPLICATE_ENTRY', [...at, 'target'], `mount target \`${m.target}\` is already used by \`spec.mounts[${previous}]\``);
          } else {
            targets.set(m.target, i);
          }
        }
        if (m.type === 'bind') checkPath(report, [...at, 'source'], m.source, 'bind source');
        if (m.type === 'bind' && m.recursive === false && m.propagation?.startsWith('r')) {
          report('error', 'MANIFEST_CONFLICT', [...at, 'propagation'], `propagation \`${m.propagation}\` is recursive but \`recursive\` is false`, { hint: `use \`${m.propagation.slice(1)}\`` });
        }
        if (m.type === 'tmpfs' && m.size !== undefined) {
          const size = parseBytes(m.size);
          if (size.ok && size.value < 4096) report('error', 'MANIFEST_OUT_OF_RANGE', [...at, 'size'], `tmpfs size ${size.value} is below one page (4Ki)`);
        }
      });
    },
  },
  {
    name: 'devices',
    run: ({ spec }, report) => {
      const seen = new Map<string, number>();
      const mountTargets = new Set((spec.mounts ?? []).map((m) => m.target));
      (spec.devices ?? []).forEach((d, i) => {
        const at: FieldPath = ['spec', 'devices', i];
        checkPath(report, [...at, 'path'], d.path, 'device path');
        const target = d.containerPath ?? d.path;
        if (!checkPath(report, [...at, d.containerPath === undefined ? 'path' : 'containerPath'], target, 'device container path')) return;
        const guarded = coversProtected(target, []);
        if (guarded) report('error', 'MANIFEST_PATH_TRICK', [...at, d.containerPath === undefined ? 'path' : 'containerPath'], `device at \`${target}\` would replace \`${guarded}\`, which corral creates itself`, { hint: 'give it another `containerPath`' });
        if (new Set(d.permissions ?? 'rwm').size !== (d.permissions ?? 'rwm').length) {
          report('error', 'MANIFEST_INVALID_VALUE', [...at, 'permissions'], `permissions \`${d.permissions}\` repeat a letter`, { hint: 'any of `r`, `w`, `m`, each once' });
        }
        const previous = seen.get(target);
        if (previous !== undefined) report('error', 'MANIFEST_DUPLICATE_ENTRY', [...at, 'containerPath'], `container path \`${target}\` is already used by \`spec.devices[${previous}]\``);
        else seen.set(target, i);
        if (mountTargets.has(target)) report('error', 'MANIFEST_CONFLICT', [...at, 'containerPath'], `container path \`${target}\` is also a mount target`);
      });
    },
  },
  {
    name: 'storage',
    run: ({ spec }, report) => {
      if (spec.storage?.size === undefined) return;
      const size = parseBytes(spec.storage.size);
      if (size.ok && size.value < 2 ** 20) report('error', 'MANIFEST_OUT_OF_RANGE', ['spec', 'storage', 'size'], `storage size ${formatBytes(size.value)} is below 1Mi`, { hint: 'a writable layer needs room for the files a start writes' });
    },
  },
  {
    name: 'seccomp-file',
    run: ({ spec }, report) => {
      const seccomp = spec.security?.seccomp;
      if (typeof seccomp !== 'object') return;
      const file = seccomp.file;
      const path: FieldPath = ['spec', 'security', 'seccomp', 'file'];
      if (file.startsWith('/')) {
        checkPath(report, path, file, 'seccomp profile');
      } else if (file.split('/').includes('..')) {
        report('error', 'MANIFEST_PATH_TRICK', path, `seccomp profile \`${file}\` climbs out of the manifest's directory`, {
          hint: 'keep profiles next to the manifests, or give an absolute path',
        });
      }
    },
  },
  {
    name: 'env',
    run: ({ spec }, report) => {
      if (!Array.isArray(spec.env)) return;
      const seen = new Map<string, number>();
      spec.env.forEach((e, i) => {
        const previous = seen.get(e.name);
        if (previous !== undefined) report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', 'env', i, 'name'], `environment variable \`${e.name}\` is already set by \`spec.env[${previous}]\``);
        else seen.set(e.name, i);
      });
    },
  },
  {
    name: 'memory',
    run: ({ spec }, report) => {
      const r = spec.resources;
      if (!r) return;
      const at = (f: string): FieldPath => ['spec', 'resources', f];
      const memory = r.memory === undefined ? undefined : parseBytes(r.memory);
      const limit = memory?.ok ? memory.value : undefined;
      if (limit !== undefined && limit < DEFAULTS.minMemoryBytes) {
        report('error', 'MANIFEST_OUT_OF_RANGE', at('memory'), `memory limit ${limit} bytes is below the minimum of ${formatBytes(DEFAULTS.minMemoryBytes)}`, { hint: 'limits are in bytes; did you forget a suffix such as `Mi`?' });
      }
      if (r.memorySwap !== undefined) {
        const swap = parseBytesOrUnlimited(r.memorySwap);
        if (limit === undefined) {
          report('error', 'MANIFEST_CONFLICT', at('memorySwap'), '`memorySwap` needs `memory`', { detail: 'memorySwap limits memory and swap together, so it only means something next to a memory limit' });
        } else if (swap.ok && swap.value !== 'unlimited' && swap.value < limit) {
          report('error', 'MANIFEST_CONFLICT', at('memorySwap'), `memorySwap (${formatBytes(swap.value)}) is less than memory (${formatBytes(limit)})`, { detail: 'memorySwap is memory plus swap, so it is at least memory' });
        }
      }
      if (r.memoryReservation !== undefined && limit !== undefined) {
        const reservation = parseBytes(r.memoryReservation);
        if (reservation.ok && reservation.value > limit) {
          report('error', 'MANIFEST_CONFLICT', at('memoryReservation'), `memoryReservation (${formatBytes(reservation.value)}) is more than memory (${formatBytes(limit)})`);
        }
      }
    },
  },
  {
    name: 'cpuset-and-io',
    run: ({ spec }, report) => {
      const r = spec.resources;
      for (const key of ['cpus', 'mems'] as const) {
        const value = r?.cpuset?.[key];
        if (value === undefined) continue;
        const parsed = parseCpuList(value);
        if (!parsed.ok) report('error', 'MANIFEST_INVALID_FORMAT', ['spec', 'resources', 'cpuset', key], `\`spec.resources.cpuset.${key}\` is \`${value}\`, expected ${parsed.expected}`);
      }
      const devices = new Map<string, number>();
      (r?.io?.limits ?? []).forEach((l, i) => {
        const previous = devices.get(l.device);
        if (previous !== undefined) report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', 'resources', 'io', 'limits', i, 'device'], `device \`${l.device}\` already has limits in \`io.limits[${previous}]\``, { hint: 'merge the two entries' });
        else devices.set(l.device, i);
      });
    },
  },
  {
    name: 'ulimits',
    run: ({ spec }, report) => {
      for (const [name, u] of Object.entries(spec.ulimits ?? {})) {
        const soft = u.soft === 'unlimited' ? Infinity : u.soft;
        const hard = u.hard === 'unlimited' ? Infinity : u.hard;
        if (soft > hard) report('error', 'MANIFEST_CONFLICT', ['spec', 'ulimits', name, 'soft'], `ulimit \`${name}\`: soft limit ${u.soft} is above hard limit ${u.hard}`);
      }
    },
  },
  {
    name: 'namespaces-and-network',
    run: ({ metadata, spec }, report) => {
      const ns = spec.namespaces ?? {};
      const net = spec.network ?? {};
      const netns = networkNamespace(ns.network, net.mode);
      if (spec.hostname !== undefined && ns.uts === 'host') {
        report('error', 'MANIFEST_CONFLICT', ['spec', 'hostname'], '`hostname` needs a private uts namespace, but `namespaces.uts` is `host`');
      }
      if (netns.kind === 'container' && netns.container === metadata.name) {
        report('error', 'MANIFEST_CONFLICT', ['spec', 'namespaces', 'network'], 'a container cannot join its own network namespace');
      }
      if (net.mode === 'host' && ns.network !== undefined && ns.network !== 'host') {
        report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'mode'], `\`network.mode: host\` contradicts \`namespaces.network: ${ns.network}\``, { hint: 'keep one of the two: `namespaces.network: host` is enough' });
      }
      if (netns.kind !== 'private' && (net.mode === 'none' || net.mode === 'bridge')) {
        report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'mode'], `\`network.mode: ${net.mode}\` needs a private network namespace, but \`namespaces.network\` is \`${ns.network}\``);
      }
      const bridged = netns.kind === 'private' && net.mode === 'bridge';
      if (net.ports?.length && !bridged) {
        report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'ports'], 'ports are forwarded only in `network.mode: bridge`', {
          key: true,
          hint: netns.kind === 'host' ? 'with the host network the container listens on host ports directly; remove `ports`' : 'set `network.mode: bridge`',
        });
      }
      if (net.bridge && !bridged) report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'bridge'], '`network.bridge` is used only with `network.mode: bridge`');
      if (net.dns && netns.kind !== 'private') report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'dns'], `\`network.dns\` needs a private network; with \`${ns.network ?? net.mode}\` the resolver comes from there`);
      const seen = new Map<string, number>();
      (net.ports ?? []).forEach((p, i) => {
        const key = `${p.hostIP ?? DEFAULTS.portHostIP}:${p.host ?? p.container}/${p.protocol ?? 'tcp'}`;
        const previous = seen.get(key);
        if (previous !== undefined) report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', 'network', 'ports', i], `host port ${key} is already forwarded by \`ports[${previous}]\``);
        else seen.set(key, i);
      });
    },
  },
  {
    name: 'user-namespace',
    run: ({ spec }, report) => {
      const user = spec.namespaces?.user;
      if (!user) return;
      const at: FieldPath = ['spec', 'namespaces', 'user'];
      if (!user.enabled) {
        if (user.uidMap || user.gidMap || user.auto) report('warning', 'MANIFEST_CONFLICT', [...at, 'enabled'], 'user namespace mappings are ignored because `enabled` is false');
        return;
      }
      if (user.auto && (user.uidMap || user.gidMap)) report('error', 'MANIFEST_CONFLICT', [...at, 'auto'], 'give either `auto` or `uidMap`/`gidMap`, not both');
      if (!!user.uidMap !== !!user.gidMap) report('error', 'MANIFEST_REQUIRED_FIELD', at, `\`${user.uidMap ? 'gidMap' : 'uidMap'}\` is missing: give both maps or neither`, { key: true });
      for (const kind of ['uidMap', 'gidMap'] as const) {
        const maps = [...(user[kind] ?? [])].map((m, i) => ({ ...m, i }));
        for (const side of ['containerID', 'hostID'] as const) {
          const sorted = [...maps].sort((a, b) => a[side] - b[side]);
          for (let k = 1; k < sorted.length; k++) {
            if (sorted[k - 1]![side] + sorted[k - 1]!.size > sorted[k]![side]) {
              report('error', 'MANIFEST_CONFLICT', [...at, kind, sorted[k]!.i], `${kind} ranges ${sorted[k - 1]!.i} and ${sorted[k]!.i} overlap on the ${side === 'hostID' ? 'host' : 'container'} side`);
            }
          }
        }
        for (const m of maps) {
          if (m.hostID + m.size > 4294967295 || m.containerID + m.size > 4294967295) report('error', 'MANIFEST_OUT_OF_RANGE', [...at, kind, m.i], `${kind}[${m.i}] runs past the largest id (4294967294)`);
        }
      }
      const mapped = (id: number, maps: typeof user.uidMap) => !maps || maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
      const uid = spec.user?.uid ?? 0;
      const gid = spec.user?.gid ?? uid;
      if (!mapped(uid, user.uidMap)) report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'uid'], `uid ${uid} is not mapped by \`namespaces.user.uidMap\``);
      if (!mapped(gid, user.gidMap)) report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'gid'], `gid ${gid} is not mapped by \`namespaces.user.gidMap\``);
      if (user.auto?.size !== undefined) {
        if (uid >= user.auto.size) report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'uid'], `uid ${uid} is outside the ${user.auto.size} ids of \`namespaces.user.auto\``);
      }
    },
  },
  {
    name: 'capabilities',
    run: ({ spec }, report) => {
      const caps = spec.security?.capabilities;
      const known = new Set([...ALL_CAPABILITIES, 'ALL']);
      const names = [...ALL_CAPABILITIES.map((c) => c.slice(4)), 'ALL'];
      for (const side of ['add', 'drop'] as const) {
        (caps?.[side] ?? []).forEach((raw, i) => {
          if (!known.has(canonicalCapability(raw))) {
            report('error', 'MANIFEST_INVALID_VALUE', ['spec', 'security', 'capabilities', side, i], `unknown capability \`${raw}\``, {
              hint: didYouMean(raw.toUpperCase().replace(/^CAP_/, ''), names),
            });
          }
        });
      }
      const dropped = new Set((caps?.drop ?? []).map(canonicalCapability));
      (caps?.add ?? []).forEach((raw, i) => {
        const cap = canonicalCapability(raw);
        if (cap !== 'ALL' && dropped.has(cap)) report('error', 'MANIFEST_CONFLICT', ['spec', 'security', 'capabilities', 'add', i], `capability \`${cap}\` is both added and dropped`, { hint: 'remove it from one of the two lists' });
      });
    },
  },
  {
    name: 'sysctls',
    run: ({ spec }, report) => {
      const ns = spec.namespaces ?? {};
      const netPrivate = networkNamespace(ns.network, spec.network?.mode).kind === 'private';
      for (const name of Object.keys(spec.security?.sysctls ?? {})) {
        const at: FieldPath = ['spec', 'security', 'sysctls', name];
        const kind = sysctlNamespace(name);
        if (kind === null) {
          report('error', 'MANIFEST_INVALID_VALUE', at, `sysctl \`${name}\` is not namespaced: setting it would change the whole host`, { key: true, detail: 'allowed: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*, kernel.domainname' });
        } else if (kind === 'net' && !netPrivate) {
          report('error', 'MANIFEST_CONFLICT', at, `sysctl \`${name}\` needs a private network namespace`, { key: true });
        } else if (kind === 'ipc' && ns.ipc === 'host') {
          report('error', 'MANIFEST_CONFLICT', at, `sysctl \`${name}\` needs a private ipc namespace`, { key: true });
        } else if (kind === 'uts' && ns.uts === 'host') {
          report('error', 'MANIFEST_CONFLICT', at, `sysctl \`${name}\` needs a private uts namespace`, { key: true });
        }
      }
    },
  },
  {
    name: 'self-dependency',
    run: ({ metadata, spec }, report) => {
      (spec.dependsOn ?? []).forEach((dep, i) => {
        if (dep === metadata.name) report('error', 'MANIFEST_DEPENDENCY_CYCLE', ['spec', 'dependsOn', i], 'a container cannot depend on itself');
      });
    },
  },
];

export function runDocumentChecks(checked: CheckedDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporter(checked.doc, out);
  for (const check of [...DOCUMENT_CHECKS, ...DOCUMENT_WARNINGS]) check.run(checked.manifest, report);
  return out;
}

// ---- checks across the whole manifest set ----

function locateAt(d: CheckedDocument, path: FieldPath, key = false) {
  return d.doc.locate(path, key);
}

function where(d: CheckedDocument): string {
  const s = locateAt(d, ['metadata', 'name']);
  return `${s.file}:${s.line}:${s.column}`;
}

/** Could one host be selected by both selectors? Conservative: only provably disjoint ones say no. */
export function selectorsMayOverlap(a: ManifestV1['spec']['hosts'], b: ManifestV1['spec']['hosts']): boolean {
  for (const [key, value] of Object.entries(a?.labels ?? {})) {
    const other = b?.labels?.[key];
    if (other !== undefined && other !== value) return false;
  }
  const literal = (names: string[] | undefined) => names !== undefined && names.every((n) => !/[*?]/.test(n));
  if (literal(a?.hostnames) && literal(b?.hostnames)) {
    const set = new Set(a!.hostnames!.map((n) => n.toLowerCase()));
    if (!b!.hostnames!.some((n) => set.has(n.toLowerCase()))) return false;
  }
  return true;
}

export const SET_CHECKS: readonly SetCheck[] = [
  {
    name: 'duplicate-names',
    run: (docs) => {
      const out: Diagnostic[] = [];
      const byName = new Map<string, CheckedDocument[]>();
      for (const d of docs) byName.set(d.manifest.metadata.name, [...(byName.get(d.manifest.metadata.name) ?? []), d]);
      for (const [name, group] of byName) {
        for (let i = 1; i < group.length; i++) {
          const first = group.slice(0, i).find((g) => selectorsMayOverlap(g.manifest.spec.hosts, group[i]!.manifest.spec.hosts));
          if (!first) continue;
          out.push(diagnostic('error', 'MANIFEST_DUPLICATE_NAME', `container \`${name}\` is defined twice: here and at ${where(first)}`, {
            container: name, field: 'metadata.name', source: locateAt(group[i]!, ['metadata', 'name']),
            hint: 'rename one of them, or give them disjoint `spec.hosts` selectors',
          }));
        }
      }
      return out;
    },
  },
  {
    name: 'references',
    run: (docs) => {
      const out: Diagnostic[] = [];
      const names = new Set(docs.map((d) => d.manifest.metadata.name));
      for (const d of docs) {
        const { spec, metadata } = d.manifest;
        (spec.dependsOn ?? []).forEach((dep, i) => {
          if (!names.has(dep)) {
            out.push(diagnostic('error', 'MANIFEST_UNKNOWN_REFERENCE', `\`dependsOn\` names \`${dep}\`, which no manifest defines`, {
              container: metadata.name, field: `spec.dependsOn[${i}]`, source: locateAt(d, ['spec', 'dependsOn', i]), ...hintFor(dep, names),
            }));
          }
        });
        const netns = networkNamespace(spec.namespaces?.network, spec.network?.mode);
        if (netns.kind === 'container' && netns.container !== metadata.name) {
          const target = docs.find((o) => o.manifest.metadata.name === netns.container);
          const at = { container: metadata.name, field: 'spec.namespaces.network', source: locateAt(d, ['spec', 'namespaces', 'network']) };
          if (!target) {
            out.push(diagnostic('error', 'MANIFEST_UNKNOWN_REFERENCE', `\`namespaces.network\` joins \`${netns.container}\`, which no manifest defines`, { ...at, ...hintFor(netns.container, names) }));
          } else if (networkNamespace(target.manifest.spec.namespaces?.network, target.manifest.spec.network?.mode).kind !== 'private') {
            out.push(diagnostic('error', 'MANIFEST_CONFLICT', `\`${netns.container}\` does not have a private network namespace to join`, at));
          }
        }
      }
      return out;
    },
  },
  {
    name: 'dependency-cycles',
    run: (docs) => {
      const graph = new Map<string, string[]>();
      for (const d of docs) {
        const { spec, metadata } = d.manifest;
        const netns = networkNamespace(spec.namespaces?.network, spec.network?.mode);
        // Joining another container's network is a start-order dependency too.
        graph.set(metadata.name, [...(spec.dependsOn ?? []), ...(netns.kind === 'container' ? [netns.container] : [])].filter((n) => n !== metadata.name));
      }
      const out: Diagnostic[] = [];
      const state = new Map<string, 'visiting' | 'done'>();
      const reported = new Set<string>();
      const visit = (name: string, stack: string[]): void => {
        if (state.get(name) === 'done') return;
        if (state.get(name) === 'visiting') {
          const cycle = [...stack.slice(stack.indexOf(name)), name];
          const key = [...cycle].slice(0, -1).sort().join(',');
          if (!reported.has(key)) {
            reported.add(key);
            const doc = docs.find((d) => d.manifest.metadata.name === cycle[0])!;
            out.push(diagnostic('error', 'MANIFEST_DEPENDENCY_CYCLE', `dependency cycle: ${cycle.join(' → ')}`, {
              container: cycle[0]!, field: 'spec.dependsOn', source: locateAt(doc, ['spec', 'dependsOn']), hint: 'remove one of these dependencies',
            }));
          }
          return;
        }
        state.set(name, 'visiting');
        for (const next of graph.get(name) ?? []) if (graph.has(next)) visit(next, [...stack, name]);
        state.set(name, 'done');
      };
      for (const name of graph.keys()) visit(name, []);
      return out;
    },
  },
  {
    name: 'host-port-conflicts',
    run: (docs) => {
      const out: Diagnostic[] = [];
      const owners = new Map<string, { d: CheckedDocument; i: number }>();
      for (const d of docs) {
        (d.manifest.spec.network?.ports ?? []).forEach((p, i) => {
          const key = `${p.hostIP ?? DEFAULTS.portHostIP}:${p.host ?? p.container}/${p.protocol ?? 'tcp'}`;
          const owner = owners.get(key);
          if (owner && owner.d !== d && selectorsMayOverlap(owner.d.manifest.spec.hosts, d.manifest.spec.hosts)) {
            const s = locateAt(owner.d, ['spec', 'network', 'ports', owner.i]);
            out.push(diagnostic('error', 'MANIFEST_DUPLICATE_ENTRY', `host port ${key} is also forwarded by \`${owner.d.manifest.metadata.name}\` at ${s.file}:${s.line}:${s.column}`, {
              container: d.manifest.metadata.name, field: `spec.network.ports[${i}]`, source: locateAt(d, ['spec', 'network', 'ports', i]),
              hint: 'pick another host port or host address for one of them',
            }));
          } else if (!owner) {
            owners.set(key, { d, i });
          }
        });
      }
      return out;
    },
  },
];

function hintFor(name: string, names: Set<string>): { hint: string } {
  return { hint: didYouMean(name, names) ?? `define a container named \`${name}\`, or correct the name` };
}

export function runSetChecks(docs: readonly CheckedDocument[]): Diagnostic[] {
  return SET_CHECKS.flatMap((c) => c.run(docs));
}
