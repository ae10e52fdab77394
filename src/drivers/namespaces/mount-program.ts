// The mount program of a container (docs/security.md, "What a default container gets"): the
// overlay root, /proc, a tmpfs /dev holding only the allowed devices, a private devpts, /dev/shm,
// mqueue, read-only /sys, the image binds and the manifest's mounts (before pivot_root); then
// sysctls, masked and read-only paths and a read-only root (after it). Pure.

import { CorralError } from '../../errors.js';
import { DEFAULT_DEVICES, FILES_MOUNT } from '../../manifest/defaults.js';
import { filesOf, type ContainerSpec, type IdMap, type MountOption, type MountOwner, type Propagation } from '../../manifest/spec.js';
import type { RootfsLayout } from '../../reconciler/ports.js';
import type { MountOp, RootMount } from './spawn-spec.js';

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, REMOUNT: 0x20, NOATIME: 0x400, NODIRATIME: 0x800, BIND: 0x1000,
  REC: 0x4000, PRIVATE: 0x40000, SLAVE: 0x80000, SHARED: 0x100000, RELATIME: 0x200000, STRICTATIME: 0x1000000,
} as const;

const S_IFCHR = 0o020000;

/** The nodes corral creates in every container's /dev: the named entries of the default allow-list. */
export const DEVICES: readonly { readonly name: string; readonly major: number; readonly minor: number }[] = DEFAULT_DEVICES
  .filter((d): d is typeof d & { node: string } => d.node !== null)
  .map((d) => ({ name: d.node, major: d.rule.major ?? 0, minor: d.rule.minor ?? 0 }));

/** glibc's makedev for majors and minors below 4096 and 256. */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff);
}

const TTY_GID = 5;
/** The overlay lowerdir/upperdir/workdir string must fit mount(2)'s one page. */
const MAX_MOUNT_DATA = 4095;

export interface MountProgramInputs {
  readonly spec: ContainerSpec;
  readonly rootfs: RootfsLayout;
  readonly volumes: Readonly<Record<string, string>>;
  /** The process's ids as resolved at start; absent: the manifest's. */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** With a user namespace, device nodes are bind-mounted (mknod is refused there). */
  readonly userns: { readonly uid: readonly IdMap[]; readonly gid: readonly IdMap[] } | null;
}

export interface MountProgram {
  readonly root: RootMount;
  readonly mounts: readonly MountOp[];
  readonly finalize: readonly MountOp[];
}

function escapeOverlayPath(p: string): string {
  // overlayfs splits its options at commas and lowerdir at colons; both are escaped with a backslash.
  return p.replace(/([\\,:])/g, '\\$1');
}

export function overlayData(rootfs: RootfsLayout): string {
  const lower = rootfs.lower.map(escapeOverlayPath).join(':');
  return `lowerdir=${lower},upperdir=${escapeOverlayPath(rootfs.upper)},workdir=${escapeOverlayPath(rootfs.work)}`;
}

function mapped(maps: readonly IdMap[], id: number): boolean {
  return maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
}

const PROPAGATION: Record<string, number> = { private: MS.PRIVATE, slave: MS.SLAVE, shared: MS.SHARED };

function propagation(p: Propagation): number {
  const base = PROPAGATION[p.replace(/^r/, '')] ?? MS.PRIVATE;
  return p.startsWith('r') ? base | MS.REC : base;
}

function options(list: readonly MountOption[]): number {
  const table: Record<MountOption, number> = { nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, noatime: MS.NOATIME, nodiratime: MS.NODIRATIME, relatime: MS.RELATIME };
  return list.reduce((f, o) => f | table[o], 0);
}

