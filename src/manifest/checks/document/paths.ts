// Paths a manifest writes: the root, the working directory, mount targets and sources, device
// nodes, the seccomp profile. Each must be canonical (no `.` or `..` segments, no `//`, no trailing
// `/`), so the path validate looked at is the path the runtime resolves; and none may take the
// place of what corral sets up inside the container itself (/proc, /sys, /dev and its entries,
// masked paths), which the runtime and the container's programs rely on. Pure.

import { CorralError } from '../../../errors.js';
import { DEFAULT_MASKED_PATHS } from '../../defaults.js';
import { isRegistryReference, parseReference } from '../../image-reference.js';
import type { FieldPath } from '../../field-path.js';
import { isCanonicalAbsolute, isWithin, normalizeAbsolute } from '../../posix-path.js';
import { parseBytes } from '../../quantity.js';
import type { DocumentCheck, Report } from '../report.js';

/** Kernel filesystems corral mounts in every container itself. */
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

/**
 * Reports `value` unless it is canonical, and says whether it is: the rules that look further at
 * a path (under /proc? over /dev/null?) only make sense on one that means what it says.
 */
function checkPath(report: Report, path: FieldPath, value: string, what: string): boolean {
  if (isCanonicalAbsolute(value)) return true;
  const clean = normalizeAbsolute(value);
  report('error', 'MANIFEST_PATH_TRICK', path, `${what} \`${value}\` is not a canonical absolute path`, {
    detail: 'paths must not contain `.` or `..` segments, `//` or a trailing `/`',
    hint: clean !== value ? `write \`${clean}\` if that is what you mean` : undefined,
  });
  return false;
}

export const canonicalPaths: DocumentCheck = {
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
};

const STORE_NAME = /^[a-z0-9][a-z0-9._-]{0,127}(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/;

/** Exactly one source; an image is a store name or a well-formed registry reference. */
export const rootfsSource: DocumentCheck = {
  name: 'rootfs-source',
  run: ({ spec }, report) => {
    const r = spec.rootfs;
    const given = (['image', 'path', 'host'] as const).filter((k) => r[k] !== undefined);
    if (given.length !== 1) {
      report('error', 'MANIFEST_INVALID_VALUE', ['spec', 'rootfs'], given.length === 0
        ? '`rootfs` names no source'
        : `\`rootfs\` names ${given.length} sources (${given.map((g) => `\`${g}\``).join(', ')})`, { hint: 'give exactly one of `image`, `path` or `host`' });
    }
    if (r.pullPolicy !== undefined && (r.image === undefined || !isRegistryReference(r.image))) {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'rootfs', 'pullPolicy'], '`pullPolicy` applies only to a registry reference in `rootfs.image`', {
        hint: 'name the image with its registry host (`registry.example.com/app:1`), or drop `pullPolicy`: a store name is never pulled',
      });
    }
    if (r.image === undefined) return;
    if (isRegistryReference(r.image)) {
      try {
        parseReference(r.image);
      } catch (err) {
        report('error', 'MANIFEST_INVALID_FORMAT', ['spec', 'rootfs', 'image'], err instanceof CorralError ? err.summary : String(err), err instanceof CorralError && err.detail ? { detail: err.detail } : {});
      }
    } else if (!STORE_NAME.test(r.image)) {
      report('error', 'MANIFEST_INVALID_FORMAT', ['spec', 'rootfs', 'image'], `image \`${r.image}\` is neither a store name nor a registry reference`, {
        detail: 'a store name: lower-case letters, digits, `.`, `_`, `-`, then `:TAG`; a registry reference starts with its registry host (`127.0.0.1:5000/team/app:1`, `docker.io/library/nginx`)',
      });
    }
  },
};

export const mounts: DocumentCheck = {
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
};

export const devices: DocumentCheck = {
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
};

export const seccompFile: DocumentCheck = {
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
};
