// Writable-layer limits without a kernel: what each filesystem answer means, and how project ids
// are chosen and released.

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { cleanup, tempDir } from './helpers.js';
import { deviceNumber, mountOf } from '../../../src/drivers/overlay/quota/probe.js';
import {
  chooseProjectId, EMPTY_TABLE, FIRST_PROJECT_ID, MAX_RELEASED, parseProjectTable, quotaPaths, readProjectTable, releaseProject,
  updateProjectTable, type ProjectTable,
} from '../../../src/drivers/overlay/quota/project-ids.js';
import { describeFilesystem, judgeQuotaSupport, summarizeSupport, type FilesystemFacts, type QuotaFacts } from '../../../src/drivers/overlay/quota/support.js';
import { parseMountinfo } from '../../../src/drivers/overlay/mountinfo.js';
import type { ProjectQuota } from '../../../src/drivers/overlay/quota/backend.js';
import { storageDiagnostics } from '../../../src/drivers/overlay/quota/storage-limit.js';

const fs = (type: string, options: string): FilesystemFacts => ({ path: '/srv/corral/containers', type, mountPoint: '/srv', source: '/dev/sdb1', options });
const ok = <T>(value: T) => ({ ok: true as const, value });
const err = (errno: string) => ({ ok: false as const, errno });

function judge(facts: QuotaFacts): string {
  const s = judgeQuotaSupport(facts);
  return s.available ? `yes ${s.kind}` : `no: ${s.reason} | ${s.hint}`;
}

describe('quota support', () => {
  test('XFS: enforced only with project quota accounted and enforced', () => {
    const xfs = fs('xfs', 'rw,attr2,inode64,prjquota');
    expect(judge({ fs: xfs, stateFlags: ok(0x30) })).toBe('yes xfs');
    expect(judge({ fs: xfs, stateFlags: ok(0x3) })).toMatch(/^no: XFS is mounted without project quotas \| mount it with `prjquota`.*rootflags=prjquota/);
    expect(judge({ fs: xfs, stateFlags: ok(0x10) })).toMatch(/^no: XFS accounts project quotas but does not enforce them \(mounted with `pqnoenforce`\)/);
    expect(judge({ fs: xfs, stateFlags: err('ENOSYS') })).toMatch(/^no: this kernel has no XFS quota support \(built without CONFIG_XFS_QUOTA\)/);
    expect(judge({ fs: xfs, stateFlags: err('EPERM') })).toMatch(/^no: the kernel did not report the quota state: quotactl Q_XGETQSTATV failed with EPERM/);
  });

  test('ext4: the project feature, project quota on, and limits enforced', () => {
    const e = (options: string) => fs('ext4', options);
    expect(judge({ fs: e('rw,prjquota'), ext4Features: { project: true, quota: true }, projectFormat: ok(4), stateFlags: ok(0x30) })).toBe('yes ext4');
    // No Q_XGETQSTATV answer: the mount option decides.
    expect(judge({ fs: e('rw,prjquota'), ext4Features: null, projectFormat: ok(4), stateFlags: err('ENOSYS') })).toBe('yes ext4');
    expect(judge({ fs: e('rw'), ext4Features: null, projectFormat: ok(4), stateFlags: err('ENOSYS') })).toMatch(/^no: ext4 tracks project usage but does not enforce limits \(mounted without `prjquota`\) \| mount it with `prjquota`$/);
    expect(judge({ fs: e('rw'), ext4Features: { project: true, quota: true }, projectFormat: ok(4), stateFlags: ok(0x10) })).toMatch(/^no: ext4 tracks project usage but does not enforce/);
    expect(judge({ fs: e('rw'), ext4Features: { project: false, quota: true }, projectFormat: err('ESRCH') })).toMatch(/^no: ext4 without the `project` feature keeps no project ids \| unmount it and run `tune2fs -O project,quota`/);
    expect(judge({ fs: e('rw'), ext4Features: { project: true, quota: false }, projectFormat: err('ESRCH') })).toMatch(/^no: ext4 has the `project` feature but no `quota` feature/);
    expect(judge({ fs: e('rw'), ext4Features: { project: true, quota: true }, projectFormat: err('ESRCH') })).toBe('no: project quota is off on this ext4 | mount it with `prjquota`');
    expect(judge({ fs: e('rw'), ext4Features: null, projectFormat: err('ESRCH') })).toMatch(/^no: project quota is off on this ext4 \| unmount it .*quotaon -P/);
    expect(judge({ fs: e('rw'), ext4Features: null, projectFormat: err('ENOSYS') })).toMatch(/^no: this kernel has no quota support \(built without CONFIG_QUOTA\)/);
  });

  test('other filesystems, and how a message names the filesystem', () => {
    const tmp: FilesystemFacts = { path: '/run/corral', type: 'tmpfs', mountPoint: '/run', source: 'tmpfs', options: 'rw,nosuid,size=100m' };
    const s = judgeQuotaSupport({ fs: tmp });
    expect(s.available).toBe(false);
    expect(summarizeSupport(s)).toBe('tmpfs has no project quotas corral can use: `/run/corral` is on tmpfs `tmpfs` at `/run` (rw,nosuid,size=100m)');
    expect(judge({ fs: fs('btrfs', 'rw') })).toMatch(/^no: btrfs has no project quotas corral can use \| put the state root on XFS mounted with `prjquota`, or on ext4/);
    expect(describeFilesystem({ path: '/x', type: '0x1234', mountPoint: null, source: null, options: null })).toBe('0x1234');
    const xfs = judgeQuotaSupport({ fs: fs('xfs', 'rw,prjquota'), stateFlags: ok(0x30) });
    expect(summarizeSupport(xfs)).toBe('XFS project quota on xfs `/dev/sdb1` at `/srv` (rw,prjquota)');
  });

  test('the mount of a path: same device, longest mount point', () => {
    const entries = parseMountinfo([
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
      '40 27 7:3 / /srv rw,relatime - xfs /dev/loop3 rw,prjquota',
      '41 40 7:3 /sub /srv/a/b rw,relatime - xfs /dev/loop3 rw,prjquota',
      '42 27 0:50 / /srv/tmp rw - tmpfs tmpfs rw',
    ].join('\n'));
    expect(mountOf('/srv/a/b/c', '7:3', entries)?.mountPoint).toBe('/srv/a/b');
    expect(mountOf('/srv/ab', '7:3', entries)?.mountPoint).toBe('/srv');
    expect(mountOf('/etc', '254:0', entries)?.mountPoint).toBe('/');
    expect(mountOf('/srv/x', '9:9', entries)).toBeNull();
    expect(entries[1]).toMatchObject({ device: '7:3', mountOptions: 'rw,relatime', superOptions: 'rw,prjquota' });
    // major 259 and minor 300 need the split encoding
    expect(deviceNumber((259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n))).toBe('259:300');
    expect(deviceNumber(0x0703n)).toBe('7:3');
  });
});

