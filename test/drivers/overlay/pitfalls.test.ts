// Known overlayfs pitfalls, each with a clear error or a documented behaviour (pitfalls.ts):
// many layers, uppers on the wrong filesystem, upper and work apart, copy-up of large files, hard
// links broken by copy-up, and long paths.

import { lstatSync, mkdirSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ensureMounted, importImage, prepareRootfs, unmount } from '../../../src/drivers/overlay/index.js';
import { overlayFsconfigOptions, overlayMountData } from '../../../src/drivers/overlay/overlay-options.js';
import { checkOverlayPath, upperFilesystemProblem } from '../../../src/drivers/overlay/pitfalls.js';
import { diskUsage } from '../../../src/drivers/overlay/fs-util.js';
import { hasCode } from '../../../src/errors.js';
import { layout } from '../../../src/state/layout.js';
import { MS, mount, umount2 } from '../../../src/sys/mount.js';
import { FS_MAGIC } from '../../../src/sys/statfs.js';
import { writeOciLayout } from '../../support/oci.js';
import type { TarSpec } from '../../support/oci-tar.js';
import { requireRoot } from '../../support/root.js';
import { caught, cleanup, tempDir } from './helpers.js';

let work: string;
let root: string;

beforeAll(() => {
  work = tempDir('pitfalls');
  root = join(work, 'state');
});
afterAll(() => cleanup(work));


const image = (name: string) => ({ rootfs: { kind: 'image' as const, name, tag: 'latest' }, readOnlyRootfs: false });

describe('overlay pitfalls', () => {
  test('200 layers: too long for mount(2), mounted layer by layer with lowerdir+', async () => {
    if (!requireRoot()) return;
    const dir = join(work, 'many');
    const layers = Array.from({ length: 200 }, (_, i) => ({
      entries: [{ type: 'file', path: `l${i}`, content: String(i) }, { type: 'file', path: 'top', content: String(i) }] as TarSpec[],
      compression: 'none' as const,
    }));
    writeOciLayout(dir, { layers });
    await importImage(root, dir, { name: 'many', tag: 'latest' });
    const p = prepareRootfs(root, 'many', image('many'));
    expect(p.layout.lower).toHaveLength(200);
    // The single-string form cannot hold 200 layer paths in one page: refused before any syscall.
    const err = caught(() => overlayMountData(p.layout));
    expect(hasCode(err, 'OVERLAY_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toMatch(/200 layers take \d+ bytes; mount\(2\) accepts at most 4095/);
    expect(overlayFsconfigOptions(p.layout).filter(([k]) => k === 'lowerdir+')).toHaveLength(200);
    try {
      ensureMounted(p.layout, 'fsconfig');
      expect(readFileSync(join(p.layout.target, 'l0'), 'utf8')).toBe('0');
      expect(readFileSync(join(p.layout.target, 'l199'), 'utf8')).toBe('199');
      // the last layer of the manifest is the top one
      expect(readFileSync(join(p.layout.target, 'top'), 'utf8')).toBe('199');
    } finally {
      unmount(p.layout);
    }
  });

  test('an upper on overlayfs is refused', () => {
    if (!requireRoot()) return;
    const base = join(work, 'nested');
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(base, d), { recursive: true });
    mount({ source: 'overlay', target: join(base, 'merged'), fstype: 'overlay', data: `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work` });
    try {
      const nestedRoot = join(base, 'merged', 'state');
      const err = caught(() => prepareRootfs(nestedRoot, 'c', { rootfs: { kind: 'path', path: join(base, 'lower') }, readOnlyRootfs: false }));
      expect(hasCode(err, 'OVERLAY_UNSUPPORTED')).toBe(true);
      expect((err as Error).message).toMatch(/upper directory `.*merged\/state\/containers\/c\/upper` is on overlayfs/);
    } finally {
      umount2(join(base, 'merged'));
    }
  });

  test('NFS and SMB cannot hold an upper; local filesystems can', () => {
    expect(upperFilesystemProblem(FS_MAGIC.NFS)).toMatch(/NFS has no trusted xattrs/);
    expect(upperFilesystemProblem(0xff534d42)).toMatch(/CIFS/);
    for (const ok of [FS_MAGIC.EXT4, FS_MAGIC.XFS, FS_MAGIC.BTRFS, FS_MAGIC.TMPFS]) expect(upperFilesystemProblem(ok)).toBeNull();
  });

  test('upper and work on different filesystems are refused', () => {
    if (!requireRoot()) return;
    const lower = join(work, 'plain-lower');
    mkdirSync(lower, { recursive: true });
    const p = prepareRootfs(root, 'split', { rootfs: { kind: 'path', path: lower }, readOnlyRootfs: false });
    mount({ source: 'corral-test', target: p.layout.work, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'size=1m' });
    try {
      const err = caught(() => prepareRootfs(root, 'split', { rootfs: { kind: 'path', path: lower }, readOnlyRootfs: false }));
      expect(hasCode(err, 'OVERLAY_UNSUPPORTED')).toBe(true);
      expect((err as Error).message).toMatch(/upper `.*split\/upper` and work `.*split\/work` are on different filesystems/);
    } finally {
      umount2(p.layout.work);
    }
  });

  test('paths longer than fsconfig accepts are refused with a hint', () => {
    const err = caught(() => checkOverlayPath(`/${'x'.repeat(300)}`, 'upper directory'));
    expect(hasCode(err, 'OVERLAY_UNSUPPORTED')).toBe(true);
    expect((err as { hint?: string }).hint).toMatch(/shorter state root/);
  });

  test('documented: copy-up copies a whole large file on its first write', async () => {
    if (!requireRoot()) return;
    const dir = join(work, 'big');
    writeOciLayout(dir, { layers: [{ entries: [{ type: 'file', path: 'big', content: Buffer.alloc(8 << 20, 1) }] }] });
    await importImage(root, dir, { name: 'big', tag: 'latest' });
    const p = prepareRootfs(root, 'big', image('big'));
    try {
      ensureMounted(p.layout);
      expect(diskUsage(p.layout.upper)).toBeLessThan(64 << 10);
      appendFileSync(join(p.layout.target, 'big'), 'x');
      expect(statSync(join(p.layout.upper, 'big')).size).toBe((8 << 20) + 1);
      expect(diskUsage(p.layout.upper)).toBeGreaterThanOrEqual(8 << 20);
    } finally {
      unmount(p.layout);
    }
  });

  test('documented: copy-up breaks hard links between lower files', async () => {
    if (!requireRoot()) return;
    const dir = join(work, 'links');
    writeOciLayout(dir, { layers: [{ entries: [{ type: 'file', path: 'a', content: 'same' }, { type: 'hardlink', path: 'b', target: 'a' }] }] });
    const imported = await importImage(root, dir, { name: 'links', tag: 'latest' });
    expect(lstatSync(join(layout(root).layer(imported.image.layers[0]!.digest), 'b')).nlink).toBe(2);
    const p = prepareRootfs(root, 'links', image('links'));
    try {
      ensureMounted(p.layout);
      writeFileSync(join(p.layout.target, 'a'), 'changed');
      expect(readFileSync(join(p.layout.target, 'a'), 'utf8')).toBe('changed');
      expect(readFileSync(join(p.layout.target, 'b'), 'utf8')).toBe('same');
    } finally {
      unmount(p.layout);
    }
  });
});
