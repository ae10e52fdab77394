import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { directorySource } from '../../src/inputs/manifest-source.js';
import { classifyManifestPath } from '../../src/manifest/files.js';
import { loadManifestText } from '../../src/manifest/load.js';
import { loadManifestSet } from '../../src/manifest/manifest-set.js';
import { manifest } from '../support/memory-source.js';
import { loadSet, validator } from '../support/schema.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('which files count', () => {
  test.each([
    ['web.yaml', true], ['web.yml', true], ['sub/dir/web.yaml', true],
    ['web.json', false], ['README.md', false], ['.hidden.yaml', false], ['.git/config.yaml', false],
    ['sub/.cache/web.yaml', false], ['web.yaml~', false], ['.web.yaml.swp', false], ['web.yaml.bak', false],
    ['web.yaml.tmp', false], ['#web.yaml#', false], ['web.yaml.orig', false],
  ])('%s → %s', (path, counts) => expect(classifyManifestPath(path).counts).toBe(counts));
});

describe('a manifest directory on disk', () => {
  // Made in beforeAll, not when the file is collected: a run that filters these tests out
  // (`-t`) runs no afterAll either, and left the directory behind.
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-manifests-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('walks recursively, follows symlinks once, ignores dot dirs and editor files', async () => {
    mkdirSync(join(dir, 'team-a/nested'), { recursive: true });
    mkdirSync(join(dir, '.git'));
    writeFileSync(join(dir, 'web.yaml'), manifest('web'));
    writeFileSync(join(dir, 'team-a/nested/api.yml'), manifest('api'));
    writeFileSync(join(dir, '.git/bad.yaml'), 'not: [valid');
    writeFileSync(join(dir, 'web.yaml~'), 'not: [valid');
    writeFileSync(join(dir, '.web.yaml.swp'), 'garbage');
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    symlinkSync(join(dir, 'team-a'), join(dir, 'team-a/nested/loop'));
    const ignored: string[] = [];
    const set = await loadManifestSet(directorySource(dir, (p) => ignored.push(p)), { validator });
    expect(set.diagnostics).toEqual([]);
    expect(set.containers.map((c) => c.spec.name)).toEqual(['api', 'web']);
    expect(ignored).toEqual(expect.arrayContaining(['.git', 'web.yaml~', '.web.yaml.swp', 'notes.txt']));
  });

  test('a missing directory is reported as missing, not as empty', async () => {
    const set = await loadManifestSet(directorySource(join(dir, 'nope')), { validator });
    expect(set.missing).toBe(true);
    expect(set.diagnostics[0]!.code).toBe('MANIFEST_DIR_MISSING');
  });

  test('a huge file is refused before it is read', async () => {
    const big = join(dir, 'huge.yaml');
    writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    try {
      const set = await loadManifestSet(directorySource(dir), { validator });
      const d = set.diagnostics.find((x) => x.code === 'MANIFEST_TOO_LARGE');
      expect(d?.source?.file).toBe(big);
      expect(set.brokenFiles).toEqual([big]);
    } finally {
      rmSync(big);
    }
  });
});

