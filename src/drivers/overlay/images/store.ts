// The image store under the state root:
//   layers/sha256-<diff_id>/    one unpacked layer (an overlay lower dir), shared by every image
//   images/<name>/<tag>.json    an image: its layers bottom-first, defaults, digests
// An import unpacks into tmp/import-<pid>-*, verifies every digest, and only then renames the new
// layers into place and writes the record: a failed import leaves nothing behind but its staging
// directory, which is removed on the way out (or by GC after a crash).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, renameSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../../errors.js';
import { layout } from '../../../state/layout.js';
import { asSyscallError, atomicWriteFile, diskUsage, ensureDir, errnoCode, exists, listDir, readJson, removeFile, removeTree } from '../fs-util.js';
import { NO_DEFAULTS } from '../image-defaults.js';
import type { ImageDefaults } from '../rootfs-layout.js';
import { readRootfsRecord } from '../rootfs-record.js';
import { unpackBlob } from './blob.js';
import { formatImageRef, type ImageRef } from './image-ref.js';
import { inParallel, PARALLEL_LAYERS } from './in-parallel.js';
import { MEDIA, ociArchitecture, readOciLayout, type OciImage } from './oci-layout.js';
import { withStoreLock } from './store-lock.js';

export const IMAGE_RECORD_VERSION = 1;
/** Directory levels of a store name: a registry host and a repository path of up to 15 parts. */
const MAX_NAME_DEPTH = 16;

export interface ImageLayer {
  /** sha256 of the uncompressed layer tar (OCI diff_id); names the directory in layers/. */
  readonly digest: string;
  /** Bytes the unpacked layer occupies on disk. */
  readonly bytes: number;
}

export interface ImageRecord {
  readonly formatVersion: typeof IMAGE_RECORD_VERSION;
  readonly name: string;
  readonly tag: string;
  /** Manifest digest: what `skopeo inspect` shows; for a tarball, the digest of an equivalent OCI manifest. Goes into the spec hash. */
  readonly digest: string;
  readonly configDigest: string;
  /** Bottom layer first. */
  readonly layers: readonly ImageLayer[];
  readonly defaults: ImageDefaults;
  readonly os: string;
  readonly architecture: string;
  /** Where it came from: an OCI layout or a tarball (`path`), or a registry (`path`: the canonical reference pulled). */
  readonly source: { readonly kind: 'oci' | 'tar' | 'dir' | 'registry'; readonly path: string; readonly ref: string | null };
  readonly importedAt: string;
}

export interface ImportOptions {
  /** Pick one image of a multi-image layout by its `org.opencontainers.image.ref.name`. */
  readonly ref?: string;
  /** Record this source instead of the layout directory (a pull stages one). */
  readonly source?: { readonly kind: 'registry'; readonly path: string };
  /** Device nodes in a layer: refuse the import (default) or leave them out. */
  readonly devices?: 'refuse' | 'skip';
  readonly now?: () => Date;
  /**
   * Layers a pull already unpacked and verified, by diff_id: moved into the store as they are.
   * Each directory must be on the store's filesystem (the pull stages under <root>/tmp).
   */
  readonly unpacked?: ReadonlyMap<string, PreUnpackedLayer>;
}

export interface PreUnpackedLayer {
  readonly dir: string;
  readonly skippedDevices: readonly string[];
}

export interface ImportResult {
  readonly image: ImageRecord;
  /** The record this import replaced (same name and tag), if any. */
  readonly replaced: ImageRecord | null;
  readonly newLayers: readonly string[];
  readonly reusedLayers: readonly string[];
  readonly skippedDevices: readonly string[];
  readonly warnings: readonly string[];
}