describe('project ids', () => {
  const free = (): boolean => false;

  test('one id per name, stable while held, and back after a release', () => {
    const a = chooseProjectId(EMPTY_TABLE, 'a', free);
    expect(a.id).toBe(FIRST_PROJECT_ID);
    const b = chooseProjectId(a.table, 'b', free);
    expect(b.id).toBe(FIRST_PROJECT_ID + 1);
    expect(chooseProjectId(b.table, 'a', free)).toEqual({ id: a.id, table: b.table });
    const released = releaseProject(b.table, 'a');
    expect(released.active).toEqual([{ name: 'b', id: b.id }]);
    expect(released.released).toEqual([{ name: 'a', id: a.id }]);
    expect(releaseProject(released, 'a')).toBe(released);
    // a new name does not take a remembered id; the old name gets its own back
    const c = chooseProjectId(released, 'c', free);
    expect(c.id).toBe(FIRST_PROJECT_ID + 2);
    const again = chooseProjectId(c.table, 'a', free);
    expect(again.id).toBe(a.id);
    expect(again.table.released).toEqual([]);
  });

  test('ids the filesystem shows in use are skipped, also a remembered one', () => {
    const busy = new Set([FIRST_PROJECT_ID, FIRST_PROJECT_ID + 1]);
    const a = chooseProjectId(EMPTY_TABLE, 'a', (id) => busy.has(id));
    expect(a.id).toBe(FIRST_PROJECT_ID + 2);
    const released = releaseProject(a.table, 'a');
    busy.add(a.id);
    const back = chooseProjectId(released, 'a', (id) => busy.has(id));
    expect(back.id).toBe(FIRST_PROJECT_ID + 3);
    expect(back.table.released).toEqual([]);
  });

  test('no id held twice, across any order of allocations and releases', () => {
    let table: ProjectTable = EMPTY_TABLE;
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 2000; step++) {
      const name = `c${rand(40)}`;
      table = rand(3) === 0 ? releaseProject(table, name) : chooseProjectId(table, name, free).table;
      const ids = table.active.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(table.active.map((e) => e.name)).size).toBe(ids.length);
    }
  });

  test('released ids are remembered up to a bound', () => {
    let table: ProjectTable = EMPTY_TABLE;
    for (let i = 0; i < MAX_RELEASED + 5; i++) table = releaseProject(chooseProjectId(table, `n${i}`, free).table, `n${i}`);
    expect(table.released).toHaveLength(MAX_RELEASED);
    expect(table.released[0]!.name).toBe('n5');
  });

  test('the table on disk: written under its lock, stale temp files removed, a corrupt one set aside', async () => {
    const root = tempDir('quota-table');
    try {
      const id = await updateProjectTable(root, (t) => {
        const c = chooseProjectId(t, 'web', () => false);
        return { table: c.table, result: c.id };
      });
      expect(readProjectTable(root).active).toEqual([{ name: 'web', id }]);
      const { dir, table } = quotaPaths(root);
      writeFileSync(join(dir, '.projects.json.tmp-2147483646-dead'), 'half');
      await updateProjectTable(root, (t) => ({ table: releaseProject(t, 'web'), result: undefined }));
      expect(readdirSync(dir).sort()).toEqual(['projects.json', 'projects.lock']);
      expect(readProjectTable(root).released).toEqual([{ name: 'web', id }]);
      writeFileSync(table, '{"formatVersion": 1, "active": [');
      expect(readProjectTable(root)).toEqual(EMPTY_TABLE);
      expect(readdirSync(dir).filter((f) => f.startsWith('projects.json.corrupt-'))).toHaveLength(1);
    } finally {
      cleanup(root);
    }
  });

  test('a table on disk is checked entry by entry', () => {
    expect(parseProjectTable({ formatVersion: 1, active: [{ name: 'a', id: FIRST_PROJECT_ID }], released: [] })).not.toBeNull();
    expect(parseProjectTable({ formatVersion: 2, active: [], released: [] })).toBeNull();
    expect(parseProjectTable({ formatVersion: 1, active: [{ name: 'a', id: 5 }], released: [] })).toBeNull();
    expect(parseProjectTable({ formatVersion: 1, active: 'x', released: [] })).toBeNull();
    expect(parseProjectTable('garbage')).toBeNull();
  });
});

