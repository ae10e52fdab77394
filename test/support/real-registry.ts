// A real registry for tests: Debian's `docker-registry` (distribution 2.8) in the foreground on
// 127.0.0.1 with a port of its own and a config of its own (never the package's, never a
// service), plain or behind htpasswd basic auth or bearer tokens minted by a small token server
// in this process (ES256, its certificate in the registry's root bundle). Images get there with
// `skopeo copy` from OCI layouts. Everything is stopped by pid and removed by stop().

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';
export const USER = 'testuser';
export const PASSWORD = 'testpass';
/** bcrypt (cost 4) of PASSWORD: the registry takes no other hash, and Node makes none. */
const HTPASSWD = `${USER}:$2y$04$vjyChPOzxwYlMU54fsj0yOcaDoFOuUqhD0oq1u4qVbDgwn5afskGu\n`;
const SERVICE = 'corral-test-registry';
const ISSUER = 'corral-test-issuer';

export type RegistryAuth = 'none' | 'basic' | 'token';

export interface RealRegistry {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** Copies an image of an OCI layout (`ref`: its ref name) to `repo:tag` with skopeo (`--all`: every platform of an index). */
  push(layout: string, ref: string, target: string): void;
  stop(): Promise<void>;
}

export function haveRegistryTools(): boolean {
  return existsSync(REGISTRY_BIN) && existsSync(SKOPEO_BIN) && existsSync('/usr/bin/openssl');
}

/**
 * The token server's program: mints bearer tokens for USER/PASSWORD, anonymous requests get a 401.
 * A process of its own: the tests run corral with spawnSync, which would block a server in theirs.
 */
const TOKEN_SERVER = `
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
const [dir, user, password, service, issuer] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(dir + '/key.pem'));
const cert = new X509Certificate(readFileSync(dir + '/cert.pem'));
const b64url = (b) => Buffer.from(b).toString('base64url');
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if ((req.headers.authorization ?? '') !== 'Basic ' + Buffer.from(user + ':' + password).toString('base64')) {
    res.writeHead(401).end();
    return;
  }
  const access = url.searchParams.getAll('scope').map((scope) => {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
  });
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [cert.raw.toString('base64')] }));
  const claims = b64url(JSON.stringify({ iss: issuer, sub: user, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
  const token = header + '.' + claims + '.' + b64url(sign('sha256', Buffer.from(header + '.' + claims), { key, dsaEncoding: 'ieee-p1363' }));
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

async function tokenServer(dir: string): Promise<{ child: ChildProcess; realm: string; bundle: string }> {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=corral-test-token'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'token-server.mjs'), TOKEN_SERVER);
  const child = spawn(process.execPath, [join(dir, 'token-server.mjs'), dir, USER, PASSWORD, SERVICE, ISSUER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`the token server exited with ${code}`)));
  });
  return { child, realm: `http://127.0.0.1:${port}/token`, bundle: join(dir, 'cert.pem') };
}

/**
 * A TCP proxy that slows what the registry sends to 640 KiB/s until SIGUSR1, so that a test can
 * kill a pull in the middle of a layer, and prints each request's `Range` header (`range N`).
 * Its own process, like the token server.
 */
const THROTTLE_PROXY = `
import { connect, createServer } from 'node:net';
const [target] = process.argv.slice(2);
const [host, port] = target.split(':');
let throttled = true;
process.on('SIGUSR1', () => { throttled = false; });
const server = createServer((client) => {
  const upstream = connect(Number(port), host);
  client.on('data', (d) => {
    for (const m of d.toString('latin1').matchAll(/\\r\\nrange: *bytes=(\\d+)-/gi)) process.stdout.write('range ' + m[1] + '\\n');
    upstream.write(d);
  });
  upstream.on('data', (d) => {
    if (!throttled) { client.write(d); return; }
    upstream.pause();
    let off = 0;
    const tick = () => {
      if (client.destroyed) return;
      const n = throttled ? 16384 : d.length - off;
      client.write(d.subarray(off, off + n));
      off += n;
      if (off < d.length) setTimeout(tick, 25);
      else upstream.resume();
    };
    tick();
  });
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on('error', close); upstream.on('error', close); client.on('close', close); upstream.on('close', close);
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

export interface ThrottleProxy {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** The start offset of every `Range` asked for so far, in order. */
  readonly ranges: number[];
  /** Full speed from now on. */
  release(): void;
  stop(): Promise<void>;
}

export async function throttleProxy(target: string): Promise<ThrottleProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-throttle-'));
  writeFileSync(join(dir, 'proxy.mjs'), THROTTLE_PROXY);
  const child = spawn(process.execPath, [join(dir, 'proxy.mjs'), target], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ranges: number[] = [];
  let out = '';
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('port ')) resolve(line.slice(5));
        if (line.startsWith('range ')) ranges.push(Number(line.slice(6)));
      }
    });
    child.on('exit', (code) => reject(new Error(`the throttling proxy exited with ${code}`)));
  });
  return {
    host: `127.0.0.1:${port}`,
    ranges,
    release: () => child.kill('SIGUSR1'),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startRegistry(auth: RegistryAuth = 'none'): Promise<RealRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-registry-'));
  let tokens: ChildProcess | null = null;
  const authConfig: string[] = [];
  if (auth === 'basic') {
    writeFileSync(join(dir, 'htpasswd'), HTPASSWD);
    authConfig.push('auth:', '  htpasswd:', '    realm: corral-test', `    path: ${join(dir, 'htpasswd')}`);
  } else if (auth === 'token') {
    const t = await tokenServer(dir);
    tokens = t.child;
    authConfig.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${SERVICE}`, `    issuer: ${ISSUER}`, `    rootcertbundle: ${t.bundle}`);
  }
  writeFileSync(join(dir, 'config.yml'), [
    'version: 0.1', 'log:', '  level: info', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true',
    'http:', '  addr: 127.0.0.1:0', ...authConfig, '',
  ].join('\n'));
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Read to the end: a full pipe blocks the registry, a closed one kills it (SIGPIPE).
  let log = '';
  const host = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start: ${log}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-8000);
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`docker-registry exited with ${code}: ${log}`));
    });
  });
  return {
    host,
    push(layoutDir, ref, target) {
      const creds = auth === 'none' ? [] : ['--dest-creds', `${USER}:${PASSWORD}`];
      // skopeo as root keeps a blob-info cache in /var/lib/containers/cache, the machine's podman's
      // and skopeo's: it runs with a tmpfs of its own over /var/lib.
      execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /var/lib && exec "$0" "$@"',
        SKOPEO_BIN, 'copy', '--all', '--quiet', '--insecure-policy', '--dest-tls-verify=false', ...creds, `oci:${layoutDir}:${ref}`, `docker://${host}/${target}`], { stdio: 'pipe' });
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      if (tokens && tokens.exitCode === null) {
        tokens.kill('SIGKILL');
        await new Promise((resolve) => tokens!.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
