// Reads an OCI image layout directory (`skopeo copy … oci:DIR`, `podman save --format oci-dir`):
// oci-layout → index.json → (nested index) → manifest → config, every JSON blob checked against
// its digest and size before it is parsed. Layer blobs are only located and described here; they
// are verified while they are unpacked (blob.ts).

import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../../errors.js';
import { errnoCode, asSyscallError } from '../fs-util.js';
import { defaultsFromConfig } from '../image-defaults.js';
import type { ImageDefaults } from '../rootfs-layout.js';
import { digestAlgorithm, isDigest } from './blob.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** overlayfs refuses more lower layers than this (OVL_MAX_STACK). */
export const MAX_LAYERS = 500;
const MAX_JSON_BYTES = 4 << 20;
const MAX_INDEX_DEPTH = 4;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: { readonly os?: string; readonly architecture?: string; readonly variant?: string };
}

export interface OciLayer {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  /** Digest of the uncompressed tar (config `rootfs.diff_ids`). */
  readonly diffId: string;
  readonly path: string;
}

export interface OciImage {
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** Bottom layer first, as in the manifest. */
  readonly layers: readonly OciLayer[];
  readonly defaults: ImageDefaults;
  readonly os: string;
  readonly architecture: string;
  readonly refName: string | null;
  /** Things worth telling the user that do not stop the import (another architecture...). */
  readonly warnings: readonly string[];
}

function invalid(summary: string, detail?: string, hint?: string): CorralError {
  return new CorralError('IMAGE_INVALID', summary, { ...(detail ? { detail } : {}), ...(hint ? { hint } : {}) });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} is not a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string') throw invalid(`${where} has no mediaType`);
  if (!isDigest(digest)) throw invalid(`${where} has an invalid digest \`${String(digest)}\``, 'expected sha256:<64 hex> or sha512:<128 hex>');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where} has an invalid size \`${String(size)}\``);
  // Only what was checked is kept; an annotation or platform of the wrong type is dropped, not trusted.
  const annotations = stringRecord(value['annotations']);
  const platform = isObject(value['platform']) ? value['platform'] : null;
  return {
    mediaType, digest, size,
    ...(annotations ? { annotations } : {}),
    ...(platform ? {
      platform: {
        ...(typeof platform['os'] === 'string' ? { os: platform['os'] } : {}),
        ...(typeof platform['architecture'] === 'string' ? { architecture: platform['architecture'] } : {}),
        ...(typeof platform['variant'] === 'string' ? { variant: platform['variant'] } : {}),
      },
    } : {}),
  };
}

function stringRecord(v: unknown): Record<string, string> | null {
  if (!isObject(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Where a blob lives. The digest was validated, so it cannot name a path outside blobs/. */
export function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return join(dir, 'blobs', alg, hex);
}

function readBlobJson(dir: string, desc: Descriptor, what: string): Record<string, unknown> {
  const path = blobPath(dir, desc.digest);
  let data: Buffer;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw invalid(`${what} blob \`${desc.digest}\` is not a regular file`);
    if (st.size > MAX_JSON_BYTES) throw invalid(`${what} blob \`${desc.digest}\` is ${st.size} bytes, over the ${MAX_JSON_BYTES}-byte limit`);
    data = readFileSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw invalid(`${what} blob \`${desc.digest}\` is missing from the layout`, `expected at ${path}`);
    throw asSyscallError(err, `read ${what}`);
  }
  const actual = `${digestAlgorithm(desc.digest)}:${createHash(digestAlgorithm(desc.digest)).update(data).digest('hex')}`;
  if (actual !== desc.digest) throw new CorralError('IMAGE_DIGEST_MISMATCH', `${what} does not match its digest`, { detail: `expected ${desc.digest}, content hashes to ${actual}` });
  if (data.length !== desc.size) throw new CorralError('IMAGE_DIGEST_MISMATCH', `${what} has ${data.length} bytes, its descriptor says ${desc.size}`);
  return parseObject(data, `${what} \`${desc.digest}\``);
}

export function parseObject(data: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw invalid(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw invalid(`${what} is not a JSON object`);
  return parsed;
}

function readTopFile(dir: string, name: string): Record<string, unknown> {
  const path = join(dir, name);
  let data: Buffer;
  try {
    const st = lstatSync(path);
    if (!st.isFile() || st.size > MAX_JSON_BYTES) throw invalid(`\`${name}\` in the OCI layout is not a regular file of at most ${MAX_JSON_BYTES} bytes`);
    data = readFileSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw invalid(`\`${dir}\` is not an OCI image layout: \`${name}\` is missing`, undefined, 'write one with `skopeo copy … oci:DIR` or `podman save --format oci-dir`');
    throw asSyscallError(err, `read \`${path}\``);
  }
  return parseObject(data, `\`${name}\``);
}

/** Node's arch names → OCI/Go names. */
export function ociArchitecture(arch: string = process.arch): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}

/** The OCI variant of this host: `v8` on arm64, `v6`/`v7` on 32-bit arm, none elsewhere. */
export function ociVariant(arch: string = process.arch): string | null {
  if (arch === 'arm64') return 'v8';
  if (arch === 'arm') {
    const version: unknown = Reflect.get(process.config.variables, 'arm_version');
    return typeof version === 'string' || typeof version === 'number' ? `v${version}` : 'v7';
  }
  return null;
}

function pick(candidates: readonly Descriptor[], ref: string | undefined, where: string, hostArch: string = process.arch): Descriptor {
  let list = candidates;
  if (ref !== undefined) {
    list = candidates.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === ref);
    if (list.length === 0) {
      const names = candidates.map((d) => d.annotations?.[REF_NAME_ANNOTATION]).filter((n): n is string => !!n);
      throw invalid(`${where} has no image with ref name \`${ref}\``, names.length ? `it has: ${names.join(', ')}` : 'its entries carry no ref names');
    }
  }
  if (list.length > 1) {
    const arch = ociArchitecture(hostArch);
    const native = list.filter((d) => d.platform === undefined || (d.platform.os === 'linux' && d.platform.architecture === arch));
    if (native.length >= 1) list = native;
    // arm64/v8 beside arm64 without a variant is one platform; 32-bit arm's v6/v7 are not.
    const variant = ociVariant(hostArch);
    const sameVariant = list.filter((d) => d.platform?.variant === undefined || d.platform.variant === variant);
    if (variant !== null && sameVariant.length >= 1) list = sameVariant;
  }
  if (list.length !== 1) {
    const names = list.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? d.digest);
    throw invalid(`${where} holds ${list.length} images; choose one`, `candidates: ${names.join(', ')}`, 'pass --ref NAME (the `org.opencontainers.image.ref.name` annotation)');
  }
  return list[0]!;
}