describe('plan-time diagnostics', () => {
  const fakeQuota = {} as ProjectQuota;
  const probeOf = (facts: QuotaFacts) => () => {
    const support = judgeQuotaSupport(facts);
    return { support, quota: support.available ? fakeQuota : null };
  };
  const xfs = probeOf({ fs: fs('xfs', 'rw,prjquota'), stateFlags: ok(0x30) });
  const ext4 = probeOf({ fs: fs('ext4', 'rw,prjquota'), ext4Features: { project: true, quota: true }, projectFormat: ok(4), stateFlags: ok(0x30) });
  const tmpfs = probeOf({ fs: fs('tmpfs', 'rw') });
  const req = (sizeBytes: number | null, sysResource = false) => ({ container: 'web', sizeBytes, sysResource: () => sysResource });

  test('an error where a size cannot be enforced, nothing without a size, a warning for CAP_SYS_RESOURCE on ext4', () => {
    let probed = 0;
    expect(storageDiagnostics(req(null), () => { probed++; return tmpfs(); })).toEqual([]);
    expect(probed).toBe(0);
    expect(storageDiagnostics(req(8 << 20), tmpfs)).toEqual([{
      severity: 'error', code: 'STORAGE_QUOTA_UNAVAILABLE', container: 'web', field: 'spec.storage.size',
      summary: 'storage size cannot be enforced: `/srv/corral/containers` is on tmpfs `/dev/sdb1` at `/srv` (rw), without project quotas',
      detail: 'tmpfs has no project quotas corral can use',
      hint: 'put the state root on XFS mounted with `prjquota`, or on ext4 with the `project` and `quota` features mounted with `prjquota`',
    }]);
    expect(storageDiagnostics(req(8 << 20, true), xfs)).toEqual([]);
    expect(storageDiagnostics(req(8 << 20), ext4)).toEqual([]);
    expect(storageDiagnostics(req(8 << 20, true), ext4)).toEqual([expect.objectContaining({ severity: 'warning', code: 'MANIFEST_RISKY', field: 'spec.storage.size' })]);
  });
});