interface StagedLayer {
  readonly digest: string;
  readonly staged: string | null;
  readonly skippedDevices: readonly string[];
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

function stagingDir(root: string): string {
  const dir = join(layout(root).tmpDir, `import-${process.pid}-${randomBytes(4).toString('hex')}`);
  ensureDir(layout(root).tmpDir);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

function newLayerDir(staging: string, index: number): string {
  const dir = join(staging, `layer-${index}`);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}

async function stageOci(root: string, image: OciImage, staging: string, options: ImportOptions): Promise<StagedLayer[]> {
  const out: StagedLayer[] = [];
  await inParallel(image.layers, PARALLEL_LAYERS, async (layer, i) => {
    const what = `layer ${i + 1} of ${image.layers.length} (\`${layer.digest}\`)`;
    if (exists(layout(root).layer(layer.diffId))) {
      out[i] = { digest: layer.diffId, staged: null, skippedDevices: [] };
      return;
    }
    const pulled = options.unpacked?.get(layer.diffId);
    if (pulled !== undefined) {
      out[i] = { digest: layer.diffId, staged: pulled.dir, skippedDevices: pulled.skippedDevices };
      return;
    }
    try {
      if (!lstatSync(layer.path).isFile()) throw new CorralError('IMAGE_INVALID', `${what} is not a regular file in the layout`);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new CorralError('IMAGE_INVALID', `${what} is missing from the layout`, { detail: `expected at ${layer.path}` });
      throw asSyscallError(err);
    }
    const dir = newLayerDir(staging, i);
    const blob = await unpackBlob(layer.path, dir, what, { digest: layer.digest, size: layer.size, diffId: layer.diffId }, { devices: options.devices ?? 'refuse' });
    out[i] = { digest: layer.diffId, staged: dir, skippedDevices: blob.report.skippedDevices };
  });
  return out;
}

/** `tar` of a directory, numeric owners and extended attributes kept, never leaving its filesystem. */
function archiveDirectory(dir: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['--numeric-owner', '--xattrs', '--one-file-system', '-C', dir, '-cf', file, '.'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-500); });
    child.on('error', (err) => reject(new CorralError('IMAGE_INVALID', `cannot archive \`${dir}\`: ${err.message}`, { hint: 'install tar' })));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new CorralError('IMAGE_INVALID', `cannot archive \`${dir}\`: tar exited with ${code}`, { detail: stderr.trim() }))));
  });
}

/** A rootfs tarball becomes a one-layer image with a synthesized OCI config and manifest. */
async function stageTarball(root: string, file: string, staging: string, options: ImportOptions): Promise<{ image: OciImage; layers: StagedLayer[] }> {
  const dir = newLayerDir(staging, 0);
  const blob = await unpackBlob(file, dir, `\`${file}\``, {}, { devices: options.devices ?? 'refuse' });
  const architecture = ociArchitecture();
  const config = JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [blob.diffId] }, config: {} });
  const configDigest = sha256(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: Buffer.byteLength(config) },
    layers: [{ mediaType: `application/vnd.oci.image.layer.v1.tar${blob.compression === 'none' ? '' : `+${blob.compression}`}`, digest: blob.blobDigest, size: blob.blobBytes }],
  });
  const reuse = exists(layout(root).layer(blob.diffId));
  return {
    image: {
      manifestDigest: sha256(manifest), configDigest, layers: [], defaults: NO_DEFAULTS, os: 'linux', architecture, refName: null, warnings: [],
    },
    layers: [{ digest: blob.diffId, staged: reuse ? null : dir, skippedDevices: blob.report.skippedDevices }],
  };
}

/**
 * Imports a rootfs tarball (`.tar`, `.tar.gz`) or an OCI image layout directory as `ref`.
 * Re-importing a name and tag replaces the record; layers no image uses any more are left for GC.
 */
