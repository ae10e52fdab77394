// Pulling from a registry, against an in-process one (test/support/fake-registry.ts): by tag, by
// digest, through an index; bearer and basic auth with credentials from an auth file; layers the
// store has are not downloaded; and every fault of a hostile or broken registry refused with a
// typed error or survived (a cut body resumed with Range, a 429 waited out), nothing stored from a
// pull that failed, no credential sent to another origin.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { pullImage, type PullOptions } from '../../../src/drivers/overlay/images/registry/pull.js';
import { parseReference } from '../../../src/manifest/image-reference.js';
import { findImage } from '../../../src/drivers/overlay/images/store.js';
import { parseImageRef } from '../../../src/drivers/overlay/images/image-ref.js';
import { hasCode } from '../../../src/errors.js';
import { layout } from '../../../src/state/layout.js';
import { fakeRegistry, type FakeRegistry, type FakeRegistryOptions } from '../../support/fake-registry.js';
import { busyboxEntries, writeOciLayout } from '../../support/oci.js';
import type { TarSpec } from '../../support/oci-tar.js';

let base: string;
let layouts: string;
let n = 0;
const fresh = (): string => join(base, `root-${++n}`);
const registries: FakeRegistry[] = [];

async function registry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const r = await fakeRegistry(options);
  registries.push(r);
  r.addLayout('team/app', join(layouts, 'app'));
  r.addLayout('team/multi', join(layouts, 'multi'));
  r.addLayout('team/evil', join(layouts, 'evil'));
  return r;
}

/** The digest of the app's big layer, learnt by one pull; the registry's request log is cleared after it. */
async function bigLayerOf(reg: FakeRegistry): Promise<string> {
  const layer = (await pullImage(fresh(), parseReference(`${reg.host}/team/app:1`), parseImageRef('app:1'), FAST)).downloaded[1]!;
  reg.requests.length = 0;
  return layer;
}

/** The Range header of each request for `digest`, in order (null: none). */
const rangesOf = (reg: FakeRegistry, digest: string): Array<string | null> =>
  reg.requests.filter((q) => q.url.endsWith(digest)).map((q) => (typeof q.headers.range === 'string' ? q.headers.range : null));

const FAST: PullOptions = { attempts: 3, backoffMs: 10, env: { CORRAL_AUTH_FILE: '/nonexistent/auth.json' } };
const pull = (root: string, reg: FakeRegistry, ref: string, options: PullOptions = FAST) =>
  pullImage(root, parseReference(`${reg.host}/${ref}`), parseImageRef('app:1'), options);

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

