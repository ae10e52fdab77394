// Builds OCI image layouts for tests from a description (no registry here): layers as tar specs
// (whiteouts and opaque markers are plain entries named `.wh.NAME` / `.wh..wh..opq`), a config
// with defaults, index.json and oci-layout. Returns the digests so tests can tamper with blobs.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tarBytes, type TarSpec } from './oci-tar.js';

export interface LayerSpec {
  readonly entries: readonly TarSpec[];
  readonly compression?: 'gzip' | 'none';
}

export interface ImageSpec {
  readonly layers: readonly LayerSpec[];
  readonly config?: Record<string, unknown>;
  readonly refName?: string;
  readonly architecture?: string;
  readonly os?: string;
}

export interface WrittenImage {
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layerDigests: readonly string[];
  readonly diffIds: readonly string[];
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export function blobFile(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function writeBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const digest = sha256(data);
  writeFileSync(blobFile(dir, digest), data);
  return { digest, size: Buffer.byteLength(data) };
}

export function writeOciLayout(dir: string, images: ImageSpec | readonly ImageSpec[]): WrittenImage[] {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const list = Array.isArray(images) ? (images as readonly ImageSpec[]) : [images as ImageSpec];
  const written: WrittenImage[] = [];
  const manifests: unknown[] = [];
  for (const image of list) {
    const layers = image.layers.map((layer) => {
      const tar = tarBytes(layer.entries);
      const gz = layer.compression !== 'none';
      const blob = writeBlob(dir, gz ? gzipSync(tar) : tar);
      return { ...blob, diffId: sha256(tar), mediaType: `application/vnd.oci.image.layer.v1.tar${gz ? '+gzip' : ''}` };
    });
    const config = JSON.stringify({
      architecture: image.architecture ?? (process.arch === 'arm64' ? 'arm64' : 'amd64'),
      os: image.os ?? 'linux',
      config: image.config ?? {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    });
    const configBlob = writeBlob(dir, config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    });
    const manifestBlob = writeBlob(dir, manifest);
    manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifestBlob,
      ...(image.refName ? { annotations: { 'org.opencontainers.image.ref.name': image.refName } } : {}),
    });
    written.push({ manifestDigest: manifestBlob.digest, configDigest: configBlob.digest, layerDigests: layers.map((l) => l.digest), diffIds: layers.map((l) => l.diffId) });
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  return written;
}

const BUSYBOX = '/usr/bin/busybox';
const APPLETS = ['sh', 'ls', 'cat', 'echo', 'rm', 'mkdir', 'touch', 'id', 'true', 'test', 'stat'];

/** A minimal busybox root as tar entries: /bin/busybox (static) and a few applet links. */
export function busyboxEntries(): TarSpec[] {
  return [
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', content: readFileSync(BUSYBOX), mode: 0o755 },
    ...APPLETS.map((a): TarSpec => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { type: 'dir', path: 'etc' },
    { type: 'file', path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'dev' },
  ];
}
