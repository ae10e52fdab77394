// The proof, on real overlay mounts: two containers from one imported OCI image write to
// their own uppers and never see each other's files; files deleted by an upper image layer stay
// hidden; opaque directories hide what lies below them; uppers survive a restart and are reset
// when the rootfs changes.

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  ensureMounted, getImage, importImage, prepareRootfs, removeContainerRootfs, unmount, type PreparedOverlay,
} from '../../../src/drivers/overlay/index.js';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { layout } from '../../../src/state/layout.js';
import { lgetxattr } from '../../../src/sys/xattr.js';
import { busyboxEntries, writeOciLayout } from '../../support/oci.js';
import { requireRoot } from '../../support/root.js';
import { cleanup, tempDir } from './helpers.js';

let work: string;
let root: string;

function spec(image = 'app'): Pick<ContainerSpec, 'rootfs' | 'readOnlyRootfs'> {
  return { rootfs: { kind: 'image', name: image, tag: 'latest' }, readOnlyRootfs: false };
}

function inside(p: PreparedOverlay, script: string): { code: number | null; out: string } {
  const r = spawnSync('chroot', [p.layout.target, '/bin/sh', '-c', script], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  work = tempDir('overlay');
  root = join(work, 'state');
  if (process.getuid?.() !== 0) return;
  const dir = join(work, 'oci');
  writeOciLayout(dir, {
    refName: 'latest',
    config: { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'echo hi'], Env: ['PATH=/bin', 'MODE=image'], WorkingDir: '/data', User: '65534', StopSignal: 'SIGINT' },
    layers: [
      { entries: busyboxEntries() },
      { entries: [
        { type: 'file', path: 'etc/motd', content: 'welcome\n' },
        { type: 'dir', path: 'data' },
        { type: 'file', path: 'data/a', content: 'A' },
        { type: 'file', path: 'data/b', content: 'B' },
        { type: 'dir', path: 'opaque' },
        { type: 'file', path: 'opaque/old', content: 'old' },
      ] },
      { entries: [
        { type: 'file', path: 'etc/.wh.motd' },
        { type: 'dir', path: 'opaque' },
        { type: 'file', path: 'opaque/.wh..wh..opq' },
        { type: 'file', path: 'opaque/new', content: 'new' },
      ] },
    ],
  });
  await importImage(root, dir, { name: 'app', tag: 'latest' });
});

afterAll(() => cleanup(work));

