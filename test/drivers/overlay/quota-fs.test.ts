// Writable-layer limits on real filesystems that need no quota support in the kernel: project ids
// on a loop-mounted XFS (tagging a tree, inheritance, special files), what the probe says about
// XFS without quotas, plain ext4 and tmpfs, and the refusal at plan time and at start.

import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { overlayRootfsPort } from '../../../src/drivers/overlay/index.js';
import { mountsAtOrBelow } from '../../../src/drivers/overlay/mountinfo.js';
import { probeQuotaSupport } from '../../../src/drivers/overlay/quota/probe.js';
import { quotaPaths } from '../../../src/drivers/overlay/quota/project-ids.js';
import { isTagged, RETAG_PREFIX, tagTree } from '../../../src/drivers/overlay/quota/tag-tree.js';
import { hasCode } from '../../../src/errors.js';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { layout } from '../../../src/state/layout.js';
import { FS_XFLAG_PROJINHERIT, readFsxattr } from '../../../src/sys/fsxattr.js';
import { mkfifo, mknodWhiteout } from '../../../src/sys/mknod.js';
import { lgetxattr, lsetxattr } from '../../../src/sys/xattr.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../../support/host-sandbox.js';
import { requireRoot } from '../../support/root.js';
import { caught, cleanup, tempDir } from './helpers.js';
import { leftovers, makeLoopFs, removeLoopFilesystems, type LoopFs } from './loop-fs.js';

const NO_ABORT = new AbortController().signal;

const root = requireRoot();
const maybe = root ? describe : describe.skip;

let xfs: LoopFs;
let plain: LoopFs;
let tmpfsDir: string;
const made: LoopFs[] = [];
const sandboxes: Sandbox[] = [];

beforeAll(() => {
  if (!root) return;
  xfs = makeLoopFs('xfs', 'tag');
  plain = makeLoopFs('ext4', 'plain');
  made.push(xfs, plain);
  tmpfsDir = tempDir('quota-tmpfs');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', tmpfsDir]);
  if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
});

afterAll(async () => {
  if (!root) return;
  for (const sb of sandboxes) await sb.cleanup();
  removeLoopFilesystems();
  cleanup(tmpfsDir);
  expect(leftovers(made)).toEqual([]);
  expect(mountsAtOrBelow(tmpfsDir)).toEqual([]);
});

function spec(name: string, sizeBytes: number | null): ContainerSpec {
  return { name, rootfs: { kind: 'host' }, readOnlyRootfs: false, mounts: [], process: { user: { uid: 0, gid: 0, groups: [] }, userLookup: null }, storage: { sizeBytes } } as unknown as ContainerSpec;
}

/** rename(2) into `dir` works only for an inode carrying the project id `dir` hands down. */
function renameWorks(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false;
    throw err;
  }
}

maybe('project ids on a real XFS', () => {
  const ID = 1_234_567;

  test('a tree: directories hand the id down, files and special files get it, attributes kept', () => {
    const top = join(xfs.mountPoint, 'upper');
    mkdirSync(join(top, 'a/b/c'), { recursive: true });
    writeFileSync(join(top, 'a/f'), 'x'.repeat(10_000));
    linkSync(join(top, 'a/f'), join(top, 'a/b/hard'));
    symlinkSync('../f', join(top, 'a/b/link'));
    mkfifo(join(top, 'a/fifo'), 0o640);
    mknodWhiteout(join(top, 'a/b/c/gone'));
    lsetxattr(join(top, 'a/fifo'), 'trusted.corral-test', 'kept');
    utimesSync(join(top, 'a/fifo'), 1_000_000, 1_000_000);
    // what a walk killed between re-creating and renaming leaves
    symlinkSync('x', join(top, 'a', `${RETAG_PREFIX}99`));
    const before = lstatSync(join(top, 'a/fifo'));

    expect(isTagged(top, ID)).toBe(false);
    const stats = tagTree(top, ID);
    expect(stats).toMatchObject({ directories: 4, files: 1 });
    expect(stats.special + stats.recreated).toBe(3);
    expect(isTagged(top, ID)).toBe(true);
    for (const d of ['', 'a', 'a/b', 'a/b/c']) expect(readFsxattr(join(top, d))).toEqual({ projid: ID, xflags: expect.any(Number) });
    for (const d of ['', 'a', 'a/b', 'a/b/c']) expect(readFsxattr(join(top, d))!.xflags & FS_XFLAG_PROJINHERIT).toBe(FS_XFLAG_PROJINHERIT);
    expect(readFsxattr(join(top, 'a/b/hard'), 'file')!.projid).toBe(ID);
    expect(existsSync(join(top, 'a', `${RETAG_PREFIX}99`))).toBe(false);

    // the special files keep what they were, whether tagged in place or re-created
    const after = lstatSync(join(top, 'a/fifo'));
    expect([after.mode, after.uid, after.gid, after.mtimeMs]).toEqual([before.mode, before.uid, before.gid, before.mtimeMs]);
    expect(lgetxattr(join(top, 'a/fifo'), 'trusted.corral-test')?.toString()).toBe('kept');
    expect(readlinkSync(join(top, 'a/b/link'))).toBe('../f');
    expect(lstatSync(join(top, 'a/b/c/gone')).isCharacterDevice()).toBe(true);

    // new entries inherit; every old one moves freely inside the tree (no EXDEV), an outsider does not
    writeFileSync(join(top, 'a/b/c/new'), 'n');
    expect(readFsxattr(join(top, 'a/b/c/new'), 'file')!.projid).toBe(ID);
    for (const p of ['a/b/link', 'a/fifo', 'a/b/c/gone', 'a/f']) expect(renameWorks(join(top, p), join(top, 'a/b/c', `moved-${p.replace(/\//g, '-')}`))).toBe(true);
    symlinkSync('/elsewhere', join(xfs.mountPoint, 'outsider'));
    expect(renameWorks(join(xfs.mountPoint, 'outsider'), join(top, 'outsider'))).toBe(false);

    // idempotent: a second walk changes nothing it can read back
    const again = tagTree(top, ID);
    expect(again.directories + again.files).toBe(0);
  });
});

