// The host's default user namespace for manifests that leave `namespaces.user` out: taken when a
// container is built (created or recreated), never by one that exists and is only restarted.
import { describe, expect, test } from '@jest/globals';
import { specHash } from '../../src/manifest/hash.js';
import type { ContainerSpec, UserNamespace } from '../../src/manifest/spec.js';
import { plan } from '../../src/reconciler/plan/plan.js';
import type { Actual, ActualContainer, Desired, DesiredContainer } from '../../src/reconciler/plan/types.js';
import { manifest } from '../support/memory-source.js';
import { desiredOf, desiredOne, recordFor, RUNNING, T0 } from '../support/plan-fixtures.js';

const AUTO: UserNamespace = { kind: 'auto', size: 65536 };
const actualOf = (...containers: ActualContainer[]): Actual => ({ containers, orphans: [], serial: 1 });
const desiredWith = (...containers: DesiredContainer[]): Desired => ({ containers, elsewhere: [], invalidNames: [], brokenFiles: [], missing: false, diagnostics: [] });
/** The desired container as it was built with `user`: spec and hash. */
const builtWith = (d: DesiredContainer, user: UserNamespace): DesiredContainer => {
  const spec: ContainerSpec = { ...d.spec, namespaces: { ...d.spec.namespaces, user } };
  return { ...d, spec, hash: specHash(spec) };
};
const planOne = (d: DesiredContainer, actual: Actual, hostUserNamespace: UserNamespace | null) => {
  const p = plan(desiredWith(d), actual, { now: T0, allowEmpty: false, hostUserNamespace });
  expect(p.changes).toHaveLength(1);
  return p.changes[0]!;
};

