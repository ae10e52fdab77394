// One pass over a layer blob: hash the compressed bytes (the OCI descriptor digest), decompress,
// hash the tar stream (the config's diff_id), and unpack. Digests are compared only at the end,
// so a layer is unpacked into private staging first and kept only when both match.

import { createHash, type Hash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import { Duplex, PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { CorralError, isCorralError } from '../../../errors.js';
import { asSyscallError } from '../fs-util.js';
import { readTar } from './tar-reader.js';
import { unpackLayer, type UnpackOptions, type UnpackReport } from './unpack-layer.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

export function digestAlgorithm(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

/** Compression by magic bytes: media types lie often enough (Docker's ".tar.gzip" on plain tars). */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

function fileHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    return buf.subarray(0, readSync(fd, buf, 0, 4, 0));
  } finally {
    closeSync(fd);
  }
}

/** Debian's `zstd`: zlib has no zstd before Node 22.15. */
const ZSTD_CLI = '/usr/bin/zstd';
/**
 * A zstd frame names the window it needs, up to 2 GiB: a hostile layer could make a decoder
 * allocate that much. zstd's own default limit (128 MiB, windowLog 27) is what images use.
 */
const ZSTD_MEMORY = '--memory=128MB';

/** `zstd -dc` as a stream: its exit status and message become the stream's error. */
function zstdCli(what: string): Duplex {
  if (!existsSync(ZSTD_CLI)) {
    throw new CorralError('IMAGE_INVALID', `${what} is zstd-compressed, and this Node.js (${process.version}) needs \`${ZSTD_CLI}\` to read it`, {
      hint: 'install it (Debian: apt-get install zstd), or convert the image to gzip layers (skopeo copy --dest-compress-format gzip)',
    });
  }
  const child = spawn(ZSTD_CLI, ['-d', '-c', '-q', ZSTD_MEMORY], { stdio: ['pipe', 'pipe', 'pipe'] });
  // The output ends only once zstd said it succeeded: a refused frame is an error, never a short
  // (or empty) tar stream that the tar reader would misreport.
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-400); });
  child.on('error', (err) => out.destroy(err));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`zstd ${signal ?? `exited with ${code}`}: ${stderr.trim() || 'no message'}`));
  });
  // zstd may stop reading before the input ends (a refused frame): that is its error to report.
  child.stdin.on('error', () => undefined);
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  duplex.on('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return duplex;
}

/**
 * Bytes per read and per inflate output: zlib's default 16 KiB output chunk costs a round trip to
 * the thread pool per 16 KiB, which made inflate 2.4× slower than with 256 KiB (bench/pull).
 */
const CHUNK = 256 << 10;

function decompressor(compression: Compression, what: string): Duplex {
  if (compression === 'gzip') return zlib.createGunzip({ chunkSize: CHUNK });
  if (compression === 'zstd') {
    // zlib gained zstd in Node 22.15. Not in Node 20's type definitions: looked up at run time.
    const create: unknown = Reflect.get(zlib, 'createZstdDecompress');
    if (typeof create !== 'function') return zstdCli(what);
    const windowLogMax: unknown = Reflect.get(zlib.constants, 'ZSTD_d_windowLogMax');
    const stream: unknown = create(typeof windowLogMax === 'number' ? { params: { [windowLogMax]: 27 } } : {});
    if (!(stream instanceof Transform)) throw new CorralError('INTERNAL', 'zlib.createZstdDecompress did not return a stream');
    return stream;
  }
  return new PassThrough();
}

async function* counting(source: AsyncIterable<Buffer>, count: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    count.bytes += chunk.length;
    yield chunk;
  }
}

async function* hashing(source: AsyncIterable<Buffer>, hash: Hash, count: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    count.bytes += chunk.length;
    yield chunk;
  }
}

export interface UnpackedBlob {
  /** Digest of the bytes on disk, in the algorithm of `expect.digest` (sha256 without one). */
  readonly blobDigest: string;
  readonly blobBytes: number;
  /** sha256 of the uncompressed tar: the layer's identity in the store. */
  readonly diffId: string;
  readonly compression: Compression;
  readonly report: UnpackReport;
}