describe('the manifest set', () => {
  test('a name defined twice is an error naming both places', async () => {
    const set = await loadSet({ '/m/a.yaml': manifest('web'), '/m/b.yaml': `# two\n${manifest('web')}` });
    const dup = set.diagnostics.find((d) => d.code === 'MANIFEST_DUPLICATE_NAME')!;
    expect(dup.source).toEqual({ file: '/m/b.yaml', line: 5, column: 9 });
    expect(dup.summary).toContain('/m/a.yaml:4:9');
    expect(set.containers).toEqual([]);
    expect(set.invalidNames).toEqual(['web']);
  });

  test('the same name for disjoint host selectors is fine', async () => {
    const set = await loadSet({
      '/m/a.yaml': manifest('web', 'hosts: {hostnames: [host-a]}'),
      '/m/b.yaml': manifest('web', 'hosts: {hostnames: [host-b]}'),
    });
    expect(set.diagnostics).toEqual([]);
  });

  test('only manifests selecting this host are desired here', async () => {
    const set = await loadSet({
      '/m/a.yaml': manifest('edge', 'hosts: {hostnames: ["web-*"], labels: {role: edge}}'),
      '/m/b.yaml': manifest('db', 'hosts: {hostnames: ["db-?"]}'),
      '/m/c.yaml': manifest('everywhere'),
    }, { hostname: 'web-7', labels: { role: 'edge' } });
    expect(set.containers.map((c) => c.spec.name)).toEqual(['edge', 'everywhere']);
    expect(set.elsewhere.map((c) => c.spec.name)).toEqual(['db']);
  });

  test('one bad document does not hide the good ones, and its file is marked broken', async () => {
    const text = `${manifest('good')}\n---\n${manifest('bad', 'resources: {memroy: 1Gi}')}`;
    const set = await loadSet({ '/m/x.yaml': text });
    expect(set.containers.map((c) => c.spec.name)).toEqual(['good']);
    expect(set.invalidNames).toEqual(['bad']);
    expect(set.brokenFiles).toEqual(['/m/x.yaml']);
    expect(set.containers[0]!.origin).toEqual({ file: '/m/x.yaml', index: 0 });
  });

  test('all problems are reported at once', async () => {
    const set = await loadSet({
      '/m/a.yaml': manifest('a', 'resources: {memroy: 1Gi, cpus: lots}\nrestartPolicy: always'),
      '/m/b.yaml': 'kind: [',
    });
    expect(set.diagnostics.map((d) => d.code).sort()).toEqual(['MANIFEST_INVALID_FORMAT', 'MANIFEST_INVALID_VALUE', 'MANIFEST_UNKNOWN_FIELD', 'MANIFEST_YAML_SYNTAX']);
  });

  test('empty documents and comment-only files are ignored', async () => {
    const set = await loadSet({ '/m/a.yaml': `---\n# nothing\n---\n${manifest('a')}\n---\n`, '/m/empty.yaml': '# nothing yet\n' });
    expect(set.diagnostics).toEqual([]);
    expect(set.containers.map((c) => c.spec.name)).toEqual(['a']);
  });

  test('warnings do not make a manifest invalid', async () => {
    const set = await loadSet({ '/m/a.yaml': manifest('a', 'security: {privileged: true}') });
    expect(set.diagnostics.map((d) => [d.severity, d.code])).toEqual([['warning', 'MANIFEST_RISKY']]);
    expect(set.containers).toHaveLength(1);
  });
});

describe('load limits', () => {
  test('a UTF-8 byte order mark is accepted', () => {
    const r = loadManifestText('/m/a.yaml', new Uint8Array([0xef, 0xbb, 0xbf, ...enc(manifest('bom'))]));
    expect(r.diagnostics).toEqual([]);
    expect(r.docs[0]!.name).toBe('bom');
  });

  test('an alias bomb is stopped quickly, not expanded', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const r = loadManifestText('/m/bomb.yaml', enc(lines.join('\n')));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_ALIAS_LIMIT']);
  });

  test('deep flow nesting is refused, not a stack overflow', () => {
    const r = loadManifestText('/m/deep.yaml', enc(`a: ${'['.repeat(5000)}${']'.repeat(5000)}`));
    expect(r.diagnostics[0]!.code).toBe('MANIFEST_DEPTH_LIMIT');
  });

  test('limits can be tightened', () => {
    const r = loadManifestText('/m/a.yaml', enc(`${manifest('a')}\n---\n${manifest('b')}`), { maxFileBytes: 1e6, maxDocuments: 1, maxAliases: 0, maxDepth: 8 });
    expect(r.diagnostics.map((d) => [d.code, d.source?.line])).toEqual([['MANIFEST_TOO_MANY_DOCUMENTS', 10]]);
  });
});