function devMounts(inputs: MountProgramInputs): MountOp[] {
  const { spec, userns } = inputs;
  const ops: MountOp[] = [
    { kind: 'mount', source: 'tmpfs', target: '/dev', fstype: 'tmpfs', flags: MS.NOSUID | MS.STRICTATIME, data: 'mode=755,size=65536k', create: 'dir' },
  ];
  for (const d of DEVICES) {
    ops.push(userns
      ? { kind: 'bind', source: `/dev/${d.name}`, target: `/dev/${d.name}`, flags: MS.BIND, create: 'file' }
      : { kind: 'mknod', target: `/dev/${d.name}`, mode: S_IFCHR | 0o666, dev: makedev(d.major, d.minor) });
  }
  // Host devices the manifest asked for: bound, never created, so the node is the host's own and
  // the allow-list (enforced by the cgroups driver) decides what the container may do with it.
  for (const d of spec.devices.host) {
    ops.push({ kind: 'bind', source: d.hostPath, target: d.containerPath, flags: MS.BIND, create: 'file' });
  }
  const ttyGid = !userns || mapped(userns.gid, TTY_GID) ? `,gid=${TTY_GID}` : '';
  ops.push(
    { kind: 'mount', source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS.NOSUID | MS.NOEXEC, data: `newinstance,ptmxmode=0666,mode=0620${ttyGid}`, create: 'dir' },
    { kind: 'symlink', source: 'pts/ptmx', target: '/dev/ptmx' },
    { kind: 'symlink', source: '/proc/self/fd', target: '/dev/fd' },
    { kind: 'symlink', source: '/proc/self/fd/0', target: '/dev/stdin' },
    { kind: 'symlink', source: '/proc/self/fd/1', target: '/dev/stdout' },
    { kind: 'symlink', source: '/proc/self/fd/2', target: '/dev/stderr' },
    { kind: 'mount', source: 'shm', target: '/dev/shm', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'mode=1777,size=65536k', create: 'dir' },
  );
  if (spec.namespaces.ipc === 'private') {
    ops.push({ kind: 'mount', source: 'mqueue', target: '/dev/mqueue', fstype: 'mqueue', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, create: 'dir' });
  }
  return ops;
}

function sysMount(inputs: MountProgramInputs): MountOp {
  const { spec, userns } = inputs;
  const ro = spec.security.privileged ? 0 : MS.RDONLY;
  // sysfs shows the mounter's network namespace, and inside a user namespace may only be mounted
  // for a network namespace it owns: with the host's network, another container's, or a bridged
  // one (made by the network driver, owned by the host's user namespace), bind the host's /sys.
  const ownsNetwork = spec.namespaces.network.kind === 'private' && spec.network.mode !== 'bridge';
  if (userns && !ownsNetwork) {
    return { kind: 'bind', source: '/sys', target: '/sys', flags: MS.BIND | MS.REC | ro | MS.NOSUID | MS.NODEV | MS.NOEXEC, create: 'dir' };
  }
  return { kind: 'mount', source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC | ro, create: 'dir' };
}

/** The host id that shows as container id `id` (itself without a user namespace); null: unmapped. */
function hostId(maps: readonly IdMap[] | undefined, id: number): number | null {
  if (!maps) return id;
  const m = maps.find((x) => id >= x.containerID && id < x.containerID + x.size);
  return m ? m.hostID + (id - m.containerID) : null;
}

/** A bind's `idmap`: through the container's namespace, or one host owner shown as the container's user. */
function bindIdmap(inputs: MountProgramInputs, idmap: 'container' | MountOwner | null, target: string): Pick<MountOp, 'idmap'> {
  if (idmap === null) return {};
  const { spec, userns } = inputs;
  if (idmap === 'container') {
    if (!userns) throw new CorralError('MANIFEST_CONFLICT', `container \`${spec.name}\`: the bind on ${target} asks for \`idmap: true\` without a user namespace`, { container: spec.name });
    return { idmap: 'container' };
  }
  const user = inputs.user ?? spec.process.user;
  const uid = hostId(userns?.uid, user.uid);
  const gid = hostId(userns?.gid, user.gid);
  if (uid === null || gid === null) {
    throw new CorralError('MANIFEST_CONFLICT', `container \`${spec.name}\`: the bind on ${target} maps to the container's user, which its user namespace does not map`, { container: spec.name });
  }
  // uid_map lines of a namespace of its own: the host owner's id inside it is what shows through.
  return { idmap: { uidMap: `${idmap.uid} ${uid} 1\n`, gidMap: `${idmap.gid} ${gid} 1\n` } };
}