maybe('filesystems without project quotas', () => {
  test('the probe names the filesystem and what is missing', () => {
    const x = probeQuotaSupport(join(xfs.mountPoint, 'state'));
    expect(x.quota).toBeNull();
    expect(x.support).toMatchObject({ available: false, fs: { type: 'xfs', source: xfs.device, mountPoint: xfs.mountPoint } });
    // this kernel may lack XFS quotas altogether; a stock one reports the mount option
    expect(!x.support.available && x.support.reason).toMatch(/^(this kernel has no XFS quota support|XFS is mounted without project quotas)/);

    const e = probeQuotaSupport(join(plain.mountPoint, 'state'));
    expect(e.support).toMatchObject({ available: false, fs: { type: 'ext4', source: plain.device, path: plain.mountPoint } });
    expect(!e.support.available && `${e.support.reason} | ${e.support.hint}`).toMatch(/^ext4 without the `project` feature keeps no project ids \| unmount it and run `tune2fs -O project,quota`/);

    const t = probeQuotaSupport(join(tmpfsDir, 'state'));
    expect(t.support).toMatchObject({ available: false, reason: 'tmpfs has no project quotas corral can use', fs: { type: 'tmpfs', mountPoint: tmpfsDir } });
  });

  test('the rootfs port refuses a size at plan time and at start, and costs nothing without one', async () => {
    const stateRoot = join(plain.mountPoint, 'port');
    const port = overlayRootfsPort(stateRoot);
    const [d, ...rest] = await port.check(spec('web', 8 << 20));
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ severity: 'error', code: 'STORAGE_QUOTA_UNAVAILABLE', container: 'web', field: 'spec.storage.size' });
    expect(d!.summary).toBe(`storage size cannot be enforced: \`${plain.mountPoint}\` is on ext4 \`${plain.device}\` at \`${plain.mountPoint}\` (rw), without project quotas`);
    expect(d!.detail).toBe('ext4 without the `project` feature keeps no project ids');
    expect(d!.hint).toMatch(/tune2fs -O project,quota/);
    expect(await port.check(spec('web', null))).toEqual([]);

    const refused = await port.prepare('web', spec('web', 8 << 20), NO_ABORT).catch((e: unknown) => e);
    expect(hasCode(refused, 'STORAGE_QUOTA_UNAVAILABLE')).toBe(true);
    expect(caught(() => { throw refused; })).toMatchObject({ container: 'web', field: 'spec.storage.size' });

    const prepared = await port.prepare('plain', spec('plain', null), NO_ABORT);
    expect(readFsxattr(prepared.layout.upper)!.projid).toBe(0);
    expect(existsSync(quotaPaths(stateRoot).dir)).toBe(false);
    await port.remove('plain', NO_ABORT);
    await port.remove('web', NO_ABORT);
    expect(existsSync(layout(stateRoot).container('plain').dir)).toBe(false);
  });

  test('`corral plan` refuses the field on plain ext4 and tmpfs roots; `corral info` says why', () => {
    for (const [label, dir, type] of [['ext4', plain.mountPoint, 'ext4'], ['tmpfs', tmpfsDir, 'tmpfs']] as const) {
      const sb = sandbox(`quota-plan-${label}`, { root: join(dir, 'cli') });
      sandboxes.push(sb);
      sb.write('big.yaml', sleeper('big', 'storage: {size: 8Mi}'));
      sb.write('small.yaml', sleeper('small'));
      const plan = sb.run('plan');
      expect(plan.code).toBe(1);
      const text = `${plan.stdout}${plan.stderr}`;
      expect(text).toMatch(new RegExp(`error STORAGE_QUOTA_UNAVAILABLE storage size cannot be enforced: \`[^\`]+\` is on ${type} `));
      expect(text).toMatch(/field: spec\.storage\.size/);
      expect(text).toMatch(/hint: /);
      const applied = sb.run('reconcile', '--once');
      expect(applied.code).toBe(1);
      expect(psJson(sb).map((c) => c.name)).not.toContain('big');
      const info = sb.run('info');
      expect(info.stdout).toMatch(new RegExp(`storage +writable-layer size limits: no: .*is on ${type} `));
      const json = JSON.parse(sb.run('info', '-o', 'json').stdout) as { storage: { available: boolean; fs: { type: string } } };
      expect(json.storage).toMatchObject({ available: false, fs: { type } });
    }
  });
});
