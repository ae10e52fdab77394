// A client of the OCI distribution API (and Docker Registry v2, which it grew from) on Node's
// fetch: manifests and blobs of one registry, with
// - auth: a 401's challenge answered with a bearer token (anonymous, or with the credentials found
//   for this registry; cached per scope until it expires) or with basic auth;
// - redirects followed by hand, at most MAX_REDIRECTS, and `Authorization` never sent to another
//   origin (blobs are often served from a storage bucket);
// - retries with backoff on 429, 5xx and network errors (Retry-After honoured, capped);
// - blobs streamed to a file and hashed on the way, resumed with `Range` after a cut, and checked
//   against their digest and size before anyone may use them;
// - every body bounded: what a registry sends is untrusted.

import { createHash, type Hash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CorralError } from '../../../../errors.js';
import { digestAlgorithm } from '../blob.js';
import { parseChallenge, type Challenge } from './challenge.js';
import { nodeHttpGet, type HttpGet, type HttpRequest, type HttpResponse } from './http.js';
import type { Credentials } from './credentials.js';
import { isLoopbackRegistry } from '../../../../manifest/image-reference.js';

export interface RegistryClientOptions {
  /** `host[:port]` to contact (registry-1.docker.io for Docker Hub). */
  readonly endpoint: string;
  /** Plain HTTP: only for loopback registries and those configured as insecure. */
  readonly insecure: boolean;
  readonly credentials: Credentials | null;
  /** Attempts per request on 429, 5xx and network errors. */
  readonly attempts?: number;
  readonly backoffMs?: number;
  /** Per request, until the headers arrive; and the longest a body may stop moving. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly http?: HttpGet;
}

export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly mediaType: string;
  /** sha256 of the bytes. */
  readonly digest: string;
}

const MAX_REDIRECTS = 5;
const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_TOKEN_BYTES = 64 << 10;
const MAX_RETRY_AFTER_MS = 30_000;

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

function registryError(summary: string, detail?: string, cause?: unknown): CorralError {
  return new CorralError('REGISTRY_ERROR', summary, { ...(detail ? { detail } : {}), ...(cause ? { cause } : {}) });
}

