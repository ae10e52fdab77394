// A registry's WWW-Authenticate challenge, parsed from hostile text; credentials found in the auth
// files users have, by host, in podman's order.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { parseChallenge } from '../../src/drivers/overlay/images/registry/challenge.js';
import { credentialFiles, findCredentials, loginFile, removeCredentials, saveCredentials } from '../../src/drivers/overlay/images/registry/credentials.js';
import { registryHost } from '../../src/drivers/overlay/images/registry/login.js';
import { pickPlatform, type Descriptor } from '../../src/drivers/overlay/images/oci-layout.js';
import { hasCode } from '../../src/errors.js';

describe('parseChallenge', () => {
  test('bearer with realm, service and scope; quoted commas and escapes; basic', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'))
      .toEqual({ scheme: 'bearer', realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' });
    expect(parseChallenge('bearer realm="https://t/x",scope="repository:a:pull,push"')).toEqual({ scheme: 'bearer', realm: 'https://t/x', service: null, scope: 'repository:a:pull,push' });
    expect(parseChallenge('Bearer realm="a\\"b"')).toMatchObject({ realm: 'a"b' });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', realm: 'Registry Realm' });
    expect(parseChallenge('Basic')).toEqual({ scheme: 'basic', realm: null });
  });

  test('what corral cannot answer is null, never a crash', () => {
    for (const h of [null, '', 'Negotiate abc', 'Bearer service="x"', 'Bearer realm', `Bearer realm="${'x'.repeat(10000)}"`, 'Bearer ,,,,=,=']) {
      expect(parseChallenge(h)).toBeNull();
    }
    const started = Date.now();
    parseChallenge(`Bearer ${'a=b,'.repeat(2000)}`);
    expect(Date.now() - started).toBeLessThan(200);
  });
});

describe('credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-creds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, value: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
    return p;
  };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');

  test('by host, with or without scheme and path; the first file that has an entry wins; Docker Hub by its aliases', () => {
    const a = file('a.json', { auths: { 'https://reg.example:5000/v1/': { auth: b64('alice:pw:with:colons') } } });
    const b = file('b.json', { auths: { 'reg.example:5000': { username: 'bob', password: 'x' }, 'https://index.docker.io/v1/': { auth: b64('hub:tok') } } });
    expect(findCredentials('reg.example:5000', [a, b])).toEqual({ username: 'alice', password: 'pw:with:colons', source: a });
    expect(findCredentials('reg.example:5000', [join(dir, 'missing.json'), b])).toMatchObject({ username: 'bob' });
    expect(findCredentials('docker.io', [a, b])).toMatchObject({ username: 'hub', password: 'tok' });
    expect(findCredentials('other.example', [a, b])).toBeNull();
  });

  test('a broken file is an error naming it; the order of files follows podman; CORRAL_AUTH_FILE alone when set', () => {
    const bad = file('bad.json', '{not json');
    const err = (() => { try { findCredentials('x', [bad]); } catch (e) { return e; } return null; })();
    expect(hasCode(err, 'REGISTRY_AUTH_FAILED')).toBe(true);
    expect(String(err)).toContain(bad);
    const junk = file('junk.json', { auths: { x: { auth: b64('nocolon') } } });
    expect(hasCode((() => { try { findCredentials('x', [junk]); } catch (e) { return e; } return null; })(), 'REGISTRY_AUTH_FAILED')).toBe(true);
    expect(credentialFiles({ HOME: '/h', XDG_RUNTIME_DIR: '/run/user/0', REGISTRY_AUTH_FILE: '/r.json' })).toEqual(['/r.json', '/run/user/0/containers/auth.json', '/etc/containers/auth.json', '/h/.docker/config.json']);
    expect(credentialFiles({ CORRAL_AUTH_FILE: '/only.json', HOME: '/h' })).toEqual(['/only.json']);
  });
});

describe('platform of an index', () => {
  const d = (architecture: string, variant?: string): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${(architecture + (variant ?? '')).padEnd(64, '0').replace(/[^0-9a-f]/g, 'a').slice(0, 64)}`, size: 1,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  });
  test('this host\'s architecture, then its variant (arm64/v8 and a bare arm64 are one; arm/v6 is not arm/v7)', () => {
    const list = [d('amd64'), d('arm', 'v6'), d('arm', 'v7'), d('arm64', 'v8'), d('s390x')];
    expect(pickPlatform(list, 'index', 'x64').platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(pickPlatform(list, 'index', 'arm64').platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(pickPlatform([d('amd64'), d('arm64')], 'index', 'arm64').platform?.architecture).toBe('arm64');
    expect(['v6', 'v7']).toContain(pickPlatform(list, 'index', 'arm').platform?.variant);
    expect(() => pickPlatform([d('s390x'), d('ppc64le')], 'index', 'x64')).toThrow(/holds 2 images/);
  });
});

describe('login targets', () => {
  test('a registry host from what people type; anything else is refused with the grammar', () => {
    expect(registryHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(registryHost('https://Registry.Example.com/v2/')).toBe('registry.example.com');
    expect(registryHost('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryHost('localhost')).toBe('localhost');
    for (const bad of ['nginx', 'team/app', '', 'host:99999', 'a b.example.com']) {
      expect(() => registryHost(bad)).toThrow(expect.objectContaining({ code: 'IMAGE_REFERENCE_INVALID' }));
    }
  });

  test('saved credentials are found by the next pull; removing them keeps the other entries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-login-'));
    try {
      const file = join(dir, 'sub', 'auth.json');
      saveCredentials(file, 'r.example.com', 'u1', 'p:1');
      saveCredentials(file, 'other.example.com', 'u2', 'p2');
      // A second login replaces the entry, whatever form its key had.
      saveCredentials(file, 'r.example.com', 'u3', 'p3');
      expect(findCredentials('r.example.com', [file])).toMatchObject({ username: 'u3', password: 'p3' });
      expect(removeCredentials(file, 'r.example.com')).toBe(true);
      expect(removeCredentials(file, 'r.example.com')).toBe(false);
      expect(findCredentials('r.example.com', [file])).toBeNull();
      expect(findCredentials('other.example.com', [file])).toMatchObject({ username: 'u2' });
      expect(loginFile({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/containers/auth.json');
      expect(loginFile({})).toBe('/etc/containers/auth.json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