export async function importImage(root: string, source: string, ref: ImageRef, options: ImportOptions = {}): Promise<ImportResult> {
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new CorralError('IMAGE_NOT_FOUND', `import source \`${source}\` does not exist`);
    throw asSyscallError(err, `inspect \`${source}\``);
  }
  const l = layout(root);
  return withStoreLock(root, async () => {
    const staging = stagingDir(root);
    try {
      let image: OciImage;
      let staged: StagedLayer[];
      if (isDir && !existsSync(join(source, 'oci-layout'))) {
        // A plain root filesystem (debootstrap, an unpacked tree): archived as it is, then
        // imported like a tarball, through the same checks.
        const archive = join(staging, 'rootfs.tar');
        await archiveDirectory(source, archive);
        ({ image, layers: staged } = await stageTarball(root, archive, staging, options));
      } else if (isDir) {
        image = readOciLayout(source, options.ref);
        staged = await stageOci(root, image, staging, options);
      } else {
        ({ image, layers: staged } = await stageTarball(root, source, staging, options));
      }
      ensureDir(l.layersDir);
      const newLayers: string[] = [];
      const reusedLayers: string[] = [];
      for (const layer of staged) {
        // The same layer twice in one image: the first copy is kept.
        if (layer.staged === null || exists(l.layer(layer.digest))) {
          reusedLayers.push(layer.digest);
          continue;
        }
        try {
          renameSync(layer.staged, l.layer(layer.digest));
          newLayers.push(layer.digest);
        } catch (err) {
          // Already present after all: the first copy is kept.
          if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw asSyscallError(err, `store layer \`${layer.digest}\``);
          reusedLayers.push(layer.digest);
        }
      }
      const record: ImageRecord = {
        formatVersion: IMAGE_RECORD_VERSION,
        name: ref.name,
        tag: ref.tag,
        digest: image.manifestDigest,
        configDigest: image.configDigest,
        layers: staged.map((s) => ({ digest: s.digest, bytes: diskUsage(l.layer(s.digest)) })),
        defaults: image.defaults,
        os: image.os,
        architecture: image.architecture,
        source: options.source ? { ...options.source, ref: null } : { kind: isDir ? (existsSync(join(source, 'oci-layout')) ? 'oci' : 'dir') : 'tar', path: source, ref: image.refName },
        importedAt: (options.now ?? (() => new Date()))().toISOString(),
      };
      const replaced = findImage(root, ref);
      ensureDir(join(l.imagesDir, ref.name));
      atomicWriteFile(l.imageRecord(ref.name, ref.tag), `${JSON.stringify(record, null, 2)}\n`);
      return { image: record, replaced, newLayers, reusedLayers, skippedDevices: staged.flatMap((s) => s.skippedDevices), warnings: image.warnings };
    } finally {
      removeTree(staging);
    }
  });
}

function isImageRecord(value: unknown): value is ImageRecord {
  const v = value as ImageRecord | null;
  return !!v && v.formatVersion === IMAGE_RECORD_VERSION && typeof v.digest === 'string' && Array.isArray(v.layers);
}

export function findImage(root: string, ref: ImageRef): ImageRecord | null {
  const path = layout(root).imageRecord(ref.name, ref.tag);
  const value = readJson(path);
  if (value === null) return null;
  if (!isImageRecord(value)) throw new CorralError('STATE_CORRUPT', `image record \`${path}\` is not a corral image record`, { hint: `re-import the image as ${formatImageRef(ref)}` });
  return value;
}