describe('the manifest cache', () => {
  test('unchanged files are not parsed again; edited and deleted ones are noticed', async () => {
    const { ManifestCache } = await import('../../src/manifest/manifest-set.js');
    const dir = mkdtempSync(join(tmpdir(), 'corral-cache-'));
    try {
      writeFileSync(join(dir, 'a.yaml'), manifest('a'));
      writeFileSync(join(dir, 'b.yaml'), manifest('b'));
      const cache = new ManifestCache();
      const first = await loadManifestSet(directorySource(dir), { validator, cache });
      const again = await loadManifestSet(directorySource(dir), { validator, cache });
      expect(again.containers[0]!.spec).toBe(first.containers[0]!.spec);
      writeFileSync(join(dir, 'a.yaml'), manifest('a', 'env: {X: "1"}'));
      rmSync(join(dir, 'b.yaml'));
      const edited = await loadManifestSet(directorySource(dir), { validator, cache });
      expect(edited.containers.map((c) => [c.spec.name, c.spec.process.env.length])).toEqual([['a', 1]]);
      expect([...cache.files.keys()]).toEqual([join(dir, 'a.yaml')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unchanged directory gives the same set; a new file, an edit or another host does not', async () => {
    const { ManifestCache } = await import('../../src/manifest/manifest-set.js');
    const dir = mkdtempSync(join(tmpdir(), 'corral-cache-'));
    try {
      writeFileSync(join(dir, 'a.yaml'), manifest('a', 'hosts: {hostnames: [one]}'));
      const cache = new ManifestCache();
      const host = { hostname: 'one', labels: {} };
      const first = await loadManifestSet(directorySource(dir), { validator, cache, host });
      expect(await loadManifestSet(directorySource(dir), { validator, cache, host: { ...host } })).toBe(first);
      // The same host facts, read again, give the same set; others select again.
      const elsewhere = await loadManifestSet(directorySource(dir), { validator, cache, host: { hostname: 'two', labels: {} } });
      expect([elsewhere.containers.length, elsewhere.elsewhere.length]).toEqual([0, 1]);
      // A set check across files runs again when a file comes: here a duplicate name.
      writeFileSync(join(dir, 'b.yaml'), manifest('a', 'hosts: {hostnames: [one]}'));
      const duplicate = await loadManifestSet(directorySource(dir), { validator, cache, host });
      expect(duplicate.diagnostics.some((d) => d.code === 'MANIFEST_DUPLICATE_NAME')).toBe(true);
      rmSync(join(dir, 'b.yaml'));
      writeFileSync(join(dir, 'a.yaml'), manifest('a', 'hosts: {hostnames: [one]}\nenv: {X: "1"}'));
      const edited = await loadManifestSet(directorySource(dir), { validator, cache, host });
      expect(edited).not.toBe(first);
      expect(edited.containers.map((c) => c.spec.process.env.length)).toEqual([1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one root cause', () => {
  test('a manifest with an error is reported once, not again by each container that depends on it or joins its network; those are held', async () => {
    const set = await loadSet({
      '/m/db.yaml': manifest('db', 'memory: lots'),
      '/m/web.yaml': manifest('web', 'dependsOn: [db]'),
      '/m/worker.yaml': manifest('worker', 'dependsOn: [db]\nnamespaces: {network: "container:db"}'),
      '/m/typo.yaml': manifest('typo', 'dependsOn: [dbb]'),
    });
    const errors = set.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.filter((d) => d.container === 'db')).toHaveLength(1);
    expect(errors.filter((d) => d.container === 'web' || d.container === 'worker')).toEqual([]);
    // Held, not started without what they need: one warning each says why.
    expect(set.containers.map((c) => c.spec.name)).toEqual([]);
    expect(set.diagnostics.filter((d) => d.severity === 'warning' && d.summary.startsWith('held:')).map((d) => d.container).sort()).toEqual(['web', 'worker']);
    // A name no manifest defines is still an error of its own.
    expect(errors.filter((d) => d.container === 'typo').map((d) => d.code)).toEqual(['MANIFEST_UNKNOWN_REFERENCE']);
  });
});
