// GET over node:http and node:https, for the registry client. Not `fetch`: in a fresh process,
// undici's load and its web streams cost about 80 ms more than node:http for the same 19 MiB
// (bench/pull), and a pull is mostly a fresh process (`corral image pull`, a start). Nothing is
// followed here (redirects are the client's, so that `Authorization` stays on its origin), and
// the time limits are the ones a download needs: one until the headers arrive, then one for a
// body that stops moving, never one for the whole body (a big layer on a slow link is fine).

import type * as http from 'node:http';
import type * as https from 'node:https';
import { createRequire } from 'node:module';

export interface HttpBody extends AsyncIterable<Uint8Array> {
  /** Stops reading and closes the connection. */
  cancel(): Promise<void>;
}

export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  readonly body: HttpBody | null;
}

export interface HttpRequest {
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Until the status line and headers arrive. */
  readonly timeoutMs: number;
  /** Between two pieces of the body. */
  readonly idleMs: number;
}

export type HttpGet = (url: URL, init: HttpRequest) => Promise<HttpResponse>;

interface Transport {
  readonly request: (url: URL, options: http.RequestOptions) => http.ClientRequest;
  /** Connections are kept for the requests of one pull; idle ones never hold the process open. */
  readonly agent: http.Agent;
}

interface Transports {
  readonly http: Transport;
  readonly https: Transport;
}

let transports: Transports | null = null;

/**
 * node:http and node:https load at the first request, not with this module: dist/corral.blob
 * evaluates the CLI's modules while it is built, and Node 20 cannot load these two there. With
 * require: a script started from a snapshot has no dynamic import().
 */
function loadTransports(): Transports {
  if (transports === null) {
    const load = createRequire(import.meta.url);
    const h = load('node:http') as typeof http;
    const s = load('node:https') as typeof https;
    transports = {
      http: { request: h.request, agent: new h.Agent({ keepAlive: true, maxSockets: 8 }) },
      https: { request: s.request, agent: new s.Agent({ keepAlive: true, maxSockets: 8 }) },
    };
  }
  return transports;
}

function wrap(res: http.IncomingMessage): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? '',
    headers: {
      get(name: string): string | null {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : String(v);
      },
    },
    body: {
      [Symbol.asyncIterator]: () => res[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>,
      cancel: async () => {
        res.destroy();
      },
    },
  };
}

export const nodeHttpGet: HttpGet = (url, init) => {
  const loaded = loadTransports();
  return request(url.protocol === 'https:' ? loaded.https : loaded.http, url, init);
};

const request = (transport: Transport, url: URL, init: HttpRequest): Promise<HttpResponse> => new Promise((resolve, reject) => {
  if (init.signal?.aborted) {
    reject(init.signal.reason);
    return;
  }
  const req = transport.request(url, {
    method: 'GET', headers: { ...init.headers }, agent: transport.agent, ...(init.signal ? { signal: init.signal } : {}),
  });
  const timer = setTimeout(() => req.destroy(new Error(`no answer from ${url.host} within ${init.timeoutMs} ms`)), init.timeoutMs);
  req.once('response', (res) => {
    clearTimeout(timer);
    res.setTimeout(init.idleMs, () => res.destroy(new Error(`${url.host} sent nothing for ${init.idleMs} ms`)));
    resolve(wrap(res));
  });
  req.once('error', (err) => {
    clearTimeout(timer);
    reject(err);
  });
  req.end();
});