// Random: a layer that gzip cannot shrink, so a cut or a stall lands inside its body.
const big = randomBytes(300_000);
const NATIVE = process.arch === 'arm64' ? 'arm64' : 'amd64';
const FOREIGN = NATIVE === 'arm64' ? 'amd64' : 'arm64';
const appLayers: TarSpec[][] = [busyboxEntries(), [{ type: 'file', path: 'data/big', content: big }, { type: 'file', path: 'etc/app.conf', content: 'x=1\n' }]];

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'corral-pull-'));
  layouts = join(base, 'layouts');
  writeOciLayout(join(layouts, 'app'), { layers: appLayers.map((entries) => ({ entries })), config: { Cmd: ['/bin/sh'] }, refName: '1' });
  // Two platforms behind one index: only this host's is downloaded.
  const foreign = { layers: [{ entries: [{ type: 'file' as const, path: 'foreign-only', content: 'x' }] }], architecture: FOREIGN, refName: 'foreign' };
  const native = { layers: [{ entries: busyboxEntries() }], architecture: NATIVE, refName: 'native' };
  writeOciLayout(join(layouts, 'multi'), [native, foreign]);
  writeOciLayout(join(layouts, 'evil'), { layers: [{ entries: [{ type: 'file', path: '../../escaped', content: 'x' }] }], refName: '1' });
});
afterEach(async () => {
  for (const r of registries.splice(0)) await r.close();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('pull', () => {
  test('by tag, then by digest; layers the store has are not downloaded again; the staging layout is gone', async () => {
    const reg = await registry();
    const root = fresh();
    const first = await pull(root, reg, 'team/app:1');
    expect(first.image).toMatchObject({ name: 'app', tag: '1', source: { kind: 'registry', path: `${reg.host}/team/app:1` } });
    expect(first.downloaded).toHaveLength(2);
    expect(first.newLayers).toHaveLength(2);
    expect(existsSync(join(layout(root).layer(first.image.layers[1]!.digest), 'etc', 'app.conf'))).toBe(true);
    const again = await pullImage(root, parseReference(`${reg.host}/team/app@${first.image.digest}`), parseImageRef('app:pinned'), FAST);
    expect(again.downloaded).toEqual([]);
    expect(again.image.digest).toBe(first.image.digest);
    expect(readdirSync(layout(root).tmpDir)).toEqual([]);
  });

  test('an index: only this host\'s platform is downloaded', async () => {
    const reg = await registry();
    const listed = (JSON.parse(readFileSync(join(layouts, 'multi', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number; annotations: Record<string, string> }> }).manifests;
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: listed.map((m) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.digest, size: m.size,
        platform: { os: 'linux', architecture: m.annotations['org.opencontainers.image.ref.name'] === 'foreign' ? FOREIGN : NATIVE },
      })),
    }));
    reg.tag('team/multi', 'both', reg.addBlob(index, 'application/vnd.oci.image.index.v1+json'));
    const pulled = await pull(fresh(), reg, 'team/multi:both');
    expect(pulled.downloaded).toHaveLength(1);
    expect(pulled.image.architecture).toBe(NATIVE);
    // Only the chosen manifest and its blobs were asked for.
    const other = listed.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'foreign')!.digest;
    expect(reg.requests.some((r) => r.url.endsWith(other))).toBe(false);
  });

  test('bearer auth with credentials from an auth file; none, or a wrong password, is REGISTRY_AUTH_FAILED', async () => {
    const reg = await registry({ auth: { scheme: 'bearer', user: 'alice', password: 's3cret' } });
    const authFile = join(base, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
    const ok = await pull(fresh(), reg, 'team/app:1', { ...FAST, env: { CORRAL_AUTH_FILE: authFile } });
    expect(ok.image.tag).toBe('1');
    // The token was asked for with the credentials, and the registry got the token, never the password.
    expect(reg.requests.filter((r) => r.url.startsWith('/token')).every((r) => r.headers.authorization?.startsWith('Basic '))).toBe(true);
    expect(reg.requests.filter((r) => r.url.startsWith('/v2/')).every((r) => !r.headers.authorization?.startsWith('Basic '))).toBe(true);
    expect(hasCode(await failure(pull(fresh(), reg, 'team/app:1')), 'REGISTRY_AUTH_FAILED')).toBe(true);
    writeFileSync(authFile, JSON.stringify({ auths: { [`http://${reg.host}`]: { username: 'alice', password: 'wrong' } } }));
    const wrong = await failure(pull(fresh(), reg, 'team/app:1', { ...FAST, env: { CORRAL_AUTH_FILE: authFile } }));
    expect(hasCode(wrong, 'REGISTRY_AUTH_FAILED')).toBe(true);
    expect(String((wrong as { detail?: string }).detail)).toContain(authFile);
  });

  test('basic auth', async () => {
    const reg = await registry({ auth: { scheme: 'basic', user: 'bob', password: 'pw' } });
    const authFile = join(base, 'auth-basic.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { username: 'bob', password: 'pw' } } }));
    expect((await pull(fresh(), reg, 'team/app:1', { ...FAST, env: { CORRAL_AUTH_FILE: authFile } })).image.tag).toBe('1');
  });

  test('a blob redirected to another origin gets no Authorization; a redirect loop is refused', async () => {
    const reg = await registry({ auth: { scheme: 'bearer', user: 'u', password: 'p' } });
    const storage = await fakeRegistry();
    registries.push(storage);
    storage.addLayout('team/app', join(layouts, 'app'));
    const authFile = join(base, 'auth-redirect.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { username: 'u', password: 'p' } } }));
    const app = await pull(fresh(), reg, 'team/app:1', { ...FAST, env: { CORRAL_AUTH_FILE: authFile } });
    const layer = app.downloaded[1]!;
    // `localhost` is another origin than 127.0.0.1, as a storage bucket would be.
    const port = storage.host.split(':')[1];
    reg.faults.push({ match: `/blobs/${layer}`, kind: { type: 'redirect', location: `http://localhost:${port}/v2/team/app/blobs/${layer}` } });
    await pull(fresh(), reg, 'team/app:1', { ...FAST, env: { CORRAL_AUTH_FILE: authFile, CORRAL_INSECURE_REGISTRIES: reg.host } });
    const served = storage.requests.filter((r) => r.url.includes(layer));
    expect(served.length).toBe(1);
    expect(served[0]!.headers.authorization).toBeUndefined();
    reg.faults.length = 0;
    reg.faults.push({ match: `/blobs/${layer}`, kind: { type: 'redirect', location: `http://${reg.host}/v2/team/app/blobs/${layer}` } });
    const loop = await failure(pull(fresh(), reg, 'team/app:1', { ...FAST, env: { CORRAL_AUTH_FILE: authFile } }));
    expect(hasCode(loop, 'REGISTRY_ERROR')).toBe(true);
    expect(String(loop)).toMatch(/redirected more than 5 times/);
  });

  test('a body cut short is resumed with Range; a 429 is waited out', async () => {
    const reg = await registry();
    const root = fresh();
    const bigLayer = await bigLayerOf(reg);
    reg.faults.push({ match: `/blobs/${bigLayer}`, times: 1, kind: { type: 'cut', after: 1000 } });
    reg.faults.push({ match: '/manifests/1', times: 1, kind: { type: 'status', status: 429, retryAfter: 0 } });
    const r = await pull(root, reg, 'team/app:1');
    expect(r.image.tag).toBe('1');
    expect(rangesOf(reg, bigLayer)).toEqual([null, 'bytes=1000-']);
  });

  test('a registry that ignores Range: the blob starts over, and the layer unpacked as it came is unpacked again from the whole blob', async () => {
    const reg = await registry();
    const root = fresh();
    const bigLayer = await bigLayerOf(reg);
    reg.faults.push({ match: `/blobs/${bigLayer}`, times: 1, kind: { type: 'cut', after: 100_000 } });
    reg.faults.push({ match: `/blobs/${bigLayer}`, times: 1, kind: { type: 'ignore-range' } });
    const r = await pull(root, reg, 'team/app:1');
    expect(rangesOf(reg, bigLayer)).toEqual([null, 'bytes=100000-']);
    const stored = r.image.layers.map((l) => join(layout(root).layer(l.digest), 'data', 'big')).filter((p) => existsSync(p));
    expect(stored).toHaveLength(1);
    expect(readFileSync(stored[0]!).equals(big)).toBe(true);
    expect(readdirSync(layout(root).tmpDir)).toEqual([]);
  });

  test('an interrupted pull resumes where it stopped when run again', async () => {
    const reg = await registry();
    const bigLayer = await bigLayerOf(reg);
    const root = fresh();
    reg.faults.push({ match: `/blobs/${bigLayer}`, times: 1, kind: { type: 'stall', after: 50_000 } });
    const ac = new AbortController();
    const stopped = pull(root, reg, 'team/app:1', { ...FAST, signal: ac.signal, progress: {
      layer: () => undefined, done: () => undefined,
      bytes: (d) => { if (d === bigLayer) setTimeout(() => ac.abort(), 200); },
    } });
    await failure(stopped);
    const r = await pull(root, reg, 'team/app:1');
    expect(r.image.tag).toBe('1');
    expect(rangesOf(reg, bigLayer)).toEqual([null, 'bytes=50000-']);
  });

  test('exploits: a blob that lies about its digest or size, a huge manifest, a contradictory media type, a layer with `..`: refused, nothing stored', async () => {
    const reg = await registry();
    const layer = await bigLayerOf(reg);
    const size = statSync(join(layouts, 'app', 'blobs', 'sha256', layer.slice('sha256:'.length))).size;
    const cases: Array<[Parameters<FakeRegistry['faults']['push']>[0], string, RegExp]> = [
      [{ match: `/blobs/${layer}`, kind: { type: 'body', body: Buffer.alloc(size + 100, 1) } }, 'IMAGE_DIGEST_MISMATCH', /longer than the \d+ bytes its descriptor says/],
      [{ match: `/blobs/${layer}`, kind: { type: 'body', body: Buffer.alloc(size, 1) } }, 'IMAGE_DIGEST_MISMATCH', /does not match its digest/],
      [{ match: `/blobs/${layer}`, kind: { type: 'body', body: Buffer.from('short') } }, 'REGISTRY_ERROR', /could not be downloaded|bytes/],
      [{ match: '/manifests/1', kind: { type: 'body', body: Buffer.alloc(5 << 20, 32) } }, 'REGISTRY_ERROR', /over the \d+-byte limit/],
      [{ match: '/manifests/1', kind: { type: 'body', body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] })), contentType: 'application/vnd.oci.image.index.v1+json' } }, 'IMAGE_INVALID', /served as/],
      [{ match: '/manifests/1', kind: { type: 'body', body: Buffer.from('{"schemaVersion":2}'), digestHeader: `sha256:${'0'.repeat(64)}` } }, 'IMAGE_DIGEST_MISMATCH', /does not match the digest the registry gives/],
    ];
    for (const [fault, code, message] of cases) {
      const root = fresh();
      reg.faults.length = 0;
      reg.faults.push(fault);
      const err = await failure(pull(root, reg, 'team/app:1'));
      expect({ code: (err as { code?: string }).code, message: String(err) }).toMatchObject({ code, message: expect.stringMatching(message) });
      expect(findImage(root, parseImageRef('app:1'))).toBeNull();
      expect(existsSync(layout(root).layersDir) ? readdirSync(layout(root).layersDir) : []).toEqual([]);
      // A registry that lied is not resumed from: its staging goes. A cut (REGISTRY_ERROR) stays for the rerun.
      const staged = readdirSync(layout(root).tmpDir).filter((e) => e.startsWith('pull-'));
      expect(staged).toHaveLength(code === 'REGISTRY_ERROR' ? 1 : 0);
    }
    reg.faults.length = 0;
    const root = fresh();
    const evil = await failure(pullImage(root, parseReference(`${reg.host}/team/evil:1`), parseImageRef('evil:1'), FAST));
    expect(hasCode(evil, 'IMAGE_UNSAFE_ENTRY')).toBe(true);
    expect(existsSync(join(root, '..', 'escaped'))).toBe(false);
    expect(readdirSync(layout(root).tmpDir)).toEqual([]);
    expect(findImage(root, parseImageRef('evil:1'))).toBeNull();
  });

  test('a manifest pulled by digest must have that digest; an unknown tag is IMAGE_NOT_FOUND', async () => {
    const reg = await registry();
    const wrong = await failure(pullImage(fresh(), parseReference(`${reg.host}/team/app@sha256:${'1'.repeat(64)}`), parseImageRef('app:1'), FAST));
    expect(hasCode(wrong, 'IMAGE_NOT_FOUND') || hasCode(wrong, 'IMAGE_DIGEST_MISMATCH')).toBe(true);
    expect(hasCode(await failure(pull(fresh(), reg, 'team/app:nope')), 'IMAGE_NOT_FOUND')).toBe(true);
  });
});
