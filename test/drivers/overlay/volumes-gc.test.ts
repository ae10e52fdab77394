// Named volumes, bind-source validation, rootfs paths, and garbage collection.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  applyVolumeAccess, checkBindSources, collectGarbage, directoriesInUse, ensureMounted, ensureVolume, importImage, listImages, listVolumes,
  prepareRootfs, removeImage, removeVolume, unmount,
} from '../../../src/drivers/overlay/index.js';
import { hasCode } from '../../../src/errors.js';
import type { MountSpec } from '../../../src/manifest/spec.js';
import { layout } from '../../../src/state/layout.js';
import { busyboxEntries, writeOciLayout } from '../../support/oci.js';
import { requireRoot } from '../../support/root.js';
import { caught, cleanup, tempDir, tree } from './helpers.js';

let work: string;
let root: string;

beforeAll(() => {
  work = tempDir('volgc');
  root = join(work, 'state');
});
afterAll(() => cleanup(work));


const bind = (source: string): MountSpec => ({ type: 'bind', source, target: '/x', readOnly: true, propagation: 'rprivate', recursive: true, options: [], idmap: null });

describe('volumes', () => {
  test('a new volume belongs to the container user it is made for; an existing one is never chowned; a killed create leaves nothing', () => {
    if (!requireRoot()) return;
    // A create killed between mkdir and rename (pid 2^22+1 is above pid_max's default: never alive).
    const dead = `${layout(root).volume('mine')}.new-4194305`;
    mkdirSync(dead, { recursive: true });
    const path = ensureVolume(root, 'mine', { uid: 70, gid: 71 });
    const st = statSync(path);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([70, 71, 0o755]);
    expect(readdirSync(join(layout(root).volumesDir, 'mine'))).toEqual(['data']);
    expect(statSync(ensureVolume(root, 'mine', { uid: 80, gid: 80 })).uid).toBe(70);
    removeVolume(root, 'mine', () => []);
  });

  test('created on first use, kept, listed, removed only when unused', () => {
    if (!requireRoot()) return;
    const path = ensureVolume(root, 'cache');
    expect(path).toBe(layout(root).volume('cache'));
    writeFileSync(join(path, 'entry'), 'kept');
    expect(ensureVolume(root, 'cache')).toBe(path);
    expect(existsSync(join(path, 'entry'))).toBe(true);
    expect(listVolumes(root, { usage: true }).map((v) => [v.name, v.bytes! > 0])).toEqual([['cache', true]]);
    expect(hasCode(caught(() => removeVolume(root, 'cache', () => ['cache-worker'])), 'VOLUME_IN_USE')).toBe(true);
    expect(hasCode(caught(() => ensureVolume(root, '../etc')), 'VOLUME_INVALID')).toBe(true);
    expect(hasCode(caught(() => removeVolume(root, 'nope')), 'VOLUME_NOT_FOUND')).toBe(true);
    removeVolume(root, 'cache', () => []);
    expect(listVolumes(root)).toEqual([]);
  });

  test('a volume mounted in another mount namespace is in use, whatever the callback says', async () => {
    if (!requireRoot()) return;
    const path = ensureVolume(root, 'held');
    const target = join(work, 'held-target');
    mkdirSync(target);
    // A child in its own mount namespace binds the volume, as the shim would, and waits.
    const child: ChildProcess = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind ${path} ${target} && echo ready && exec sleep 30`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`helper exited ${code}`)));
      });
      const err = caught(() => removeVolume(root, 'held', () => []));
      expect(hasCode(err, 'VOLUME_IN_USE')).toBe(true);
      expect((err as { detail?: string }).detail).toContain(target);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    removeVolume(root, 'held', () => []);
  });
});

describe('volume owner and mode', () => {
  test('set on the data directory at every start, changed back after a change in the container, left alone when not asked', () => {
    if (!requireRoot()) return;
    const path = ensureVolume(root, 'owned');
    expect(statSync(path)).toMatchObject({ uid: 0, gid: 0 });
    expect(statSync(path).mode & 0o7777).toBe(0o755);
    applyVolumeAccess(path, 'owned', { owner: null, mode: null });
    expect(statSync(path)).toMatchObject({ uid: 0, gid: 0 });
    applyVolumeAccess(path, 'owned', { owner: { uid: 1000, gid: 1001 }, mode: 0o2770 });
    expect(statSync(path)).toMatchObject({ uid: 1000, gid: 1001 });
    expect(statSync(path).mode & 0o7777).toBe(0o2770);
    // Owner only: the mode stays what it is.
    applyVolumeAccess(path, 'owned', { owner: { uid: 7, gid: 7 }, mode: null });
    expect(statSync(path)).toMatchObject({ uid: 7, gid: 7 });
    expect(statSync(path).mode & 0o7777).toBe(0o2770);
    // Mode only.
    applyVolumeAccess(path, 'owned', { owner: null, mode: 0o700 });
    expect(statSync(path)).toMatchObject({ uid: 7, gid: 7 });
    expect(statSync(path).mode & 0o7777).toBe(0o700);
    // Idempotent.
    applyVolumeAccess(path, 'owned', { owner: { uid: 7, gid: 7 }, mode: 0o700 });
    expect(statSync(path).mode & 0o7777).toBe(0o700);
    removeVolume(root, 'owned', () => []);
  });

  test('a symlink in place of the data directory is refused, never followed', () => {
    if (!requireRoot()) return;
    const path = ensureVolume(root, 'linked');
    const victim = join(work, 'victim');
    mkdirSync(victim, { mode: 0o755 });
    rmdirSync(path);
    symlinkSync(victim, path);
    const err = caught(() => applyVolumeAccess(path, 'linked', { owner: { uid: 1000, gid: 1000 }, mode: 0o777 }));
    expect(hasCode(err, 'VOLUME_INVALID')).toBe(true);
    expect(statSync(victim)).toMatchObject({ uid: 0, gid: 0 });
    expect(statSync(victim).mode & 0o7777).toBe(0o755);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    // A file in its place: the same.
    renameSync(path, `${path}.link`);
    writeFileSync(path, '');
    expect(hasCode(caught(() => applyVolumeAccess(path, 'linked', { owner: { uid: 1000, gid: 1000 }, mode: null })), 'VOLUME_INVALID')).toBe(true);
    expect(statSync(path)).toMatchObject({ uid: 0, gid: 0 });
    removeVolume(root, 'linked', () => []);
  });
});

describe('host paths handed to containers', () => {
  test('bind sources must exist and stay clear of the state root', () => {
    if (!requireRoot()) return;
    mkdirSync(join(root, 'volumes'), { recursive: true });
    const sneaky = join(work, 'sneaky');
    symlinkSync(join(root, 'volumes'), sneaky);
    const diags = checkBindSources(root, { name: 'c', mounts: [bind('/etc'), bind(join(work, 'missing')), bind(join(root, 'volumes')), bind(sneaky), bind(work), bind('/')] });
    expect(diags.map((d) => [d.code, d.field])).toEqual([
      ['MOUNT_SOURCE_MISSING', 'spec.mounts[1].source'],
      ['MANIFEST_PATH_TRICK', 'spec.mounts[2].source'],
      ['MANIFEST_PATH_TRICK', 'spec.mounts[3].source'],
      ['MANIFEST_PATH_TRICK', 'spec.mounts[4].source'],
      ['MANIFEST_PATH_TRICK', 'spec.mounts[5].source'],
    ]);
    expect(diags[2]!.summary).toMatch(/lies inside corral's state root/);
    expect(diags[2]!.detail).toMatch(/resolves to/);
    expect(diags[3]!.summary).toMatch(/contains corral's state root/);
  });

  test('rootfs.path: missing, inside the state root, or a working lower layer', () => {
    if (!requireRoot()) return;
    const missing = caught(() => prepareRootfs(root, 'p', { rootfs: { kind: 'path', path: join(work, 'nope') }, readOnlyRootfs: false }));
    expect(hasCode(missing, 'ROOTFS_PATH_MISSING')).toBe(true);
    const tricky = caught(() => prepareRootfs(root, 'p', { rootfs: { kind: 'path', path: join(root, 'volumes') }, readOnlyRootfs: false }));
    expect(hasCode(tricky, 'MANIFEST_PATH_TRICK')).toBe(true);
    const dir = join(work, 'rootdir');
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc/hello'), 'hi');
    const p = prepareRootfs(root, 'p', { rootfs: { kind: 'path', path: dir }, readOnlyRootfs: false });
    expect(p.layout.lower).toEqual([dir]);
    expect(p.digest).toBeNull();
    try {
      ensureMounted(p.layout);
      writeFileSync(join(p.layout.target, 'etc/new'), 'x');
      expect(existsSync(join(dir, 'etc/new'))).toBe(false);
    } finally {
      unmount(p.layout);
    }
  });
});

describe('garbage collection', () => {
  test('removes what nothing references, keeps what is live, in use, or mounted', async () => {
    if (!requireRoot()) return;
    const oci = join(work, 'gc-oci');
    writeOciLayout(oci, { layers: [{ entries: busyboxEntries() }, { entries: [{ type: 'file', path: 'v', content: '1' }] }] });
    await importImage(root, oci, { name: 'gcimg', tag: 'v1' });
    const keepLive = prepareRootfs(root, 'live', { rootfs: { kind: 'image', name: 'gcimg', tag: 'v1' }, readOnlyRootfs: false });
    const dead = prepareRootfs(root, 'dead', { rootfs: { kind: 'image', name: 'gcimg', tag: 'v1' }, readOnlyRootfs: false });
    writeFileSync(join(dead.layout.upper, 'junk'), 'x'.repeat(10000));
    const mounted = prepareRootfs(root, 'mounted', { rootfs: { kind: 'image', name: 'gcimg', tag: 'v1' }, readOnlyRootfs: false });
    // a crashed import's staging directory, and one of a live process
    const l = layout(root);
    mkdirSync(join(l.tmpDir, 'import-999999999-dead'), { recursive: true });
    mkdirSync(join(l.tmpDir, `import-${process.pid}-mine`), { recursive: true });
    const old = join(l.tmpDir, 'something-old');
    mkdirSync(old);
    utimesSync(old, new Date(0), new Date(0));

    // The image record goes; its layers stay while `live` still has them in its rootfs record.
    await removeImage(root, { name: 'gcimg', tag: 'v1' }, () => []);
    expect(listImages(root)).toEqual([]);
    expect(readdirSync(l.layersDir)).toHaveLength(2);

    try {
      ensureMounted(mounted.layout);
      expect(directoriesInUse([mounted.layout.upper, keepLive.layout.lower[0]!]).size).toBe(2);
      const dry = await collectGarbage(root, { liveContainers: ['live'], dryRun: true });
      expect(dry.containers).toEqual(['dead', 'p']);
      expect(existsSync(dead.layout.upper)).toBe(true);

      const report = await collectGarbage(root, { liveContainers: ['live'] });
      expect(report.containers).toEqual(['dead', 'p']);
      expect(report.kept.join('\n')).toMatch(/container `mounted`: its overlay is still mounted/);
      expect([...report.tmp].sort()).toEqual(['import-999999999-dead', 'something-old']);
      expect(report.bytesFreed).toBeGreaterThan(10000);
      expect(report.layers).toEqual([]);
      expect(existsSync(l.container('dead').dir)).toBe(false);
      expect(existsSync(keepLive.layout.upper)).toBe(true);
      expect(readdirSync(l.tmpDir)).toEqual([`import-${process.pid}-mine`]);
    } finally {
      unmount(mounted.layout);
    }

    // Once no container references them, the layers go too.
    const report = await collectGarbage(root, { liveContainers: [] });
    expect([...report.containers].sort()).toEqual(['live', 'mounted']);
    expect(report.layers).toHaveLength(2);
    expect(tree(l.layersDir)).toEqual([]);
    expect(tree(l.containersDir)).toEqual([]);
  });

  test('layers stay while the store lock is held by an import', async () => {
    if (!requireRoot()) return;
    const { withStoreLock } = await import('../../../src/drivers/overlay/images/store-lock.js');
    let report: Awaited<ReturnType<typeof collectGarbage>> | undefined;
    // flock locks belong to open file descriptions: a second open in this process contends too.
    await withStoreLock(root, async () => {
      report = await collectGarbage(root, { liveContainers: [] });
    });
    expect(report!.kept.join('\n')).toMatch(/image store is locked/);
  });
});
