// Per-container root filesystems: from a ContainerSpec's `rootfs` to the RootfsLayout the shim
// mounts inside the container's mount namespace.
//
//   resolveRootfs   source → lower layers, binds, image defaults, digest. Reads the store only (and
//                   builds the host skeleton when missing), so plan time can call it for the digest.
//   prepareRootfs   + the container's upper/work/rootfs directories and its rootfs record. The upper
//                   survives restarts; it is emptied when the rootfs identity changes (another image
//                   digest, another path, host ↔ image). Call it only while the container is stopped.
//   removeContainerRootfs  deletes all of that; idempotent.

import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { CorralError } from '../../errors.js';
import type { ContainerSpec, RootfsSource } from '../../manifest/spec.js';
import { layout } from '../../state/layout.js';
import { asSyscallError, ensureDir, errnoCode, fsStep, listDir, removeFile, removeTree } from './fs-util.js';
import { ensureHostRoot, type HostRoot, type HostRootOptions } from './host-root.js';
import { formatImageRef } from './images/image-ref.js';
import { getImage } from './images/store.js';
import { stateRootOverlap } from './mount-sources.js';
import { directoriesInUse } from './mount-usage.js';
import { checkLowerCount, checkOverlayPath, checkSameFilesystem, checkUpperFilesystem } from './pitfalls.js';
import { readRootfsRecord, ROOTFS_RECORD_VERSION, writeRootfsRecord, type RootfsRecord } from './rootfs-record.js';
import type { BindSpec, ImageDefaults, RootfsLayout } from './rootfs-layout.js';

export interface ResolvedRootfs {
  readonly source: RootfsSource;
  /** Top first (overlayfs order). */
  readonly lower: readonly string[];
  readonly binds: readonly BindSpec[];
  /** The image's defaults; null for `path` and `host` roots. */
  readonly defaults: ImageDefaults | null;
  /**
   * Image manifest digest, or the host skeleton's digest; null for `path` roots. An image digest
   * belongs in the spec hash (a re-import under the same name must recreate the container). The
   * host digest changes with the host's /etc and need not restart anything.
   */
  readonly digest: string | null;
  /** What decides whether an existing upper still belongs to this rootfs. */
  readonly identity: string;
}

export interface PreparedOverlay extends ResolvedRootfs {
  readonly layout: RootfsLayout;
  /** True when an upper from a previous, different rootfs was deleted. */
  readonly upperReset: boolean;
}

export interface RootfsOptions extends HostRootOptions {
  /** Supplies the host root instead of ensureHostRoot (the rootfs port shares one per pass). */
  readonly hostRoot?: () => HostRoot;
}

function checkPathRoot(root: string, path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      throw new CorralError('ROOTFS_PATH_MISSING', `rootfs path \`${path}\` does not exist`, { field: 'spec.rootfs.path' });
    }
    throw asSyscallError(err, `inspect rootfs path \`${path}\``);
  }
  if (!st.isDirectory()) throw new CorralError('ROOTFS_PATH_MISSING', `rootfs path \`${path}\` is not a directory`, { field: 'spec.rootfs.path' });
  const problem = stateRootOverlap(root, path);
  if (problem) throw new CorralError('MANIFEST_PATH_TRICK', `rootfs path \`${path}\` ${problem}`, { field: 'spec.rootfs.path' });
}