export interface BlobExpectations {
  readonly digest?: string;
  readonly size?: number;
  readonly diffId?: string;
  /**
   * The caller hashes these very bytes against `digest` itself (a download as it arrives): they
   * are not hashed a second time, and the result is used only once the caller's check passed.
   */
  readonly digestCheckedByCaller?: boolean;
}

/** `what` names the blob in messages: "layer 2 of 3 (`sha256:…`)", "`rootfs.tar.gz`". */
export async function unpackBlob(file: string, dest: string, what: string, expect: BlobExpectations = {}, options: UnpackOptions = {}): Promise<UnpackedBlob> {
  let compression: Compression;
  try {
    compression = sniffCompression(fileHead(file));
  } catch (err) {
    throw asSyscallError(err, `read ${what}`);
  }
  return unpackBytes(createReadStream(file, { highWaterMark: CHUNK }), compression, dest, what, expect, options);
}

/** At least the first 4 bytes of `source` (fewer only when it ends), then the rest, unchanged. */
async function sniffed(source: AsyncIterable<Buffer>): Promise<{ compression: Compression; bytes: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < 4) {
    const next = await it.next();
    if (next.done === true) {
      ended = true;
      break;
    }
    head.push(next.value);
    length += next.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* head;
    if (ended) return;
    for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value;
  }
  return { compression: sniffCompression(Buffer.concat(head)), bytes: all() };
}

/** unpackBlob of bytes as they arrive (a download), with the same checks. */
export async function unpackStream(source: AsyncIterable<Buffer>, dest: string, what: string, expect: BlobExpectations = {}, options: UnpackOptions = {}): Promise<UnpackedBlob> {
  const { compression, bytes } = await sniffed(source);
  return unpackBytes(bytes, compression, dest, what, expect, options);
}

async function unpackBytes(source: AsyncIterable<Buffer>, compression: Compression, dest: string, what: string, expect: BlobExpectations, options: UnpackOptions): Promise<UnpackedBlob> {
  const algorithm = expect.digest ? digestAlgorithm(expect.digest) : 'sha256';
  const blobHash = createHash(algorithm);
  const checkDigest = expect.digestCheckedByCaller !== true || expect.digest === undefined;
  const diffHash = createHash('sha256');
  const blobCount = { bytes: 0 };
  const diffCount = { bytes: 0 };
  let report: UnpackReport | undefined;
  try {
    await pipeline(
      source,
      (bytes: AsyncIterable<Buffer>) => (checkDigest ? hashing(bytes, blobHash, blobCount) : counting(bytes, blobCount)),
      decompressor(compression, what),
      async (source: AsyncIterable<Buffer>) => {
        report = await unpackLayer(readTar(hashing(source, diffHash, diffCount)), dest, options);
      },
    );
  } catch (err) {
    if (isCorralError(err)) throw new CorralError(err.code, `${what}: ${err.summary}`, { cause: err, detail: err.detail, hint: err.hint });
    // Filesystem failures name their syscall; anything else here came from decompression (zlib's
    // Z_* codes, zstd's ERR_* codes).
    if (typeof (err as { syscall?: unknown }).syscall === 'string') throw asSyscallError(err, `unpack ${what}`);
    throw new CorralError('IMAGE_INVALID', `${what} is not valid ${compression} data: ${(err as Error).message}`, { cause: err });
  }
  const blobDigest = checkDigest ? `${algorithm}:${blobHash.digest('hex')}` : expect.digest!;
  const diffId = `sha256:${diffHash.digest('hex')}`;
  if (expect.size !== undefined && expect.size !== blobCount.bytes) {
    throw new CorralError('IMAGE_DIGEST_MISMATCH', `${what} has ${blobCount.bytes} bytes, its descriptor says ${expect.size}`);
  }
  if (expect.digest !== undefined && expect.digest !== blobDigest) {
    throw new CorralError('IMAGE_DIGEST_MISMATCH', `${what} does not match its digest`, { detail: `expected ${expect.digest}, content hashes to ${blobDigest}` });
  }
  if (expect.diffId !== undefined && expect.diffId !== diffId) {
    throw new CorralError('IMAGE_DIGEST_MISMATCH', `${what} does not match its diff_id in the image config`, { detail: `expected ${expect.diffId}, uncompressed content hashes to ${diffId}` });
  }
  return { blobDigest, blobBytes: blobCount.bytes, diffId, compression, report: report! };
}
