import { describe, expect, test } from '@jest/globals';
import { hasCode } from '../../src/errors.js';
import {
  familiarName, formatReference, isLoopbackRegistry, parseReference, registryEndpointHost,
} from '../../src/manifest/image-reference.js';
import type { RegistryReference } from '../../src/manifest/image-reference.js';

const SHA256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const SHA512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

/** The error parseReference throws for `text`, or null when it parses. */
function refusal(text: string): unknown {
  try {
    parseReference(text);
  } catch (err) {
    return err;
  }
  return null;
}

function message(text: string): string {
  const err = refusal(text);
  return err instanceof Error ? err.message : 'parsed';
}

describe('parseReference', () => {
  test.each<[string, RegistryReference]>([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: null }],
    ['library/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: null }],
    ['user/app:1.0', { registry: 'docker.io', repository: 'user/app', tag: '1.0', digest: null }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: null }],
    ['index.docker.io/library/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: null }],
    ['registry-1.docker.io/nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: null }],
    ['Docker.IO/user/app', { registry: 'docker.io', repository: 'user/app', tag: 'latest', digest: null }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest', digest: null }],
    ['localhost:5000/team/app:1', { registry: 'localhost:5000', repository: 'team/app', tag: '1', digest: null }],
    ['127.0.0.1:5000/team/app:1', { registry: '127.0.0.1:5000', repository: 'team/app', tag: '1', digest: null }],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app', tag: 'latest', digest: null }],
    ['[2001:DB8::1]/app', { registry: '[2001:db8::1]', repository: 'app', tag: 'latest', digest: null }],
    ['registry.example.com/a/b/c:tag', { registry: 'registry.example.com', repository: 'a/b/c', tag: 'tag', digest: null }],
    ['Registry.Example.COM/a:V1_x', { registry: 'registry.example.com', repository: 'a', tag: 'V1_x', digest: null }],
    ['x/a.b-c__d---e_f', { registry: 'docker.io', repository: 'x/a.b-c__d---e_f', tag: 'latest', digest: null }],
    [`nginx@${SHA256}`, { registry: 'docker.io', repository: 'library/nginx', tag: null, digest: SHA256 }],
    [`nginx:1.27@${SHA256}`, { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: SHA256 }],
    [`host:5000/a/b@${SHA512}`, { registry: 'host:5000', repository: 'a/b', tag: null, digest: SHA512 }],
    // No `/`: a `:` is a tag, so this is Docker Hub's `localhost` image (as with docker pull).
    ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000', digest: null }],
    ['example.com', { registry: 'docker.io', repository: 'library/example.com', tag: 'latest', digest: null }],
  ])('%s', (text, expected) => expect(parseReference(text)).toEqual(expected));
});

describe('formatReference and familiarName', () => {
  test.each([
    ['nginx', 'docker.io/library/nginx:latest', 'nginx:latest'],
    ['user/app:1.0', 'docker.io/user/app:1.0', 'user/app:1.0'],
    ['library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['127.0.0.1:5000/team/app:1', '127.0.0.1:5000/team/app:1', '127.0.0.1:5000/team/app:1'],
    [`host:5000/a/b@${SHA256}`, `host:5000/a/b@${SHA256}`, `host:5000/a/b@${SHA256}`],
    [`registry.example.com/a:tag@${SHA256}`, `registry.example.com/a:tag@${SHA256}`, `registry.example.com/a:tag@${SHA256}`],
    [`nginx@${SHA256}`, `docker.io/library/nginx@${SHA256}`, `nginx@${SHA256}`],
    ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest'],
    // A Hub repository whose first component reads as a host keeps `docker.io/` in its short form.
    ['docker.io/localhost/app', 'docker.io/localhost/app:latest', 'docker.io/localhost/app:latest'],
    ['docker.io/example.com/app', 'docker.io/example.com/app:latest', 'docker.io/example.com/app:latest'],
  ])('%s → %s, %s', (text, canonical, familiar) => {
    const ref = parseReference(text);
    expect(formatReference(ref)).toBe(canonical);
    expect(familiarName(ref)).toBe(familiar);
    // Both forms parse back to the same reference.
    expect(parseReference(canonical)).toEqual(ref);
    expect(parseReference(familiar)).toEqual(ref);
  });
});

describe('registries', () => {
  test('Docker Hub is contacted at registry-1.docker.io; others as named', () => {
    expect(registryEndpointHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryEndpointHost(parseReference('nginx').registry)).toBe('registry-1.docker.io');
    expect(registryEndpointHost('localhost:5000')).toBe('localhost:5000');
    expect(registryEndpointHost('registry.example.com')).toBe('registry.example.com');
  });

  test.each(['localhost', 'localhost:5000', '127.0.0.1', '127.0.0.1:5000', '127.9.9.9', '[::1]', '[::1]:5000', '[0:0:0:0:0:0:0:1]:443', 'LOCALHOST'])(
    '%s is loopback', (registry) => expect(isLoopbackRegistry(registry)).toBe(true));

  test.each(['10.0.0.1', 'example.com', 'docker.io', 'localhost.example.com', 'mylocalhost', '128.0.0.1', '127.0.0.01', '127.0.0',
    '127.0.0.1.nip.io', '[::2]', '[::1]evil', '[::1', 'localhost:abc', '', '[::ffff:127.0.0.1]'])(
    '%s is not loopback', (registry) => expect(isLoopbackRegistry(registry)).toBe(false));
});

describe('refusals', () => {
  test.each([
    ['', /is invalid: it is empty/],
    ['Nginx', /image reference `Nginx` is invalid: repository names are lower case/],
    ['Localhost/app', /repository names are lower case/],
    ['example.com/Team/app', /repository names are lower case/],
    ['a//b', /empty component/],
    ['a/', /ends with `\/`/],
    ['/a', /starts with `\/`/],
    ['example.com/', /repository path is empty/],
    ['a_.b', /path component `a_.b`/],
    ['a___b', /path component `a___b`/],
    ['-a', /path component `-a`/],
    ['a-', /path component `a-`/],
    ['a b', /holds ` `/],
    ['a\u0000b', /holds `\\u0000`/],
    ['nginx:bad!tag', /the tag holds `!`/],
    ['nginx:.dot', /the tag `.dot` starts with `.`/],
    ['nginx:', /the tag after `:` is empty/],
    [`nginx:${'t'.repeat(129)}`, /the tag is 129 characters long/],
    ['nginx@sha256:abc', /sha256 digest has 3 hex digits/],
    [`nginx@sha256:${'A'.repeat(64)}`, /digest is in upper case/],
    [`nginx@md5:${'a'.repeat(32)}`, /digest algorithm `md5` is not supported/],
    [`nginx@sha256:${'g'.repeat(64)}`, /holds `g`, which is not a hex digit/],
    ['nginx@sha256', /is not ALGORITHM:HEX/],
    [`nginx@${SHA256}@${SHA256}`, /more than one `@`/],
    ['nginx@', /is not ALGORITHM:HEX/],
    [':tag', /no repository name/],
    ['host:0/app', /the port `0` .* is not a port number/],
    ['host:70000/app', /the port `70000`/],
    ['host:05000/app', /the port `05000`/],
    ['host:/app', /the port ``/],
    ['host:http/app', /the port `http`/],
    ['bad_host.com/app', /registry host `bad_host.com` holds `_`/],
    ['-bad.com/app', /starts or ends with `-`/],
    ['a..b/app', /empty label/],
    ['[::1]:5000', /not followed by `\/` and a repository/],
    ['[::1/app', /never closes/],
    ['[::1]x/app', /after its IPv6 address/],
    ['[1:2:3:4:5:6:7:8:9]/app', /is not an IPv6 address/],
    ['[1::2::3]/app', /is not an IPv6 address/],
    ['a'.repeat(64).replace(/a/g, 'f'), /image ID/],
    [`example.com/${'a'.repeat(250)}`, /registry and repository together are 262 characters long/],
    ['a'.repeat(600), /it is 600 characters long/],
  ])('%j', (text, why) => {
    const err = refusal(text);
    expect(hasCode(err, 'IMAGE_REFERENCE_INVALID')).toBe(true);
    expect(message(text)).toMatch(why);
  });

  test('says what is expected and how to fix upper case', () => {
    const err = refusal('Team/App:V1');
    expect(err).toMatchObject({
      summary: 'image reference `Team/App:V1` is invalid: repository names are lower case',
      detail: expect.stringMatching(/^a repository path is components of lower-case letters/),
      hint: 'write the repository as `team/app`',
    });
    expect(refusal(`example.com/${'a'.repeat(250)}`)).toMatchObject({ detail: 'registry and repository together are at most 255 characters' });
    expect(refusal(`nginx@sha256:${'AB'.repeat(32)}`)).toMatchObject({ hint: `write it as \`sha256:${'ab'.repeat(32)}\`` });
  });

  test('long input is cut short in the message', () => {
    expect(message('a'.repeat(600)).length).toBeLessThan(200);
  });

  test('the longest valid parts are accepted', () => {
    const tag = `T${'x'.repeat(127)}`;
    expect(parseReference(`nginx:${tag}`).tag).toBe(tag);
    const name = `example.com/${'a'.repeat(243)}`;
    expect(name.length).toBe(255);
    expect(parseReference(name).repository).toHaveLength(243);
  });
});

describe('hostile input is refused quickly', () => {
  test.each([
    ['600 characters', 'a/'.repeat(300)],
    ['a dash bomb', `a${'-'.repeat(10000)}!`],
    ['a dash bomb under the length limit', `a${'-'.repeat(500)}!`],
    ['separators under the length limit', `${'a.'.repeat(250)}!`],
    ['underscores under the length limit', `a${'_'.repeat(500)}`],
    ['a long host', `${'a.'.repeat(255)}/x`],
    ['colons', `${':'.repeat(511)}`],
    ['brackets', `[${':'.repeat(509)}]/a`],
    ['a million characters', 'a'.repeat(1_000_000)],
  ])('%s', (_what, text) => {
    const start = performance.now();
    const err = refusal(text);
    expect(performance.now() - start).toBeLessThan(50);
    expect(hasCode(err, 'IMAGE_REFERENCE_INVALID')).toBe(true);
  });
});