export function resolveRootfs(root: string, source: RootfsSource, options: RootfsOptions = {}): ResolvedRootfs {
  switch (source.kind) {
    case 'image': {
      const image = getImage(root, source);
      const l = layout(root);
      // Stored bottom first; overlayfs wants the top first.
      const lower = [...image.layers].reverse().map((layer) => l.layer(layer.digest));
      for (const [i, dir] of lower.entries()) {
        try {
          if (!statSync(dir).isDirectory()) throw new Error('not a directory');
        } catch {
          throw new CorralError('IMAGE_INVALID', `layer \`${image.layers[image.layers.length - 1 - i]!.digest}\` of image \`${formatImageRef(source)}\` is missing from the store`, {
            hint: `re-import the image: corral image import … --name ${formatImageRef(source)}`,
          });
        }
      }
      return { source, lower, binds: [], defaults: image.defaults, digest: image.digest, identity: `image:${image.digest}` };
    }
    case 'path':
      checkPathRoot(root, source.path);
      return { source, lower: [source.path], binds: [], defaults: null, digest: null, identity: `path:${source.path}` };
    case 'host': {
      const host = options.hostRoot?.() ?? ensureHostRoot(root, options);
      return { source, lower: [host.dir], binds: host.binds, defaults: null, digest: host.digest, identity: 'host' };
    }
  }
}

function isEmptyDir(path: string): boolean {
  return listDir(path).length === 0;
}

export function prepareRootfs(root: string, name: string, spec: Pick<ContainerSpec, 'rootfs' | 'readOnlyRootfs'>, options: RootfsOptions = {}): PreparedOverlay {
  const resolved = resolveRootfs(root, spec.rootfs, options);
  const paths = layout(root).container(name);
  checkLowerCount(resolved.lower.length, name);
  for (const [i, dir] of resolved.lower.entries()) checkOverlayPath(dir, `lower layer ${i}`);
  checkOverlayPath(paths.upper, 'upper directory');
  checkOverlayPath(paths.work, 'work directory');

  ensureDir(layout(root).containersDir);
  ensureDir(paths.dir);
  const previous = readRootfsRecord(root, name);
  let upperReset = false;
  if (previous && previous.identity !== resolved.identity) {
    // A container still running on the old rootfs has its overlay in its own namespace, out of
    // removeTree's sight: ask every namespace before the upper goes.
    const busy = directoriesInUse([paths.upper, paths.work]);
    if (busy.size) {
      throw new CorralError('ROOTFS_BUSY', `container \`${name}\` changed rootfs but its old overlay is still mounted`, {
        detail: [...busy.values()].flat().join(', '), hint: 'stop the container before preparing its new rootfs', container: name,
      });
    }
    upperReset = !isEmptyDir(paths.upper);
    removeTree(paths.upper);
    removeTree(paths.work);
  }
  fsStep(`create the overlay directories of \`${name}\``, () => {
    mkdirSync(paths.upper, { recursive: true, mode: 0o755 });
    mkdirSync(paths.work, { recursive: true, mode: 0o700 });
    mkdirSync(paths.rootfs, { recursive: true, mode: 0o755 });
  });
  checkUpperFilesystem(paths.upper, name);
  checkSameFilesystem(paths.upper, paths.work, name);

  const record: RootfsRecord = {
    formatVersion: ROOTFS_RECORD_VERSION, identity: resolved.identity, source: resolved.source, lower: resolved.lower, digest: resolved.digest,
    // The same upper and work directories, so whatever project id they carry still holds.
    ...(previous?.identity === resolved.identity && previous.projectId !== undefined ? { projectId: previous.projectId } : {}),
  };
  if (JSON.stringify(previous) !== JSON.stringify(record)) writeRootfsRecord(root, name, record);

  return {
    ...resolved,
    upperReset,
    layout: { lower: resolved.lower, upper: paths.upper, work: paths.work, target: paths.rootfs, binds: resolved.binds, readOnly: spec.readOnlyRootfs },
  };
}

/**
 * Deletes a container's upper, work and rootfs directories and its record, then the container
 * directory if nothing else (shim files, logs) is left in it. Refuses (ROOTFS_BUSY) while
 * anything is mounted there in this mount namespace.
 */
export function removeContainerRootfs(root: string, name: string): void {
  const paths = layout(root).container(name);
  removeTree(paths.upper);
  removeTree(paths.work);
  removeTree(paths.rootfs);
  removeFile(paths.rootfsRecord);
  try {
    rmdirSync(paths.dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw asSyscallError(err, `delete \`${paths.dir}\``);
  }
}