describe('overlay rootfs from an imported OCI image', () => {
  test('whiteouts and opaque markers become overlay whiteouts and xattrs in the layer', () => {
    if (!requireRoot()) return;
    const image = getImage(root, { name: 'app', tag: 'latest' });
    expect(image.layers).toHaveLength(3);
    expect(image.defaults).toEqual({ entrypoint: ['/bin/sh'], cmd: ['-c', 'echo hi'], env: ['PATH=/bin', 'MODE=image'], user: '65534', workingDir: '/data', stopSignal: 'SIGINT' });
    expect(image.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const top = layout(root).layer(image.layers[2]!.digest);
    const wh = lstatSync(join(top, 'etc/motd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(existsSync(join(top, 'etc/.wh.motd'))).toBe(false);
    expect(lgetxattr(join(top, 'opaque'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(existsSync(join(top, 'opaque/.wh..wh..opq'))).toBe(false);
  });

  test('two containers from one image write to their own uppers and never see each other', () => {
    if (!requireRoot()) return;
    const one = prepareRootfs(root, 'one', spec());
    const two = prepareRootfs(root, 'two', spec());
    expect(one.digest).toBe(getImage(root, { name: 'app', tag: 'latest' }).digest);
    expect(one.defaults?.entrypoint).toEqual(['/bin/sh']);
    expect(one.layout.lower).toEqual(two.layout.lower);
    expect(one.layout.upper).not.toBe(two.layout.upper);
    try {
      ensureMounted(one.layout);
      ensureMounted(two.layout);
      ensureMounted(one.layout); // idempotent

      // Busybox from the bottom layer runs inside each root.
      expect(inside(one, 'echo mine > /data/one-only && rm /data/a && cat /data/b').out).toBe('B');
      expect(inside(two, 'echo mine > /data/two-only && ls /data').out.split(/\s+/).filter(Boolean)).toEqual(['a', 'b', 'two-only']);
      expect(readdirSync(join(one.layout.target, 'data')).sort()).toEqual(['b', 'one-only']);

      // Each write landed in its own upper only; the deletion is a whiteout in one's upper.
      expect(readFileSync(join(one.layout.upper, 'data/one-only'), 'utf8')).toBe('mine\n');
      expect(existsSync(join(one.layout.upper, 'data/two-only'))).toBe(false);
      expect(existsSync(join(two.layout.upper, 'data/one-only'))).toBe(false);
      expect(lstatSync(join(one.layout.upper, 'data/a')).isCharacterDevice()).toBe(true);
      // The shared layers are untouched.
      const image = getImage(root, { name: 'app', tag: 'latest' });
      expect(readFileSync(join(layout(root).layer(image.layers[1]!.digest), 'data/a'), 'utf8')).toBe('A');

      // The file the top image layer deleted stays hidden; the opaque dir shows only its own files.
      for (const c of [one, two]) {
        expect(inside(c, 'cat /etc/motd').code).not.toBe(0);
        expect(existsSync(join(c.layout.target, 'etc/motd'))).toBe(false);
        expect(readdirSync(join(c.layout.target, 'opaque'))).toEqual(['new']);
      }
    } finally {
      unmount(one.layout);
      unmount(two.layout);
    }
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(work);
  });

  test('the upper survives a restart and is reset when the rootfs changes', async () => {
    if (!requireRoot()) return;
    const first = prepareRootfs(root, 'one', spec());
    expect(first.upperReset).toBe(false);
    try {
      ensureMounted(first.layout);
      expect(readFileSync(join(first.layout.target, 'data/one-only'), 'utf8')).toBe('mine\n');
    } finally {
      unmount(first.layout);
    }
    // Same name, new content: the image digest changes, so the old upper no longer belongs.
    const dir = join(work, 'oci2');
    writeOciLayout(dir, { layers: [{ entries: [...busyboxEntries(), { type: 'file', path: 'v2', content: '2' }] }] });
    await importImage(root, dir, { name: 'app', tag: 'latest' });
    // ...but not while the old overlay is still mounted (a container still running)
    try {
      ensureMounted(first.layout);
      expect(() => prepareRootfs(root, 'one', spec())).toThrow(/changed rootfs but its old overlay is still mounted/);
    } finally {
      unmount(first.layout);
    }
    const second = prepareRootfs(root, 'one', spec());
    expect(second.upperReset).toBe(true);
    expect(second.digest).not.toBe(first.digest);
    expect(readdirSync(second.layout.upper)).toEqual([]);
    try {
      ensureMounted(second.layout);
      expect(existsSync(join(second.layout.target, 'data/one-only'))).toBe(false);
      expect(readFileSync(join(second.layout.target, 'v2'), 'utf8')).toBe('2');
    } finally {
      unmount(second.layout);
    }
  });

  test('readOnlyRootfs gives a root nothing can write to', () => {
    if (!requireRoot()) return;
    const ro = prepareRootfs(root, 'ro', { ...spec(), readOnlyRootfs: true });
    expect(ro.layout.readOnly).toBe(true);
    try {
      ensureMounted(ro.layout);
      const r = inside(ro, 'touch /newfile');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/Read-only file system/);
    } finally {
      unmount(ro.layout);
    }
    expect(readdirSync(ro.layout.upper)).toEqual([]);
  });

  test('removing a container deletes its upper, work and rootfs directories; twice is fine', () => {
    if (!requireRoot()) return;
    const two = layout(root).container('two');
    writeFileSync(join(two.dir, 'keep-me'), 'a file of another driver');
    removeContainerRootfs(root, 'two');
    removeContainerRootfs(root, 'two');
    expect(readdirSync(two.dir)).toEqual(['keep-me']);
    rmSync(join(two.dir, 'keep-me'));
    removeContainerRootfs(root, 'two');
    expect(existsSync(two.dir)).toBe(false);
  });

  test('removal refuses to delete through a mount', () => {
    if (!requireRoot()) return;
    const p = prepareRootfs(root, 'busy', spec());
    try {
      ensureMounted(p.layout);
      expect(() => removeContainerRootfs(root, 'busy')).toThrow(expect.objectContaining({ code: 'ROOTFS_BUSY' }) as unknown as Error);
      expect(existsSync(join(p.layout.target, 'bin/busybox'))).toBe(true);
    } finally {
      unmount(p.layout);
    }
    removeContainerRootfs(root, 'busy');
  });
});
