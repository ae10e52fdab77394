// Kernel-free parts of the overlay driver: the tar reader, image defaults, OCI layout selection,
// image names, overlay option strings, mountinfo parsing.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { applyImageDefaults, defaultsFromConfig, NO_DEFAULTS, parseImageRef } from '../../../src/drivers/overlay/index.js';
import { readOciLayout } from '../../../src/drivers/overlay/images/oci-layout.js';
import { readTar, type TarEntry } from '../../../src/drivers/overlay/images/tar-reader.js';
import { overlayDirs } from '../../../src/drivers/overlay/mount-usage.js';
import { parseMountinfo } from '../../../src/drivers/overlay/mountinfo.js';
import { overlayMountData } from '../../../src/drivers/overlay/overlay-options.js';
import { hasCode } from '../../../src/errors.js';
import type { ProcessSpec } from '../../../src/manifest/spec.js';
import { writeOciLayout } from '../../support/oci.js';
import { tarBytes } from '../../support/oci-tar.js';
import { cleanup, tempDir } from './helpers.js';

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function entries(buf: Buffer, chunkSize = 7): Promise<Array<Omit<TarEntry, 'body'> & { data: string }>> {
  const out: Array<Omit<TarEntry, 'body'> & { data: string }> = [];
  for await (const e of readTar(chunks(buf, chunkSize))) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(c);
    const { body: _body, ...rest } = e;
    out.push({ ...rest, data: Buffer.concat(parts).toString() });
  }
  return out;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('tar reader', () => {
  test('ustar, PAX long names and links, xattrs, every entry type, odd chunking', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const got = await entries(tarBytes([
      { type: 'dir', path: 'a/', mode: 0o750, uid: 5, gid: 6 },
      { type: 'file', path: long, content: 'x'.repeat(1000), mode: 0o4755, xattrs: { 'user.k': 'v' } },
      { type: 'symlink', path: 's', target: `/${'t'.repeat(150)}` },
      { type: 'hardlink', path: 'h', target: long },
      { type: 'char', path: 'c', major: 1, minor: 3 },
      { type: 'fifo', path: 'p' },
    ]));
    expect(got.map((e) => [e.path, e.type])).toEqual([['a', 'dir'], [long, 'file'], ['s', 'symlink'], ['h', 'hardlink'], ['c', 'char'], ['p', 'fifo']]);
    expect(got[0]).toMatchObject({ mode: 0o750, uid: 5, gid: 6 });
    expect(got[1]).toMatchObject({ size: 1000, mode: 0o4755, data: 'x'.repeat(1000) });
    expect(got[1]!.xattrs.get('user.k')?.toString()).toBe('v');
    expect(got[2]!.linkpath).toBe(`/${'t'.repeat(150)}`);
    expect(got[3]!.linkpath).toBe(long);
    expect(got[4]).toMatchObject({ devmajor: 1, devminor: 3 });
  });

  test('unread bodies are skipped; a missing end marker is tolerated; truncation is not', async () => {
    const buf = tarBytes([{ type: 'file', path: 'a', content: 'A'.repeat(700) }, { type: 'file', path: 'b', content: 'B' }], { end: false });
    const names: string[] = [];
    for await (const e of readTar(chunks(buf, 100))) names.push(e.path);
    expect(names).toEqual(['a', 'b']);
    const err = await rejection(entries(buf.subarray(0, 700)));
    expect(hasCode(err, 'IMAGE_INVALID')).toBe(true);
    expect(hasCode(await rejection(entries(Buffer.alloc(0))), 'IMAGE_INVALID')).toBe(true);
  });
});

describe('image defaults', () => {
  const proc = (over: Partial<ProcessSpec>): ProcessSpec => ({
    command: null, args: null, workingDir: null, env: [], user: { uid: 0, gid: 0, groups: [] }, userLookup: null, oomScoreAdj: 0, ulimits: [], ...over,
  });
  const defaults = defaultsFromConfig({ Entrypoint: ['/entry'], Cmd: ['serve'], Env: ['A=1', 'B=x=y'], WorkingDir: '/app', User: 'www' });

  test('Docker rules: command replaces Entrypoint and drops Cmd, args replace Cmd, env merges by name', () => {
    expect(applyImageDefaults(proc({}), defaults)).toEqual({ argv: ['/entry', 'serve'], env: [{ name: 'A', value: '1' }, { name: 'B', value: 'x=y' }], workingDir: '/app', imageUser: 'www' });
    expect(applyImageDefaults(proc({ args: ['migrate'] }), defaults).argv).toEqual(['/entry', 'migrate']);
    expect(applyImageDefaults(proc({ command: ['/bin/sh'] }), defaults).argv).toEqual(['/bin/sh']);
    expect(applyImageDefaults(proc({ command: ['/bin/sh'], args: ['-c', 'x'] }), defaults).argv).toEqual(['/bin/sh', '-c', 'x']);
    expect(applyImageDefaults(proc({ env: [{ name: 'A', value: '2' }], workingDir: '/w' }), defaults)).toMatchObject({ env: [{ name: 'A', value: '2' }, { name: 'B', value: 'x=y' }], workingDir: '/w' });
    expect(applyImageDefaults(proc({ command: ['/x'] }), null).workingDir).toBe('/');
    expect(hasCode((() => { try { applyImageDefaults(proc({}), NO_DEFAULTS); } catch (e) { return e; } return null; })(), 'MANIFEST_REQUIRED_FIELD')).toBe(true);
  });

  test('malformed configs are IMAGE_INVALID', () => {
    for (const bad of [{ Cmd: 'not a list' }, { Env: ['NOEQUALS'] }, { User: 5 }, []]) {
      expect(hasCode((() => { try { defaultsFromConfig(bad); } catch (e) { return e; } return null; })(), 'IMAGE_INVALID')).toBe(true);
    }
  });
});

