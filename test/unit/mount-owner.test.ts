// `owner` of tmpfs and volume mounts and `mode` of volumes (issue 14, point 4): the schema, the
// normalized spec, the hash, what a change does, and two mounts of one volume that disagree.

import { describe, expect, test } from '@jest/globals';
import { specHash, withLaterDefaults } from '../../src/manifest/hash.js';
import type { ContainerSpec } from '../../src/manifest/spec.js';
import { plan } from '../../src/reconciler/plan/plan.js';
import type { Actual, ActualContainer, Desired } from '../../src/reconciler/plan/types.js';
import { manifest } from '../support/memory-source.js';
import { desiredOne, recordFor, RUNNING, T0 } from '../support/plan-fixtures.js';
import { loadOne, loadSet } from '../support/schema.js';

const withMounts = (name: string, mounts: string) => manifest(name, `mounts:\n${mounts.split('\n').filter(Boolean).map((l) => `  ${l}`).join('\n')}`);

async function errorsOf(mounts: string): Promise<string[]> {
  const { errors } = await loadOne(withMounts('m', mounts));
  return errors.map((e) => `${e.code} ${e.field}`);
}

describe('schema', () => {
  test('accepts owner on tmpfs and volumes, mode on volumes', async () => {
    expect(await errorsOf(`
- {type: tmpfs, target: /tmp, owner: {uid: 1000}}
- {type: tmpfs, target: /run, owner: {uid: 1000, gid: 0}, mode: "0700"}
- {type: volume, name: data, target: /data, owner: {uid: 999, gid: 999}, mode: "0750"}
- {type: volume, name: logs, target: /logs, mode: "2775"}
- {type: volume, name: cache, target: /cache, owner: {uid: 4294967294}}
`)).toEqual([]);
  });

  test.each([
    ['an owner without uid', '- {type: volume, name: data, target: /data, owner: {gid: 1}}'],
    ['an unknown owner field', '- {type: volume, name: data, target: /data, owner: {uid: 1, user: x}}'],
    ['a negative uid', '- {type: tmpfs, target: /tmp, owner: {uid: -1}}'],
    ['an id above the last one', '- {type: volume, name: data, target: /data, owner: {uid: 4294967295}}'],
    ['an owner that is a string', '- {type: tmpfs, target: /tmp, owner: "1000:1000"}'],
    ['a volume mode that is not octal', '- {type: volume, name: data, target: /data, mode: "0789"}'],
    ['a volume mode given as a number', '- {type: volume, name: data, target: /data, mode: 755}'],
    ['a volume mode of six digits', '- {type: volume, name: data, target: /data, mode: "007555"}'],
    ['an owner on a bind', '- {type: bind, source: /srv, target: /srv, owner: {uid: 1}}'],
    ['a mode on a bind', '- {type: bind, source: /srv, target: /srv, mode: "0755"}'],
  ])('rejects %s', async (_what, mounts) => {
    const errors = await errorsOf(mounts);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.includes('spec.mounts[0]'))).toBe(true);
  });
});

describe('normalize', () => {
  test('gid defaults to uid; modes are parsed as octal; absent fields are null', async () => {
    const { spec, errors } = await loadOne(withMounts('m', `
- {type: tmpfs, target: /a, owner: {uid: 1000}}
- {type: tmpfs, target: /b}
- {type: volume, name: data, target: /c, owner: {uid: 999, gid: 5}, mode: "750"}
- {type: volume, name: plain, target: /d}
`));
    expect(errors).toEqual([]);
    expect(spec!.mounts).toEqual([
      { type: 'tmpfs', target: '/a', sizeBytes: 64 * 2 ** 20, mode: 0o1777, owner: { uid: 1000, gid: 1000 }, readOnly: false, options: ['nodev', 'nosuid'] },
      { type: 'tmpfs', target: '/b', sizeBytes: 64 * 2 ** 20, mode: 0o1777, owner: null, readOnly: false, options: ['nodev', 'nosuid'] },
      { type: 'volume', name: 'data', target: '/c', owner: { uid: 999, gid: 5 }, mode: 0o750, readOnly: false, options: ['nodev', 'nosuid'] },
      { type: 'volume', name: 'plain', target: '/d', owner: null, mode: null, readOnly: false, options: ['nodev', 'nosuid'] },
    ]);
  });
});

