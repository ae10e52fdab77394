// How new content of a secret or a config file, and a replaced single-file bind, are planned
// (src/reconciler/plan/field-effects.ts): by the file's onChange, a restart when an environment
// value comes from the secret; a record from before bind identities existed is no change.

import { describe, expect, test } from '@jest/globals';
import { diffSpecs } from '../../src/reconciler/plan/field-effects.js';
import { specHash } from '../../src/manifest/hash.js';
import { plan } from '../../src/reconciler/plan/plan.js';
import { desiredOne, exited, recordFor, T0 } from '../support/plan-fixtures.js';

const FILES = `secrets:
  - {name: db, source: {env: DB}}
  - {name: key, source: {env: KEY}, onChange: none}
configFiles:
  - {name: conf, source: {content: "x"}, target: /etc/app.conf, onChange: "signal:SIGHUP"}
env:
  KEY: {valueFrom: {secret: key}}`;

describe('file effects', () => {
  test('by onChange; a secret behind an environment value restarts whatever its onChange', async () => {
    const d = await desiredOne('app', FILES);
    const before = { 'file:secret/db': 'sha256:1', 'file:secret/key': 'sha256:1', 'file:config/conf': 'sha256:1' };
    const after = { 'file:secret/db': 'sha256:2', 'file:secret/key': 'sha256:2', 'file:config/conf': 'sha256:2' };
    expect(diffSpecs(d.spec, d.spec, before, after).map((x) => [x.path, x.effect])).toEqual([
      ['references.file:config/conf', 'live'],
      ['references.file:secret/db', 'restart'],
      ['references.file:secret/key', 'restart'],
    ]);
  });

  test('a replaced bind source restarts; a record without bind identities (older corral) is no change', async () => {
    const d = await desiredOne('app');
    expect(diffSpecs(d.spec, d.spec, { 'bind:/etc/a': 'inode:1:2' }, { 'bind:/etc/a': 'inode:1:3' }).map((x) => x.effect)).toEqual(['restart']);
    expect(diffSpecs(d.spec, d.spec, {}, { 'bind:/etc/a': 'inode:1:3' })).toEqual([]);
  });
});

describe('new content of a stopped container', () => {
  test('stopped by hand, it stays stopped: the record only learns the new digest', async () => {
    const d = await desiredOne('app', FILES);
    const before = { 'file:secret/db': 'hmac-sha256:1', 'file:secret/key': 'hmac-sha256:1', 'file:config/conf': 'sha256:1' };
    const record = recordFor({ ...d, references: before, hash: specHash(d.spec, before) }, { status: 'stopped', desiredState: 'stopped' });
    const after = { ...before, 'file:config/conf': 'sha256:2' };
    const desired = { ...d, references: after, hash: specHash(d.spec, after) };
    const p = plan({ containers: [desired], elsewhere: [], invalidNames: [], brokenFiles: [], missing: false, diagnostics: [] }, { containers: [{ record, live: exited(0) }], orphans: [], serial: 1 }, { now: T0, allowEmpty: false });
    expect(p.changes[0]).toMatchObject({ action: 'update', reasons: [{ code: 'stopped-by-hand' }, { code: 'manifest-changed' }] });
  });
});

describe('changes to the files themselves', () => {
  test('new inline content is planned by onChange; a file added restarts; one taken away recreates', async () => {
    const before = await desiredOne('app', FILES);
    const edited = await desiredOne('app', FILES.replace('content: "x"', 'content: "y"'));
    const refs = (v: string) => ({ 'file:secret/db': 'h:1', 'file:secret/key': 'h:1', 'file:config/conf': v });
    expect(diffSpecs(before.spec, edited.spec, refs('sha256:1'), refs('sha256:2')).map((x) => [x.path, x.effect])).toEqual([['references.file:config/conf', 'live']]);
    const added = await desiredOne('app', FILES.replace('configFiles:\n', 'configFiles:\n  - {name: more, source: {content: "z"}, target: /etc/more.conf}\n'));
    expect(diffSpecs(before.spec, added.spec).filter((x) => x.path === 'files').map((x) => x.effect)).toEqual(['restart']);
    expect(diffSpecs(added.spec, before.spec).filter((x) => x.path === 'files').map((x) => x.effect)).toEqual(['recreate']);
  });
});