/** The manifest of this host's platform among an index's entries (a pull chooses as an import does). */
export function pickPlatform(candidates: readonly Descriptor[], where: string, hostArch: string = process.arch): Descriptor {
  return pick(candidates, undefined, where, hostArch);
}

export function manifestsOf(index: Record<string, unknown>, where: string): Descriptor[] {
  const manifests = index['manifests'];
  if (!Array.isArray(manifests) || manifests.length === 0) throw invalid(`${where} lists no manifests`);
  return manifests.map((m, i) => descriptor(m, `${where} manifests[${i}]`));
}

export function readOciLayout(dir: string, ref?: string): OciImage {
  const marker = readTopFile(dir, 'oci-layout');
  if (marker['imageLayoutVersion'] !== '1.0.0') throw invalid(`\`oci-layout\` has imageLayoutVersion \`${String(marker['imageLayoutVersion'])}\`, corral reads 1.0.0`);
  let where = '`index.json`';
  let chosen = pick(manifestsOf(readTopFile(dir, 'index.json'), where), ref, where);
  const refName = chosen.annotations?.[REF_NAME_ANNOTATION] ?? null;
  for (let depth = 0; chosen.mediaType === MEDIA.ociIndex || chosen.mediaType === MEDIA.dockerList; depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw invalid(`image indexes nest deeper than ${MAX_INDEX_DEPTH} levels`);
    where = `index \`${chosen.digest}\``;
    chosen = pick(manifestsOf(readBlobJson(dir, chosen, 'image index'), where), undefined, where);
  }
  if (chosen.mediaType !== MEDIA.ociManifest && chosen.mediaType !== MEDIA.dockerManifest) {
    throw invalid(`manifest \`${chosen.digest}\` has media type \`${chosen.mediaType}\`, not an image manifest`);
  }
  const manifest = readBlobJson(dir, chosen, 'image manifest');
  if (manifest['schemaVersion'] !== 2) throw invalid(`image manifest \`${chosen.digest}\` has schemaVersion \`${String(manifest['schemaVersion'])}\`, expected 2`);
  const configDesc = descriptor(manifest['config'], 'manifest `config`');
  if (configDesc.mediaType !== MEDIA.ociConfig && configDesc.mediaType !== MEDIA.dockerConfig) {
    throw invalid(`manifest config has media type \`${configDesc.mediaType}\`: this is not a container image`);
  }
  const rawLayers = manifest['layers'];
  if (!Array.isArray(rawLayers)) throw invalid('image manifest has no `layers` list');
  if (rawLayers.length > MAX_LAYERS) throw invalid(`image has ${rawLayers.length} layers; overlayfs stacks at most ${MAX_LAYERS}`);
  const layerDescs = rawLayers.map((l, i) => descriptor(l, `manifest layers[${i}]`));
  for (const [i, d] of layerDescs.entries()) {
    if (!LAYER_TYPES.has(d.mediaType)) throw invalid(`manifest layers[${i}] has media type \`${d.mediaType}\`, not a filesystem layer`);
  }

  const config = readBlobJson(dir, configDesc, 'image config');
  const os = typeof config['os'] === 'string' ? config['os'] : 'linux';
  const architecture = typeof config['architecture'] === 'string' ? config['architecture'] : ociArchitecture();
  if (os !== 'linux') throw invalid(`the image is for \`${os}\`, not linux`);
  const rootfs = config['rootfs'];
  const diffIds = isObject(rootfs) ? rootfs['diff_ids'] : undefined;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => isDigest(d) && d.startsWith('sha256:'))) {
    throw invalid('image config `rootfs.diff_ids` is missing or holds an invalid digest');
  }
  if (diffIds.length !== layerDescs.length) {
    throw invalid(`image config lists ${diffIds.length} diff_ids for ${layerDescs.length} layers`);
  }
  const warnings: string[] = [];
  if (architecture !== ociArchitecture()) warnings.push(`the image is for ${architecture}; this host is ${ociArchitecture()}`);
  return {
    manifestDigest: chosen.digest,
    configDigest: configDesc.digest,
    layers: layerDescs.map((d, i) => ({ digest: d.digest, size: d.size, mediaType: d.mediaType, diffId: diffIds[i] as string, path: blobPath(dir, d.digest) })),
    defaults: defaultsFromConfig(config['config']),
    os,
    architecture,
    refName,
    warnings,
  };
}
