// A registry for tests, in process, on 127.0.0.1: the distribution API's read side (manifests by
// tag or digest, blobs with Range) over blobs loaded from OCI layouts, with the auth schemes
// corral answers (basic, bearer with a token endpoint) and the faults a hostile or broken registry
// produces (cut bodies, lying digests and sizes, redirect loops, huge manifests, media types that
// contradict themselves, 429s, ranges ignored). Every request is recorded, headers included.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface Fault {
  /** Which requests: a path suffix (`/blobs/sha256:…`, `/manifests/1`). */
  readonly match: string;
  /** How many matching requests it hits (then the registry behaves). Default: all. */
  times?: number;
  readonly kind:
    | { readonly type: 'cut'; readonly after: number }
    | { readonly type: 'status'; readonly status: number; readonly retryAfter?: number }
    | { readonly type: 'body'; readonly body: Buffer; readonly contentType?: string; readonly digestHeader?: string }
    | { readonly type: 'redirect'; readonly location: string }
    | { readonly type: 'stall'; readonly after: number }
    /** A `Range` answered with the whole blob and a 200, as some proxies do. */
    | { readonly type: 'ignore-range' };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

export interface FakeRegistry {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly requests: RecordedRequest[];
  readonly faults: Fault[];
  /** Puts every image of an OCI layout (by its ref-name annotations, as tags) into `repository`. */
  addLayout(repository: string, dir: string): void;
  addBlob(bytes: Buffer, contentType?: string): string;
  tag(repository: string, tag: string, digest: string): void;
  close(): Promise<void>;
}

export interface FakeRegistryOptions {
  readonly auth?: { readonly scheme: 'basic' | 'bearer'; readonly user: string; readonly password: string; readonly anonymousPull?: boolean };
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function fakeRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const blobs = new Map<string, { bytes: Buffer; type: string }>();
  const tags = new Map<string, string>();
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const tokens = new Set<string>();
  let host = '';

  const faultFor = (path: string): Fault['kind'] | null => {
    const f = faults.find((x) => path.endsWith(x.match) && (x.times === undefined || x.times > 0));
    if (!f) return null;
    if (f.times !== undefined) f.times--;
    return f.kind;
  };
  const basicOk = (h: string | undefined): boolean => {
    if (!options.auth || !h?.startsWith('Basic ')) return false;
    return Buffer.from(h.slice(6), 'base64').toString() === `${options.auth.user}:${options.auth.password}`;
  };
  const authorized = (req: IncomingMessage): boolean => {
    const a = options.auth;
    if (!a) return true;
    const h = req.headers.authorization;
    if (a.scheme === 'basic') return basicOk(h);
    return h?.startsWith('Bearer ') === true && tokens.has(h.slice(7));
  };
  const challenge = (res: ServerResponse, repo: string): void => {
    const a = options.auth!;
    res.setHeader('www-authenticate', a.scheme === 'basic'
      ? 'Basic realm="fake"'
      : `Bearer realm="http://${host}/token",service="fake-registry",scope="repository:${repo}:pull"`);
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  };

  const send = (req: IncomingMessage, res: ServerResponse, bytes: Buffer, type: string, digest: string, path: string): void => {
    const fault = faultFor(path);
    if (fault?.type === 'status') {
      res.writeHead(fault.status, fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}).end();
      return;
    }
    if (fault?.type === 'redirect') {
      res.writeHead(307, { location: fault.location }).end();
      return;
    }
    if (fault?.type === 'body') {
      res.writeHead(200, { 'content-type': fault.contentType ?? type, 'content-length': fault.body.length, ...(fault.digestHeader ? { 'docker-content-digest': fault.digestHeader } : {}) }).end(fault.body);
      return;
    }
    let start = 0;
    const range = fault?.type === 'ignore-range' ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) start = Number(range[1]);
    const body = bytes.subarray(start);
    const headers: Record<string, string | number> = { 'content-type': type, 'content-length': body.length, 'docker-content-digest': digest };
    if (range) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (fault?.type === 'cut' || fault?.type === 'stall') {
      res.write(body.subarray(0, fault.after));
      if (fault.type === 'cut') setTimeout(() => res.destroy(), 20);
      return;
    }
    res.end(body);
  };

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/token') {
      if (!basicOk(req.headers.authorization) && !options.auth?.anonymousPull) {
        res.writeHead(401).end();
        return;
      }
      const token = createHash('sha256').update(String(Math.random())).digest('hex');
      tokens.add(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    if (url.pathname === '/v2/') {
      if (!authorized(req)) return challenge(res, '');
      res.writeHead(200).end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const repo = m[1]!;
    const kind = m[2]!;
    const ref = m[3]!;
    if (!authorized(req)) return challenge(res, repo);
    const digest = ref.startsWith('sha256:') ? ref : tags.get(`${repo}:${ref}`);
    const blob = digest === undefined ? undefined : blobs.get(digest);
    if (!blob || digest === undefined) {
      const fault = faultFor(url.pathname);
      if (fault?.type === 'redirect') {
        res.writeHead(307, { location: fault.location }).end();
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(`{"errors":[{"code":"${kind === 'blobs' ? 'BLOB' : 'MANIFEST'}_UNKNOWN"}]}`);
      return;
    }
    send(req, res, blob.bytes, blob.type, digest, url.pathname);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const addBlob = (bytes: Buffer, type = 'application/octet-stream'): string => {
    const d = sha(bytes);
    blobs.set(d, { bytes, type });
    return d;
  };
  return {
    host,
    requests,
    faults,
    addBlob,
    tag: (repository, tag, digest) => tags.set(`${repository}:${tag}`, digest),
    addLayout(repository, dir) {
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string; annotations?: Record<string, string> }> };
      const load = (digest: string, type: string): void => {
        const bytes = readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)));
        blobs.set(digest, { bytes, type });
        if (type.includes('manifest') || type.includes('index')) {
          const json = JSON.parse(bytes.toString()) as { config?: { digest: string; mediaType: string }; layers?: Array<{ digest: string; mediaType: string }>; manifests?: Array<{ digest: string; mediaType: string }> };
          if (json.config) load(json.config.digest, json.config.mediaType);
          for (const l of json.layers ?? []) load(l.digest, l.mediaType);
          for (const c of json.manifests ?? []) load(c.digest, c.mediaType);
        }
      };
      for (const m of index.manifests) {
        load(m.digest, m.mediaType);
        const tag = m.annotations?.['org.opencontainers.image.ref.name'];
        if (tag) tags.set(`${repository}:${tag}`, m.digest);
      }
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