describe('hash', () => {
  const MOUNTS = '- {type: tmpfs, target: /tmp}\n- {type: volume, name: data, target: /data}\n- {type: bind, source: /srv, target: /srv}\n';

  test('absent owner and mode leave the hash of a spec written before they existed unchanged', async () => {
    const { spec } = await loadOne(withMounts('m', MOUNTS));
    // The spec as an older corral recorded it: no owner, no volume mode.
    const before = {
      ...spec!,
      mounts: spec!.mounts.map((m) => {
        if (m.type === 'bind') return m;
        const { owner: _owner, ...rest } = m;
        if (rest.type === 'volume') {
          const { mode: _mode, ...older } = rest;
          return older;
        }
        return rest;
      }),
    } as ContainerSpec;
    expect(specHash(before)).toBe(specHash(spec!));
    expect(withLaterDefaults(before)).toEqual(spec);
  });

  test.each([
    ['a tmpfs owner', MOUNTS.replace('target: /tmp}', 'target: /tmp, owner: {uid: 0}}')],
    ['a volume owner', MOUNTS.replace('target: /data}', 'target: /data, owner: {uid: 0}}')],
    ['a volume mode', MOUNTS.replace('target: /data}', 'target: /data, mode: "0755"}')],
  ])('%s changes it, even at the default value', async (_what, mounts) => {
    const base = await loadOne(withMounts('m', MOUNTS));
    const changed = await loadOne(withMounts('m', mounts));
    expect(changed.errors).toEqual([]);
    expect(specHash(changed.spec!)).not.toBe(specHash(base.spec!));
  });
});

describe('plan', () => {
  const actualOf = (...containers: ActualContainer[]): Actual => ({ containers, orphans: [], serial: 7 });
  const desiredWith = (...containers: Desired['containers'][number][]): Desired => ({ containers, elsewhere: [], invalidNames: [], brokenFiles: [], missing: false, diagnostics: [] });

  test.each([
    ['a volume owner', 'mounts: [{type: volume, name: data, target: /data}]', 'mounts: [{type: volume, name: data, target: /data, owner: {uid: 1000}}]'],
    ['a volume mode', 'mounts: [{type: volume, name: data, target: /data, mode: "0700"}]', 'mounts: [{type: volume, name: data, target: /data, mode: "0750"}]'],
    ['a tmpfs owner', 'mounts: [{type: tmpfs, target: /tmp, owner: {uid: 1}}]', 'mounts: [{type: tmpfs, target: /tmp, owner: {uid: 2}}]'],
  ])('a change of %s restarts the container', async (_what, before, after) => {
    const b = await desiredOne('web', before);
    const a = await desiredOne('web', after);
    const p = plan(desiredWith(a), actualOf({ record: recordFor(b), live: RUNNING }), { now: T0, allowEmpty: false });
    expect(p.changes).toHaveLength(1);
    expect(p.changes[0]).toMatchObject({ action: 'restart', requiresReplace: ['mounts'] });
  });
});

