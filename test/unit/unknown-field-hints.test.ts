// An unknown field's hint says where a field of that name does exist: one home is named, a name
// with several homes lists them all instead of sending the user to whichever came first.

import { describe, expect, test } from '@jest/globals';
import { misplacedFieldHint } from '../../src/manifest/validate.js';
import { loadOne } from '../support/schema.js';

const manifest = (specExtra: string) => `apiVersion: corral/v1
kind: Container
metadata:
  name: app
spec:
  rootfs: {host: {}}
  command: [/bin/true]
${specExtra}
`;

async function hintFor(specExtra: string, field: string): Promise<string | undefined> {
  const { errors } = await loadOne(manifest(specExtra));
  const d = errors.find((e) => e.code === 'MANIFEST_UNKNOWN_FIELD' && e.field === field);
  expect(d).toBeDefined();
  return d!.hint;
}

describe('hints for a field in the wrong place', () => {
  test('one home: named', async () => {
    expect(await hintFor('  memory: 256Mi', 'spec.memory')).toBe('`memory` belongs under `spec.resources`');
  });

  test('`mode` under spec is not sent to spec.network alone: each mount has one too', async () => {
    const hint = await hintFor('  mode: bridge', 'spec.mode');
    expect(hint).not.toMatch(/belongs under/);
    expect(hint).toMatch(/^`mode` is a field of `spec\.network` and of the entries of .*`spec\.mounts`/);
  });

  test('`name` under spec is not sent to metadata alone', async () => {
    const hint = await hintFor('  name: app', 'spec.name');
    expect(hint).not.toMatch(/belongs under/);
    expect(hint).toMatch(/^`name` is a field of `metadata`, `spec\.user` and `spec\.network` and of the entries of `spec\.env`, .*`spec\.mounts`/);
  });

  test('a close spelling of a field allowed here still wins', async () => {
    expect(await hintFor('  comand: [/bin/true]', 'spec.comand')).toBe('did you mean `command`?');
  });
});

describe('misplacedFieldHint', () => {
  test('lists every home, arrays as their entries, and leaves out the place the field was found', () => {
    expect(misplacedFieldHint('mode', 'spec', ['spec.mounts[].mode', 'spec.network.mode', 'spec.secrets[].mode'])).toBe(
      '`mode` is a field of `spec.network` and of the entries of `spec.mounts` and `spec.secrets`: move it under the one you meant',
    );
    expect(misplacedFieldHint('mode', 'spec.mounts[2]', ['spec.mounts[].mode', 'spec.network.mode'])).toBe('`mode` belongs under `spec.network`');
    expect(misplacedFieldHint('kind', 'spec', ['kind'])).toBe('`kind` belongs at the top level');
    expect(misplacedFieldHint('target', 'spec', ['spec.mounts[].target'])).toBe('`target` belongs in each entry of `spec.mounts`');
    expect(misplacedFieldHint('size', 'spec.namespaces.user', ['spec.namespaces.user.auto.size', 'spec.storage.size'])).toBe(
      '`size` is a field of `spec.namespaces.user.auto` and `spec.storage`: move it under the one you meant',
    );
    expect(misplacedFieldHint('nothing', 'spec', [])).toBeUndefined();
  });

  test('a name with many homes is counted, not listed', () => {
    const paths = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'nofile', 'nproc', 'stack'].map((n) => `spec.ulimits.${n}.soft`);
    expect(misplacedFieldHint('soft', 'spec.ulimits', paths)).toBe(
      '`soft` is a field in 9 places, such as `spec.ulimits.as` and `spec.ulimits.core`: see the manifest reference',
    );
  });
});