describe('OCI layout selection', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('ocisel');
  });
  afterAll(() => cleanup(dir));

  test('one of several images by ref name, else a clear error listing them', () => {
    const oci = join(dir, 'multi');
    const [a, b] = writeOciLayout(oci, [
      { refName: 'one', layers: [{ entries: [{ type: 'file', path: 'a' }] }] },
      { refName: 'two', layers: [{ entries: [{ type: 'file', path: 'b' }] }] },
    ]);
    expect(readOciLayout(oci, 'two').manifestDigest).toBe(b!.manifestDigest);
    expect(readOciLayout(oci, 'one').manifestDigest).toBe(a!.manifestDigest);
    const err = (() => { try { readOciLayout(oci); } catch (e) { return e as Error & { detail?: string }; } return null; })();
    expect(err?.message).toMatch(/holds 2 images; choose one/);
    expect(err?.detail).toBe('candidates: one, two');
    expect(() => readOciLayout(oci, 'three')).toThrow(/no image with ref name `three`/);
  });

  test('not a layout, other OS, too many layers', () => {
    const plain = join(dir, 'plain');
    mkdirSync(plain);
    expect(() => readOciLayout(plain)).toThrow(/is not an OCI image layout: `oci-layout` is missing/);
    const win = join(dir, 'win');
    writeOciLayout(win, { layers: [], os: 'windows' });
    expect(() => readOciLayout(win)).toThrow(/the image is for `windows`, not linux/);
    const arm = join(dir, 'other-arch');
    writeOciLayout(arm, { layers: [], architecture: 's390x' });
    expect(readOciLayout(arm).warnings).toEqual([expect.stringMatching(/the image is for s390x; this host is/)]);
    const many = join(dir, 'many');
    writeOciLayout(many, { layers: Array.from({ length: 501 }, () => ({ entries: [] })) });
    expect(() => readOciLayout(many)).toThrow(/501 layers; overlayfs stacks at most 500/);
  });
});

describe('names, options, mountinfo', () => {
  test('image names follow the manifest schema', () => {
    expect(parseImageRef('busybox')).toEqual({ name: 'busybox', tag: 'latest' });
    expect(parseImageRef('my.app_x-1:v1.2')).toEqual({ name: 'my.app_x-1', tag: 'v1.2' });
    for (const bad of ['', 'Upper', 'a/b', 'a:', 'a:.hidden', ':tag']) expect(() => parseImageRef(bad)).toThrow(/is not NAME\[:TAG\]/);
    // A first part with a `.` or `:` names a registry: it must then be a valid reference.
    for (const bad of ['../x', 'reg.example:99999/a', 'localhost/A']) expect(() => parseImageRef(bad)).toThrow(/image reference .* is invalid/);
    expect(parseImageRef('127.0.0.1:5000/team/app:1')).toEqual({ name: '127.0.0.1:5000/team/app', tag: '1' });
  });

  test('mount(2) option strings refuse separators in paths', () => {
    expect(overlayMountData({ lower: ['/a', '/b'], upper: '/u', work: '/w' })).toBe('lowerdir=/a:/b,upperdir=/u,workdir=/w');
    expect(() => overlayMountData({ lower: ['/a:b'], upper: '/u', work: '/w' })).toThrow(/cannot carry/);
  });

  test('mountinfo escapes and overlay option lists', () => {
    const [m] = parseMountinfo('36 35 98:0 / /mnt/with\\040space rw - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/u,workdir=/w\n');
    expect(m!.mountPoint).toBe('/mnt/with space');
    expect(overlayDirs(m!.superOptions)).toEqual(['/l1', '/l2', '/u', '/w']);
    expect(overlayDirs('rw,lowerdir+=/a,lowerdir+=/b,upperdir=/u,workdir=/w')).toEqual(['/a', '/b', '/u', '/w']);
  });
});