/** Reads at most `max` bytes of a body; more is an error, not a truncation. */
export async function readBounded(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw registryError(`${what} is ${declared} bytes, over the ${max}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > max) throw registryError(`${what} is over the ${max}-byte limit`);
      chunks.push(Buffer.from(chunk));
    }
  }
  return Buffer.concat(chunks);
}

function retryAfterMs(res: HttpResponse, fallback: number): number {
  const header = res.headers.get('retry-after');
  const seconds = header !== null && /^\d{1,6}$/.test(header) ? Number(header) * 1000 : NaN;
  return Math.min(Number.isFinite(seconds) ? seconds : fallback, MAX_RETRY_AFTER_MS);
}

const retriable = (status: number): boolean => status === 429 || status === 500 || status === 502 || status === 503 || status === 504;

/** Registries where plain HTTP is allowed: loopback, and `CORRAL_INSECURE_REGISTRIES` (comma-separated). */
export function plainHttpAllowed(registry: string, env: Readonly<Record<string, string | undefined>>): boolean {
  const listed = (env['CORRAL_INSECURE_REGISTRIES'] ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return isLoopbackRegistry(registry) || listed.includes(registry.toLowerCase());
}

/** What follows a blob download as it happens. */
export interface BlobSink {
  /** Bytes that arrived (progress); what an earlier run left counts once, at the start. */
  progress?(n: number): void;
  /** Every byte of the blob in order from the first, a resumed prefix included; awaited, so a slow reader slows the download. */
  data?(bytes: Buffer): void | Promise<void>;
  /** The registry ignored a `Range`: what `data` was given is void, the bytes start again. */
  restart?(): void;
}

export class RegistryClient {
  private readonly base: string;
  private readonly origin: string;
  private readonly tokens = new Map<string, { token: string; until: number }>();
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly get: HttpGet;

  constructor(private readonly options: RegistryClientOptions) {
    this.origin = `${options.insecure ? 'http' : 'https'}://${options.endpoint}`;
    this.base = `${this.origin}/v2/`;
    this.attempts = options.attempts ?? 4;
    this.backoffMs = options.backoffMs ?? 250;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.get = options.http ?? nodeHttpGet;
  }

  /**
   * The API root (`/v2/`) with the credentials: what `corral login` checks. Repository `''`: a
   * token asked for without a scope, as `docker login` does.
   */
  async checkAccess(): Promise<void> {
    const res = await this.request(this.base, '', {});
    await res.body?.cancel();
    if (res.status !== 200) throw await this.unexpected(res, this.base);
  }

  /** The manifest (or index) `reference` (a tag or a digest) of `repository`, its bytes bounded. */
  async manifest(repository: string, reference: string): Promise<FetchedManifest> {
    const url = `${this.base}${repository}/manifests/${reference}`;
    const res = await this.request(url, repository, { accept: MANIFEST_ACCEPT.join(', ') });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new CorralError('IMAGE_NOT_FOUND', `the registry has no manifest \`${reference}\` in \`${repository}\``, { detail: `GET ${url}: 404` });
    }
    if (res.status !== 200) throw await this.unexpected(res, url);
    const bytes = await readBounded(res, MAX_MANIFEST_BYTES, `manifest \`${repository}:${reference}\``);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const header = res.headers.get('docker-content-digest');
    if (header !== null && header.startsWith('sha256:') && header !== digest) {
      throw new CorralError('IMAGE_DIGEST_MISMATCH', `manifest \`${repository}:${reference}\` does not match the digest the registry gives for it`, { detail: `Docker-Content-Digest ${header}, content hashes to ${digest}` });
    }
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    return { bytes, mediaType: contentType, digest };
  }

  /** A small blob (an image config) in memory, checked against its digest and size. */
  async smallBlob(repository: string, digest: string, size: number, max: number): Promise<Buffer> {
    if (size > max) throw registryError(`blob \`${digest}\` is ${size} bytes, over the ${max}-byte limit`);
    const url = `${this.base}${repository}/blobs/${digest}`;
    const res = await this.request(url, repository, {});
    if (res.status !== 200) throw await this.unexpected(res, url);
    const bytes = await readBounded(res, size, `blob \`${digest}\``);
    checkBlob(digest, size, bytes.length, createHash(digestAlgorithm(digest)).update(bytes));
    return bytes;
  }

  /**
   * Streams blob `digest` into `file`, resuming what an earlier attempt (or run) left there with
   * `Range`, and verifies digest and size; a blob that fails is deleted. `sink` sees the bytes.
   */
  async blobToFile(repository: string, digest: string, size: number, file: string, sink: BlobSink = {}): Promise<void> {
    const onBytes = sink.progress ?? ((): void => undefined);
    const url = `${this.base}${repository}/blobs/${digest}`;
    const fd = openSync(file, 'a+', 0o600);
    try {
      let have = statSync(file).size;
      let hash = createHash(digestAlgorithm(digest));
      if (have > size) {
        ftruncateSync(fd, 0);
        have = 0;
      }
      // What an earlier run left is hashed again: the digest covers every byte.
      if (have > 0) await replayPrefix(fd, have, hash, sink);
      onBytes(have);
      let lastError: unknown = null;
      for (let attempt = 0; attempt < this.attempts && have < size; attempt++) {
        if (attempt > 0) await sleep(this.backoffMs * 2 ** (attempt - 1), undefined, { signal: this.options.signal });
        // request() has retried what failed before the headers; what follows retries the body.
        const res = await this.request(url, repository, have > 0 ? { range: `bytes=${have}-` } : {});
        if (res.status === 200 && have > 0) {
          // The registry ignored the range: start over.
          ftruncateSync(fd, 0);
          have = 0;
          hash = createHash(digestAlgorithm(digest));
          sink.restart?.();
        } else if (res.status === 206) {
          const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
          if (Number(start) !== have) {
            await res.body?.cancel();
            throw registryError(`blob \`${digest}\`: the registry answered range ${have}- from byte ${start ?? '?'}`, `GET ${url}`);
          }
        } else if (res.status !== 200) {
          throw await this.unexpected(res, url);
        }
        try {
          for await (const chunk of res.body ?? []) {
            // A view, not a copy: 19 MiB of copies cost the CLI's pull a tenth of its time in GC.
            const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            if (have + bytes.length > size) {
              // Leaving the loop cancels the body.
              throw new CorralError('IMAGE_DIGEST_MISMATCH', `blob \`${digest}\` is longer than the ${size} bytes its descriptor says`, { detail: `GET ${url}` });
            }
            writeSync(fd, bytes, 0, bytes.length, have);
            hash.update(bytes);
            have += bytes.length;
            onBytes(bytes.length);
            await sink.data?.(bytes);
          }
          lastError = have < size ? registryError(`blob \`${digest}\`: the body ended after ${have} of ${size} bytes`, `GET ${url}`) : null;
        } catch (err) {
          if (err instanceof CorralError) throw err;
          // A cut connection: the next attempt resumes from here.
          lastError = err;
        }
      }
      if (have < size) {
        throw registryError(`blob \`${digest}\` could not be downloaded: ${have} of ${size} bytes after ${this.attempts} attempts`, `GET ${url}: ${lastError instanceof Error ? lastError.message : String(lastError)}`, lastError);
      }
      checkBlob(digest, size, have, hash);
    } catch (err) {
      // A blob that does not verify must not be resumed from either.
      if (err instanceof CorralError && err.code === 'IMAGE_DIGEST_MISMATCH') rmSync(file, { force: true });
      throw err;
    } finally {
      closeSync(fd);
    }
  }

  /** One request with auth, redirects and retries; the caller reads (or cancels) the body. */
  private async request(url: string, repository: string, headers: { accept?: string; range?: string }): Promise<HttpResponse> {
    let authenticated = false;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.follow(url, repository, headers);
      } catch (err) {
        if (err instanceof CorralError || attempt + 1 >= this.attempts || this.options.signal?.aborted) {
          throw err instanceof CorralError ? err : registryError(`cannot reach the registry: ${(err as Error).message}`, `GET ${url}`, err);
        }
        await sleep(this.backoffMs * 2 ** attempt, undefined, { signal: this.options.signal });
        continue;
      }
      if (res.status === 401 && !authenticated) {
        const challenge = parseChallenge(res.headers.get('www-authenticate'));
        await res.body?.cancel();
        if (challenge === null) throw this.authError(`the registry refused \`${url}\` without a challenge corral can answer`);
        await this.authenticate(challenge, repository);
        authenticated = true;
        attempt--;
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        throw this.authError(repository === '' ? `the registry refused the credentials (${res.status})` : `the registry refused access to \`${repository}\` (${res.status})`);
      }
      if (retriable(res.status) && attempt + 1 < this.attempts) {
        await res.body?.cancel();
        await sleep(retryAfterMs(res, this.backoffMs * 2 ** attempt), undefined, { signal: this.options.signal });
        continue;
      }
      return res;
    }
  }

  /** Redirects by hand: the registry's `Authorization` goes to the registry's origin only. */
  private async follow(start: string, repository: string, headers: { accept?: string; range?: string }): Promise<HttpResponse> {
    let url = start;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const target = new URL(url);
      if (target.protocol !== 'https:' && !(target.protocol === 'http:' && this.options.insecure)) {
        throw registryError(`the registry sent corral to \`${target.origin}\`, which is not HTTPS`, `from ${start}`);
      }
      const h: Record<string, string> = {};
      if (headers.accept) h['accept'] = headers.accept;
      if (headers.range) h['range'] = headers.range;
      const auth = target.origin === this.origin ? this.authorization(repository) : null;
      if (auth) h['authorization'] = auth;
      const res = await this.get(target, this.init(h));
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (!location) throw registryError(`the registry answered ${res.status} without a Location`, `GET ${url}`);
      url = new URL(location, url).toString();
    }
    throw registryError(`the registry redirected more than ${MAX_REDIRECTS} times`, `GET ${start}`);
  }

  private init(headers: Record<string, string>): HttpRequest {
    return { headers, timeoutMs: this.timeoutMs, idleMs: this.timeoutMs, ...(this.options.signal ? { signal: this.options.signal } : {}) };
  }

  private authorization(repository: string): string | null {
    const token = this.tokens.get(repository);
    if (token && token.until > Date.now()) return token.token;
    return null;
  }

  private authError(summary: string): CorralError {
    const creds = this.options.credentials;
    return new CorralError('REGISTRY_AUTH_FAILED', summary, {
      detail: creds ? `with the credentials of \`${creds.username}\` from ${creds.source}` : 'no credentials were found for this registry',
      hint: creds ? 'check the user and password in that file' : `add them to /etc/containers/auth.json (\`auths: {"${this.options.endpoint}": {auth: base64(user:password)}}\`) or point CORRAL_AUTH_FILE at a file that has them`,
    });
  }

  private async authenticate(challenge: Challenge, repository: string): Promise<void> {
    const creds = this.options.credentials;
    const subject = repository === '' ? 'this registry' : `\`${repository}\``;
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : null;
    if (challenge.scheme === 'basic') {
      if (!basic) throw this.authError(`the registry wants a user and password for ${subject}`);
      this.tokens.set(repository, { token: basic, until: Number.POSITIVE_INFINITY });
      return;
    }
    const realm = new URL(challenge.realm);
    // Credentials never travel in clear text, unless the registry itself is plain HTTP by choice.
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && this.options.insecure)) {
      throw this.authError(`the registry's token service \`${realm.origin}\` is not HTTPS`);
    }
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    if (repository !== '') realm.searchParams.set('scope', `repository:${repository}:pull`);
    const res = await this.get(realm, this.init(basic ? { authorization: basic } : {}));
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      throw registryError(`the token service \`${realm.origin}\` answered with a redirect (${res.status}), which corral does not follow with credentials`, realm.toString());
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw this.authError(`the token service refused a token for ${subject} (${res.status})`);
    }
    if (res.status !== 200) throw await this.unexpected(res, realm.toString());
    let body: unknown;
    try {
      body = JSON.parse((await readBounded(res, MAX_TOKEN_BYTES, 'token response')).toString('utf8'));
    } catch (err) {
      throw err instanceof CorralError ? err : registryError('the token service answered with something that is not JSON', realm.origin);
    }
    const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const token = typeof b['token'] === 'string' ? b['token'] : typeof b['access_token'] === 'string' ? b['access_token'] : null;
    if (!token) throw registryError('the token service answered without a token', realm.origin);
    const lifetime = typeof b['expires_in'] === 'number' && b['expires_in'] > 0 ? b['expires_in'] : 60;
    // Renewed a little early, so a token does not expire between a check and its use.
    this.tokens.set(repository, { token: `Bearer ${token}`, until: Date.now() + Math.max(lifetime - 10, 5) * 1000 });
  }

  private async unexpected(res: HttpResponse, url: string): Promise<CorralError> {
    let text = '';
    try {
      text = (await readBounded(res, 4096, 'error body')).toString('utf8').replace(/\s+/g, ' ').slice(0, 300);
    } catch {
      // The status says enough.
    }
    return registryError(`the registry answered ${res.status} ${res.statusText}`.trim(), `GET ${url}${text ? `: ${text}` : ''}`);
  }
}

async function replayPrefix(fd: number, length: number, hash: Hash, sink: BlobSink): Promise<void> {
  for (let off = 0; off < length;) {
    // A buffer per read: the sink may keep what it is given.
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, length - off));
    const n = readSync(fd, buf, 0, buf.length, off);
    if (n <= 0) break;
    hash.update(buf.subarray(0, n));
    await sink.data?.(buf.subarray(0, n));
    off += n;
  }
}

function checkBlob(digest: string, size: number, got: number, hash: Hash): void {
  if (got !== size) throw new CorralError('IMAGE_DIGEST_MISMATCH', `blob \`${digest}\` has ${got} bytes, its descriptor says ${size}`);
  const actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}`;
  if (actual !== digest) throw new CorralError('IMAGE_DIGEST_MISMATCH', `blob \`${digest}\` does not match its digest`, { detail: `content hashes to ${actual}` });
}