describe('the default user namespace', () => {
  test('a new container gets the host default, and none where the host has none', async () => {
    const d = await desiredOne('web');
    expect(d.userNamespaceByDefault).toBe(true);
    expect(d.spec.namespaces.user).toBeNull();
    const on = planOne(d, actualOf(), AUTO);
    expect(on).toMatchObject({ action: 'create', after: { namespaces: { user: AUTO } } });
    expect(on.afterHash).not.toBe(d.hash);
    expect(planOne(d, actualOf(), null)).toMatchObject({ action: 'create', after: { namespaces: { user: null } }, afterHash: d.hash });
  });

  test('a container built without one keeps running without one: an upgrade that turns the default on changes nothing', async () => {
    const d = await desiredOne('web');
    const c = planOne(d, actualOf({ record: recordFor(d), live: RUNNING }), AUTO);
    expect(c).toMatchObject({ action: 'none', after: { namespaces: { user: null } }, afterHash: d.hash });
  });

  test('an edit that only restarts keeps the setting; one that recreates takes the default', async () => {
    const before = await desiredOne('web', 'env: {A: "1"}');
    const restart = await desiredOne('web', 'env: {A: "2"}');
    expect(planOne(restart, actualOf({ record: recordFor(before), live: RUNNING }), AUTO)).toMatchObject({ action: 'restart', after: { namespaces: { user: null } } });
    const rebuilt = (await desiredOf({ '/m/web.yaml': manifest('web', 'env: {A: "1"}').replace('{host: {}}', '{path: /srv/r}') })).containers[0]!;
    const c = planOne(rebuilt, actualOf({ record: recordFor(before), live: RUNNING }), AUTO);
    expect(c).toMatchObject({ action: 'recreate', after: { namespaces: { user: AUTO } } });
    expect(c.diff.map((x) => x.path)).toContain('namespaces.user');
  });

  test('one built with the default keeps it where the host no longer offers it (until rebuilt)', async () => {
    const d = await desiredOne('web');
    const built = builtWith(d, AUTO);
    const c = planOne(d, actualOf({ record: recordFor(built), live: RUNNING }), null);
    expect(c).toMatchObject({ action: 'none', after: { namespaces: { user: AUTO } } });
  });

  test('an explicit setting is never replaced: `enabled: false` turns a default one off (a recreate)', async () => {
    const d = await desiredOne('web');
    const built = builtWith(d, AUTO);
    const off = await desiredOne('web', 'namespaces: {user: {enabled: false}}');
    expect(off.userNamespaceByDefault).toBe(false);
    expect(planOne(off, actualOf({ record: recordFor(built), live: RUNNING }), AUTO)).toMatchObject({ action: 'recreate', after: { namespaces: { user: null } } });
    expect(planOne(off, actualOf(), AUTO)).toMatchObject({ action: 'create', after: { namespaces: { user: null } } });
  });

  test('only for a container with a network namespace of its own: bridged, host and joined networks get none by default', async () => {
    for (const extra of ['network: {mode: bridge}', 'namespaces: {network: host}']) {
      const d = await desiredOne('web', extra);
      expect(planOne(d, actualOf(), AUTO)).toMatchObject({ action: 'create', after: { namespaces: { user: null } } });
    }
    // One that had it by default and moves to a bridge leaves it: a recreate.
    const none = await desiredOne('web');
    const bridged = await desiredOne('web', 'network: {mode: bridge}');
    expect(planOne(bridged, actualOf({ record: recordFor(builtWith(none, AUTO)), live: RUNNING }), AUTO)).toMatchObject({ action: 'recreate', after: { namespaces: { user: null } } });
    // Asked for explicitly, a bridged container has one.
    const asked = await desiredOne('web', 'network: {mode: bridge}\nnamespaces: {user: {enabled: true}}');
    expect(planOne(asked, actualOf(), null)).toMatchObject({ action: 'create', after: { namespaces: { user: AUTO } } });
  });

  test('explicit maps that a manifest drops are replaced by the default, not kept', async () => {
    const d = await desiredOne('web');
    const manual: UserNamespace = { kind: 'manual', uidMap: [{ containerID: 0, hostID: 200000, size: 65536 }], gidMap: [{ containerID: 0, hostID: 200000, size: 65536 }] };
    const built = builtWith(d, manual);
    expect(planOne(d, actualOf({ record: recordFor(built), live: RUNNING }), AUTO)).toMatchObject({ action: 'recreate', after: { namespaces: { user: AUTO } } });
  });

  test('a record equal to its settled manifest answers without a hash; a repaired record or other references do not', async () => {
    const d = await desiredOne('web');
    const built = builtWith(d, AUTO);
    const record = recordFor(built);
    const c = planOne(d, actualOf({ record, live: RUNNING }), AUTO);
    expect(c).toMatchObject({ action: 'none', afterHash: built.hash });
    expect(c.after).toBe(record.spec);
    // The record's hash is taken only where it is the spec's: a repaired record's placeholder is
    // replaced (its container restarted with the manifest's spec and real hash).
    const repaired = { ...record, hash: 'sha256:unknown', specUnknown: true as const };
    const r = planOne(d, actualOf({ record: repaired, live: RUNNING }), AUTO);
    expect(r).toMatchObject({ action: 'restart', afterHash: built.hash });
    // Other references (a new image digest): the hash is computed, and differs.
    const moved = { ...d, references: { image: 'sha256:feed' }, hash: specHash(d.spec, { image: 'sha256:feed' }) };
    const m = planOne(moved, actualOf({ record, live: RUNNING }), AUTO);
    expect(m.afterHash).toBe(specHash(built.spec, { image: 'sha256:feed' }));
  });

  test('a record asked about again answers as before for the same manifest, and anew for an edited one', async () => {
    const d = await desiredOne('web');
    const record = recordFor(builtWith(d, AUTO));
    for (let pass = 0; pass < 2; pass++) {
      const c = planOne({ ...d }, actualOf({ record, live: RUNNING }), AUTO);
      expect(c).toMatchObject({ action: 'none', afterHash: record.hash });
      expect(c.after).toBe(record.spec);
    }
    // The same record against an edited manifest (another hash): compared again, and different.
    const edited = await desiredOne('web', 'env: {EDITED: "1"}');
    expect(edited.hash).not.toBe(d.hash);
    const e = planOne(edited, actualOf({ record, live: RUNNING }), AUTO);
    expect(e.action).not.toBe('none');
    expect(e.afterHash).not.toBe(record.hash);
    // And back: the first manifest is the record's again.
    expect(planOne(d, actualOf({ record, live: RUNNING }), AUTO)).toMatchObject({ action: 'none', afterHash: record.hash });
  });

  test('passes over the same manifest share the settled spec and its hash; another setting gets its own', async () => {
    const d = await desiredOne('web');
    const again = { ...d, hostDiagnostics: [] };
    const first = planOne(d, actualOf(), AUTO);
    const second = planOne(again, actualOf(), AUTO);
    expect(second.after).toBe(first.after);
    expect(second.afterHash).toBe(first.afterHash);
    const bigger = planOne(d, actualOf(), { kind: 'auto', size: 131072 });
    expect(bigger.after).toMatchObject({ namespaces: { user: { kind: 'auto', size: 131072 } } });
    expect(bigger.afterHash).not.toBe(first.afterHash);
  });
});