function userMounts(inputs: MountProgramInputs): MountOp[] {
  const { spec, volumes } = inputs;
  return spec.mounts.map((m): MountOp => {
    const ro = m.readOnly ? MS.RDONLY : 0;
    switch (m.type) {
      case 'bind':
        return {
          kind: 'bind', source: m.source, target: m.target, flags: MS.BIND | (m.recursive ? MS.REC : 0) | ro | options(m.options) | propagation(m.propagation), create: 'dir',
          ...bindIdmap(inputs, m.idmap ?? null, m.target),
        };
      case 'volume': {
        const source = volumes[m.name];
        if (!source) throw new CorralError('VOLUME_NOT_FOUND', `container \`${spec.name}\`: volume \`${m.name}\` has no host directory`, { container: spec.name });
        // A volume's files keep container ids on disk: through the container's namespace, so the
        // volume reads the same in any container, whatever its host range.
        return { kind: 'bind', source, target: m.target, flags: MS.BIND | MS.REC | ro | options(m.options), create: 'dir', ...(inputs.userns ? { idmap: 'container' as const } : {}) };
      }
      case 'tmpfs': {
        // Mounted inside the container's user namespace, so the ids are the container's own.
        const owner = m.owner ? `,uid=${m.owner.uid},gid=${m.owner.gid}` : '';
        return { kind: 'mount', source: 'tmpfs', target: m.target, fstype: 'tmpfs', flags: ro | options(m.options), data: `size=${m.sizeBytes},mode=${m.mode.toString(8)}${owner}`, create: 'dir' };
      }
    }
  });
}

/**
 * Secrets and config files (src/drivers/overlay/file-tree.ts): their tree read-only at
 * FILES_MOUNT, after the manifest's mounts (a tmpfs on /run must not hide it), and at each target
 * a symlink to the current generation, which replaces what the image has there (a file or a
 * link, never a directory: the shim refuses to remove one).
 */
function fileMounts(inputs: MountProgramInputs): MountOp[] {
  const { spec, rootfs } = inputs;
  if (filesOf(spec).length === 0) return [];
  if (!rootfs.files) throw new CorralError('INTERNAL', `container \`${spec.name}\`: its secrets and config files have no tree`, { container: spec.name });
  return [
    {
      kind: 'bind', source: rootfs.files, target: FILES_MOUNT, flags: MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, create: 'dir',
      // Owners are written as the container's ids: through its namespace they show as written.
      ...(inputs.userns ? { idmap: 'container' as const } : {}),
    },
    ...filesOf(spec).map((f): MountOp => ({ kind: 'symlink', target: f.target, source: `${FILES_MOUNT}/..data/${f.kind}/${f.name}`, create: 'replace' })),
  ];
}

export function buildMountProgram(inputs: MountProgramInputs): MountProgram {
  const { spec, rootfs } = inputs;
  const data = overlayData(rootfs);
  if (data.length > MAX_MOUNT_DATA) {
    throw new CorralError('OVERLAY_MOUNT_FAILED', `container \`${spec.name}\`: the overlay options are ${data.length} bytes, over mount(2)'s ${MAX_MOUNT_DATA}`, { container: spec.name });
  }
  const needsSlave = spec.mounts.some((m) => m.type === 'bind' && /slave|shared/.test(m.propagation));
  // With a user namespace the monitor mounts the overlay itself, each lower layer idmapped to the
  // container's namespace; the layers' own files, and corral's binds into the root, show as the
  // container's ids without a chown (shim/detached.c).
  const root: RootMount = {
    target: rootfs.target, source: 'overlay', fstype: 'overlay', data, flags: 0,
    propagation: MS.REC | (needsSlave ? MS.SLAVE : MS.PRIVATE),
    ...(inputs.userns ? { layers: { lower: rootfs.lower, upper: rootfs.upper, work: rootfs.work } } : {}),
  };
  const idmap = inputs.userns ? { idmap: 'container' as const } : {};
  const mounts: MountOp[] = [
    { kind: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, create: 'dir' },
    ...devMounts(inputs),
    sysMount(inputs),
    ...rootfs.binds.map((b): MountOp => ({
      kind: 'bind', source: b.source, target: b.target, flags: MS.BIND | MS.REC | (b.readOnly ? MS.RDONLY : 0),
      create: b.replaceSymlink ? 'replace' : 'dir', ...idmap,
    })),
    ...userMounts(inputs),
    ...fileMounts(inputs),
  ];
  const sec = spec.security;
  const finalize: MountOp[] = [
    // A bridged container's `net.*` sysctls are set by the network driver in the namespace it makes.
    ...sec.sysctls.filter((s) => !(spec.network.mode === 'bridge' && s.name.startsWith('net.')))
      .map((s): MountOp => ({ kind: 'write', target: `/proc/sys/${s.name.replace(/\./g, '/')}`, data: s.value })),
    ...sec.maskedPaths.map((p): MountOp => ({ kind: 'mask', target: p, optional: true })),
    ...sec.readonlyPaths.map((p): MountOp => ({ kind: 'readonly', target: p, optional: true })),
  ];
  if (rootfs.readOnly || spec.readOnlyRootfs) finalize.push({ kind: 'remount', target: '/', flags: MS.RDONLY });
  return { root, mounts, finalize };
}
