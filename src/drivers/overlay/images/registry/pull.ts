// `corral image pull`: an image from a registry into the store. The registry's manifest (through
// an index, the one of this host's platform), config and missing layers are downloaded into a
// staging OCI layout under <root>/tmp, one per reference, so an interrupted pull resumes where it
// stopped (blobs with `Range`); then the layout is imported as any other (store.ts › importImage):
// every JSON blob checked against its digest, every layer unpacked with the archive checks, layers
// shared by their diff_id with what the store already holds, which are not downloaded at all.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../../../errors.js';
import { layout } from '../../../../state/layout.js';
import { tryFlock } from '../../../../sys/flock.js';
import { removeTree } from '../../fs-util.js';
import type { ImageRef } from '../image-ref.js';
import { blobPath, descriptor, manifestsOf, MEDIA, parseObject, pickPlatform, type Descriptor } from '../oci-layout.js';
import { inParallel, PARALLEL_LAYERS } from '../in-parallel.js';
import { importImage, type ImportResult, type PreUnpackedLayer } from '../store.js';
import type { HttpGet } from './http.js';
import { plainHttpAllowed, RegistryClient, type FetchedManifest } from './client.js';
import { credentialFiles, findCredentials } from './credentials.js';
import { LayerFeed } from './layer-feed.js';
import { formatReference, registryEndpointHost, type RegistryReference } from '../../../../manifest/image-reference.js';

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const MAX_CONFIG_BYTES = 4 << 20;

/** What a TTY progress display (or quiet log lines) is told. */
export interface PullProgress {
  /** A layer to download, or one the store has (`cached`). */
  layer(digest: string, size: number, cached: boolean): void;
  bytes(digest: string, n: number): void;
  done(digest: string): void;
}

export interface PullOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  readonly progress?: PullProgress;
  readonly http?: HttpGet;
  /** Attempts and backoff per request (tests make them short). */
  readonly attempts?: number;
  readonly backoffMs?: number;
}

export interface PullResult extends ImportResult {
  readonly reference: string;
  /** Layer blobs downloaded by this pull (not those the store had). */
  readonly downloaded: readonly string[];
  readonly downloadedBytes: number;
}

interface Parsed {
  readonly kind: 'index' | 'manifest';
  readonly json: Record<string, unknown>;
}

/** The JSON of a manifest or index, its kind from its own `mediaType` and the Content-Type, which must agree. */
function classify(m: FetchedManifest, what: string): Parsed {
  const json = parseObject(m.bytes, what);
  const declared = typeof json['mediaType'] === 'string' ? json['mediaType'] : null;
  const header = m.mediaType || null;
  if (declared !== null && header !== null && header !== 'application/json' && header !== declared) {
    throw new CorralError('IMAGE_INVALID', `${what} says it is \`${declared}\` but was served as \`${header}\``);
  }
  const type = declared ?? header;
  if (type !== null && INDEX_TYPES.has(type)) return { kind: 'index', json };
  if (type !== null && MANIFEST_TYPES.has(type)) return { kind: 'manifest', json };
  // OCI lets mediaType out of the JSON: the shape decides then.
  if (type === null || type === 'application/json') {
    if (Array.isArray(json['manifests'])) return { kind: 'index', json };
    if (Array.isArray(json['layers'])) return { kind: 'manifest', json };
  }
  throw new CorralError('IMAGE_INVALID', `${what} has media type \`${type ?? 'none'}\`, not an image manifest or index`);
}

function mediaTypeOf(p: Parsed): string {
  const declared = p.json['mediaType'];
  if (typeof declared === 'string') return declared;
  return p.kind === 'index' ? MEDIA.ociIndex : MEDIA.ociManifest;
}

function writeBlob(dir: string, digest: string, bytes: Buffer): void {
  const path = blobPath(dir, digest);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
}

/** Pulls `ref` and stores it as `as`. */
export async function pullImage(root: string, ref: RegistryReference, as: ImageRef, options: PullOptions = {}): Promise<PullResult> {
  const env = options.env ?? process.env;
  const canonical = formatReference(ref);
  const client = new RegistryClient({
    endpoint: registryEndpointHost(ref.registry),
    insecure: plainHttpAllowed(ref.registry, env),
    credentials: findCredentials(ref.registry, credentialFiles(env)),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.http ? { http: options.http } : {}),
    ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
    ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
  });
  const tmp = layout(root).tmpDir;
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  // One staging layout per reference: what an interrupted pull downloaded is found again.
  const staging = join(tmp, `pull-${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`);
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  const lockFd = openSync(join(staging, '.lock'), 'a', 0o600);
  try {
    if (!tryFlock(lockFd, staging)) throw new CorralError('REGISTRY_ERROR', `another pull of \`${canonical}\` is running`, { hint: 'wait for it to finish' });
    try {
      const { unpacked, ...result } = await download(client, root, ref, staging, options.progress);
      const imported = await importImage(root, staging, as, { source: { kind: 'registry', path: canonical }, unpacked });
      removeTree(staging);
      return { ...imported, reference: canonical, ...result };
    } catch (err) {
      // What a cut connection or an abort left is resumed by the next pull; what the registry
      // got wrong (a digest, an archive, auth) would only be found wrong again.
      const resumable = !(err instanceof CorralError) || err.code === 'REGISTRY_ERROR';
      if (!resumable) removeTree(staging);
      throw err;
    }
  } finally {
    closeSync(lockFd);
  }
}