export function getImage(root: string, ref: ImageRef): ImageRecord {
  const image = findImage(root, ref);
  if (!image) {
    const tags = listDir(join(layout(root).imagesDir, ref.name)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    throw new CorralError('IMAGE_NOT_FOUND', `no image \`${formatImageRef(ref)}\` was imported`, {
      hint: tags.length ? `tags of \`${ref.name}\`: ${tags.join(', ')}` : 'import it with `corral image import FILE|DIR --name NAME[:TAG]`',
    });
  }
  return image;
}

/** Every image in the store, sorted by name then tag. Unreadable records are skipped. */
export function listImages(root: string): ImageRecord[] {
  const l = layout(root);
  const out: ImageRecord[] = [];
  // Pulled images are kept under their registry and repository (`127.0.0.1:5000/team/app`):
  // directories nest as deep as repository paths go.
  const walk = (dir: string, depth: number): void => {
    for (const entry of listDir(dir)) {
      if (entry.startsWith('.')) continue;
      const path = join(dir, entry);
      if (entry.endsWith('.json')) {
        if (depth === 0) continue;
        try {
          const value = readJson(path);
          if (isImageRecord(value)) out.push(value);
        } catch {
          // a damaged record must not hide the others; `image rm` or a re-import replaces it
        }
      } else if (depth < MAX_NAME_DEPTH && lstatSync(path).isDirectory()) {
        walk(path, depth + 1);
      }
    }
  };
  walk(l.imagesDir, 0);
  out.sort((a, b) => (a.name === b.name ? (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0) : a.name < b.name ? -1 : 1));
  return out;
}

/** Container names that use an image. The reconciler knows; the CLI's default reads rootfs records. */
export type ImageUsers = (image: ImageRecord) => readonly string[];

/** Containers whose prepared rootfs (containers/<name>/rootfs.json) is this name and tag. */
export function preparedImageUsers(root: string): ImageUsers {
  return (image) => listDir(layout(root).containersDir).filter((name) => {
    const record = readRootfsRecord(root, name);
    return record?.source.kind === 'image' && record.source.name === image.name && record.source.tag === image.tag;
  });
}

export interface RemoveImageResult {
  readonly removed: ImageRecord;
  readonly freedLayers: readonly string[];
}

/** The directories of a store name left empty (`a/b/c`: c, then b, then a), never the store's own. */
function removeEmptyNameDirs(imagesDir: string, name: string): void {
  const parts = name.split('/');
  for (let n = parts.length; n > 0; n--) {
    try {
      rmdirSync(join(imagesDir, ...parts.slice(0, n)));
    } catch {
      return; // other tags or names remain
    }
  }
}

/** Removes an image record, refused while a container uses it, then the layers nothing else needs. */
export async function removeImage(root: string, ref: ImageRef, users: ImageUsers): Promise<RemoveImageResult> {
  return withStoreLock(root, () => {
    const image = getImage(root, ref);
    const using = users(image);
    if (using.length > 0) {
      throw new CorralError('IMAGE_IN_USE', `image \`${formatImageRef(ref)}\` is used by ${using.length === 1 ? 'container' : 'containers'} ${using.map((n) => `\`${n}\``).join(', ')}`, {
        hint: 'remove those containers (or change their rootfs) first',
      });
    }
    const l = layout(root);
    removeFile(l.imageRecord(ref.name, ref.tag));
    removeEmptyNameDirs(l.imagesDir, ref.name);
    return { removed: image, freedLayers: pruneLayersLocked(root).removed };
  });
}

export interface PruneImagesResult {
  readonly removed: readonly ImageRecord[];
  readonly freedLayers: readonly string[];
  readonly bytes: number;
}

/** Removes every image no container uses, then the layers nothing needs any more. */
export async function pruneImages(root: string, users: ImageUsers, dryRun = false): Promise<PruneImagesResult> {
  return withStoreLock(root, () => {
    const l = layout(root);
    const all = listImages(root);
    const unused = all.filter((image) => users(image).length === 0);
    if (dryRun) {
      // What would go: the layers only unused images name (a container's root keeps its own).
      const kept = new Set(all.filter((i) => !unused.includes(i)).flatMap((i) => i.layers.map((x) => x.digest)));
      for (const name of listDir(l.containersDir)) for (const lower of readRootfsRecord(root, name)?.lower ?? []) kept.add(lower);
      const freed = [...new Set(unused.flatMap((i) => i.layers.map((x) => x.digest)))].filter((d) => !kept.has(d) && !kept.has(l.layer(d)) && exists(l.layer(d)));
      return { removed: unused, freedLayers: freed, bytes: freed.reduce((sum, d) => sum + diskUsage(l.layer(d)), 0) };
    }
    for (const image of unused) {
      removeFile(l.imageRecord(image.name, image.tag));
      removeEmptyNameDirs(l.imagesDir, image.name);
    }
    const pruned = pruneLayersLocked(root);
    return { removed: unused, freedLayers: pruned.removed, bytes: pruned.bytes };
  });
}

/** Layer digests some image record or some container's prepared rootfs still needs. */
export function referencedLayers(root: string): Set<string> {
  const l = layout(root);
  const keep = new Set<string>();
  for (const image of listImages(root)) for (const layer of image.layers) keep.add(l.layer(layer.digest));
  for (const name of listDir(l.containersDir)) {
    for (const lower of readRootfsRecord(root, name)?.lower ?? []) keep.add(lower);
  }
  return keep;
}

export interface PruneResult {
  readonly removed: readonly string[];
  readonly bytes: number;
}

/** Deletes unreferenced layer directories. The caller holds the store lock. */
export function pruneLayersLocked(root: string, dryRun = false): PruneResult {
  const l = layout(root);
  const keep = referencedLayers(root);
  const removed: string[] = [];
  let bytes = 0;
  for (const entry of listDir(l.layersDir)) {
    if (!/^sha(256|512)-[a-f0-9]+$/.test(entry)) continue; // not ours
    const dir = join(l.layersDir, entry);
    if (keep.has(dir)) continue;
    bytes += diskUsage(dir);
    if (!dryRun) removeTree(dir);
    removed.push(entry.replace(/^(sha\d+)-/, '$1:'));
  }
  return { removed, bytes };
}