describe('two mounts of one volume', () => {
  const volume = (extra: string) => `mounts: [{type: volume, name: shared, target: /data${extra}}]`;
  const conflicts = async (files: Record<string, string>) => (await loadSet(files)).diagnostics.filter((d) => d.code === 'MANIFEST_CONFLICT');

  test('with different owners is an error at the second, naming the first', async () => {
    const found = await conflicts({
      '/m/a.yaml': manifest('a', volume(', owner: {uid: 1000}')),
      '/m/b.yaml': manifest('b', volume(', owner: {uid: 1000, gid: 1001}')),
    });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'error', container: 'b', field: 'spec.mounts[0].owner', source: { file: '/m/b.yaml' } });
    expect(found[0]!.summary).toContain('1000:1001');
    expect(found[0]!.summary).toContain('1000:1000 by `a` at /m/a.yaml:');
    expect(found[0]!.hint).toBeTruthy();
  });

  test('with different modes is an error; the same mode spelled differently is not', async () => {
    expect(await conflicts({ '/m/a.yaml': manifest('a', volume(', mode: "0750"')), '/m/b.yaml': manifest('b', volume(', mode: "0700"')) }))
      .toMatchObject([{ container: 'b', field: 'spec.mounts[0].mode' }]);
    expect(await conflicts({ '/m/a.yaml': manifest('a', volume(', mode: "750"')), '/m/b.yaml': manifest('b', volume(', mode: "0750"')) })).toEqual([]);
  });

  test('the same owner, gid left to default, or one mount not asking, is fine', async () => {
    expect(await conflicts({
      '/m/a.yaml': manifest('a', volume(', owner: {uid: 7}')),
      '/m/b.yaml': manifest('b', volume(', owner: {uid: 7, gid: 7}')),
      '/m/c.yaml': manifest('c', volume('')),
    })).toEqual([]);
  });

  test('other volumes, or containers on disjoint hosts, do not conflict', async () => {
    expect(await conflicts({
      '/m/a.yaml': manifest('a', `${volume(', owner: {uid: 1}')}\nhosts: {hostnames: [host-a]}`),
      '/m/b.yaml': manifest('b', `${volume(', owner: {uid: 2}')}\nhosts: {hostnames: [host-b]}`),
      '/m/c.yaml': manifest('c', 'mounts: [{type: volume, name: other, target: /data, owner: {uid: 3}}]'),
    })).toEqual([]);
  });

  test('twice in one container with different owners is an error too', async () => {
    const found = await conflicts({ '/m/a.yaml': manifest('a', 'mounts: [{type: volume, name: shared, target: /x, owner: {uid: 1}}, {type: volume, name: shared, target: /y, owner: {uid: 2}}]') });
    expect(found).toMatchObject([{ container: 'a', field: 'spec.mounts[1].owner' }]);
    expect(found[0]!.summary).toContain('`spec.mounts[0]`');
  });

  test('the containers are not handed on', async () => {
    const set = await loadSet({ '/m/a.yaml': manifest('a', volume(', owner: {uid: 1}')), '/m/b.yaml': manifest('b', volume(', owner: {uid: 2}')) });
    expect(set.containers.map((c) => c.spec.name)).not.toContain('b');
  });
});

describe('with a user namespace', () => {
  test('an owner the namespace does not map is an error', async () => {
    const maps = 'namespaces: {user: {enabled: true, uidMap: [{containerID: 0, hostID: 100000, size: 1000}], gidMap: [{containerID: 0, hostID: 100000, size: 2000}]}}';
    const mounts = 'mounts: [{type: tmpfs, target: /a, owner: {uid: 999, gid: 1999}}, {type: volume, name: v, target: /b, owner: {uid: 1500}}]';
    const { errors } = await loadOne(manifest('m', `${maps}\n${mounts}`));
    expect(errors.map((e) => [e.code, e.field])).toEqual([['MANIFEST_CONFLICT', 'spec.mounts[1].owner.uid']]);
    expect(errors[0]!.summary).toBe('owner uid 1500 is not mapped by `namespaces.user.uidMap`');
    const auto = await loadOne(manifest('m', 'namespaces: {user: {enabled: true, auto: {size: 100}}}\nmounts: [{type: tmpfs, target: /a, owner: {uid: 10, gid: 100}}]'));
    expect(auto.errors.map((e) => [e.code, e.field])).toEqual([['MANIFEST_CONFLICT', 'spec.mounts[0].owner.gid']]);
  });
});