interface Downloaded {
  readonly downloaded: string[];
  readonly downloadedBytes: number;
  /** Each new layer unpacked as soon as its blob verified, by diff_id. */
  readonly unpacked: Map<string, PreUnpackedLayer>;
}

/**
 * Fetches what the store lacks into `staging`, unpacking every layer as soon as its blob is in
 * (while others still download), through the same checks an import makes.
 */
async function download(client: RegistryClient, root: string, ref: RegistryReference, staging: string, progress?: PullProgress): Promise<Downloaded> {
  const repo = ref.repository;
  // Unpacked trees of an interrupted run are not trusted: only whole, verified blobs are reused.
  const unpackDir = join(staging, 'unpacked');
  removeTree(unpackDir);
  const top = await client.manifest(repo, ref.digest ?? ref.tag ?? 'latest');
  if (ref.digest !== null && top.digest !== ref.digest) {
    throw new CorralError('IMAGE_DIGEST_MISMATCH', `the registry's manifest for \`${formatReference(ref)}\` does not match the digest asked for`, { detail: `content hashes to ${top.digest}` });
  }
  const topParsed = classify(top, `manifest \`${formatReference(ref)}\``);
  writeBlob(staging, top.digest, top.bytes);
  let manifest = topParsed;
  let manifestDigest = top.digest;
  if (topParsed.kind === 'index') {
    const where = `index \`${top.digest}\``;
    const chosen: Descriptor = pickPlatform(manifestsOf(topParsed.json, where), where);
    if (!MANIFEST_TYPES.has(chosen.mediaType)) throw new CorralError('IMAGE_INVALID', `${where} points at \`${chosen.mediaType}\`, not an image manifest`);
    const child = await client.manifest(repo, chosen.digest);
    if (child.digest !== chosen.digest || child.bytes.length !== chosen.size) {
      throw new CorralError('IMAGE_DIGEST_MISMATCH', `manifest \`${chosen.digest}\` of ${where} does not match its descriptor`, { detail: `content hashes to ${child.digest}, ${child.bytes.length} bytes` });
    }
    manifest = classify(child, `manifest \`${chosen.digest}\``);
    if (manifest.kind !== 'manifest') throw new CorralError('IMAGE_INVALID', `${where} points at another index`);
    writeBlob(staging, child.digest, child.bytes);
    manifestDigest = child.digest;
  }
  const configDesc = descriptor(manifest.json['config'], `manifest \`${manifestDigest}\` config`);
  const configBytes = await client.smallBlob(repo, configDesc.digest, configDesc.size, MAX_CONFIG_BYTES);
  const config = parseObject(configBytes, `config \`${configDesc.digest}\``);
  writeBlob(staging, configDesc.digest, configBytes);
  const rawLayers = manifest.json['layers'];
  const layers = Array.isArray(rawLayers) ? rawLayers.map((l, i) => descriptor(l, `manifest layers[${i}]`)) : [];
  const rootfs = config['rootfs'];
  const diffIds = typeof rootfs === 'object' && rootfs !== null && Array.isArray((rootfs as Record<string, unknown>)['diff_ids']) ? (rootfs as Record<string, unknown[]>)['diff_ids']! : [];
  // The store keeps layers by diff_id: those it has are not downloaded (the import reuses them).
  const diffIdOf = new Map<string, string>();
  const wanted = layers.filter((l, i) => {
    const diffId = diffIds[i];
    const valid = typeof diffId === 'string' && /^sha256:[0-9a-f]{64}$/.test(diffId);
    if (valid && !diffIdOf.has(l.digest)) diffIdOf.set(l.digest, diffId);
    const cached = valid && existsSync(layout(root).layer(diffId));
    progress?.layer(l.digest, l.size, cached);
    return !cached;
  });
  const unique = [...new Map(wanted.map((l) => [l.digest, l])).values()];
  let downloadedBytes = 0;
  const unpacked = new Map<string, PreUnpackedLayer>();
  await inParallel(unique, PARALLEL_LAYERS, async (l, i) => {
    const file = blobPath(staging, l.digest);
    mkdirSync(join(file, '..'), { recursive: true });
    const diffId = diffIdOf.get(l.digest);
    const progressOf = (n: number): void => {
      downloadedBytes += n;
      progress?.bytes(l.digest, n);
    };
    // Without a valid diff_id the import refuses the config: nothing to gain by unpacking first.
    if (diffId === undefined) {
      await client.blobToFile(repo, l.digest, l.size, file, { progress: progressOf });
      progress?.done(l.digest);
      return;
    }
    const dir = join(unpackDir, String(i));
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const feed = new LayerFeed(dir, `layer \`${l.digest}\``, { digest: l.digest, size: l.size, diffId, digestCheckedByCaller: true });
    try {
      await client.blobToFile(repo, l.digest, l.size, file, { progress: progressOf, data: (b) => feed.data(b), restart: () => feed.restart() });
    } catch (err) {
      await feed.abandon();
      throw err;
    }
    progress?.done(l.digest);
    const blob = await feed.finish(file);
    unpacked.set(diffId, { dir, skippedDevices: blob.report.skippedDevices });
  });
  writeFileSync(join(staging, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(staging, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociIndex,
    manifests: [{ mediaType: mediaTypeOf(topParsed), digest: top.digest, size: top.bytes.length }],
  }));
  return { downloaded: unique.map((l) => l.digest), downloadedBytes, unpacked };
}
