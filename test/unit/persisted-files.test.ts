// Manifest results kept between processes (src/manifest/persisted-files.ts, src/state/manifest-cache.ts):
// a set loaded from the cache is the set loaded from the files, and nothing stale is ever reused.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { loadManifestSet, type ManifestSet } from '../../src/manifest/manifest-set.js';
import type { PersistedFile, PersistedFiles } from '../../src/manifest/persisted-files.js';
import { ManifestCacheFile } from '../../src/state/manifest-cache.js';
import { manifest, memorySource } from '../support/memory-source.js';
import { validator } from '../support/schema.js';

class MemoryStore implements PersistedFiles {
  readonly entries = new Map<string, PersistedFile>();
  gets = 0;
  hits = 0;
  constructor(readonly version = 'v1') {}
  get(key: string) {
    this.gets++;
    const found = this.entries.get(key);
    if (found) this.hits++;
    return found;
  }
  set(key: string, file: PersistedFile) {
    this.entries.set(key, structuredClone(file));
  }
}

/** What a caller sees of a set (functions dropped, through JSON as a stored entry is). */
const seen = (set: ManifestSet) => JSON.parse(JSON.stringify(set)) as unknown;

const FILES = {
  '/m/web.yaml': manifest('web', 'dependsOn: [db]\nenv: {A: "1"}\nresources: {memory: 64Mi}'),
  '/m/db.yaml': `${manifest('db', 'restart: always')}---\napiVersion: corral/v1\nkind: Network\nmetadata:\n  name: backend\nspec:\n  subnet: 10.88.0.0/24\n`,
  '/m/odd.yaml': manifest('odd', 'workingDir: /srv', 'unknownTop: 1\n'),
};

describe('a set from the cache', () => {
  test('equals the set from the files: specs, hashes, networks, warnings and errors', async () => {
    const store = new MemoryStore();
    const fresh = await loadManifestSet(memorySource(FILES), { validator, persisted: store });
    const again = await loadManifestSet(memorySource(FILES), { validator, persisted: store });
    expect(store.hits).toBeGreaterThan(0);
    expect(seen(again)).toEqual(seen(fresh));
    expect(seen(fresh)).toEqual(seen(await loadManifestSet(memorySource(FILES), { validator })));
  });

  test('a file with an error is never stored: its diagnostics always come from the parser', async () => {
    const store = new MemoryStore();
    await loadManifestSet(memorySource({ '/m/bad.yaml': 'apiVersion: corral/v1\nkind: Container\nmetadata: {name: [x' }), { validator, persisted: store });
    await loadManifestSet(memorySource({ '/m/bad.yaml': manifest('bad', 'memory: lots') }), { validator, persisted: store });
    expect(store.entries.size).toBe(0);
  });

  test('an error across files (a duplicate name) is placed in each file as without the cache', async () => {
    const files = { '/m/a.yaml': manifest('same'), '/m/b.yaml': `# a comment first\n\n${manifest('same')}` };
    const store = new MemoryStore();
    const expected = await loadManifestSet(memorySource(files), { validator, persisted: store });
    expect(expected.diagnostics.some((d) => d.severity === 'error')).toBe(true);
    const cached = await loadManifestSet(memorySource(files), { validator, persisted: store });
    expect(store.hits).toBe(2);
    expect(cached.diagnostics).toEqual(expected.diagnostics);
    expect(cached.diagnostics.map((d) => d.source?.line)).toContain(6);
  });

  test('one changed byte, another path or another build is a miss', async () => {
    const store = new MemoryStore('build-a');
    await loadManifestSet(memorySource({ '/m/w.yaml': manifest('w') }), { validator, persisted: store });
    await loadManifestSet(memorySource({ '/m/w.yaml': manifest('w', 'env: {A: "2"}') }), { validator, persisted: store });
    await loadManifestSet(memorySource({ '/n/w.yaml': manifest('w') }), { validator, persisted: store });
    expect(store.hits).toBe(0);
    const other = new MemoryStore('build-b');
    for (const [k, v] of store.entries) other.entries.set(k, v);
    await loadManifestSet(memorySource({ '/m/w.yaml': manifest('w') }), { validator, persisted: other });
    expect(other.hits).toBe(0);
  });

  test('an entry that is not what this code stores (a hand-edited cache) is parsed again', async () => {
    const store = new MemoryStore();
    const files = { '/m/w.yaml': manifest('w') };
    const fresh = await loadManifestSet(memorySource(files), { validator, persisted: store });
    for (const entry of store.entries.values()) (entry.docs[0]!.value as { kind: string }).kind = 'Network';
    expect(seen(await loadManifestSet(memorySource(files), { validator, persisted: store }))).toEqual(seen(fresh));
  });

  test('bytes that are not UTF-8 are neither looked up nor stored', async () => {
    const store = new MemoryStore();
    const bytes = new Uint8Array([...new TextEncoder().encode(manifest('w')), 0xff, 0xfe]);
    await loadManifestSet(memorySource({ '/m/w.yaml': bytes }), { validator, persisted: store });
    expect(store.gets).toBe(0);
    expect(store.entries.size).toBe(0);
  });
});

describe('the cache file in the state root', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-manifest-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'cache', 'manifests.json');

  test('round-trips, is written only when something was added, and is private', async () => {
    const first = await ManifestCacheFile.open(path, 'v1');
    const set = await loadManifestSet(memorySource(FILES), { validator, persisted: first });
    await first.save();
    const text = readFileSync(path, 'utf8');
    const second = await ManifestCacheFile.open(path, 'v1');
    expect(seen(await loadManifestSet(memorySource(FILES), { validator, persisted: second }))).toEqual(seen(set));
    writeFileSync(path, text.replace('"format":1', '"format":1 '));
    await second.save();
    expect(readFileSync(path, 'utf8')).toBe(text.replace('"format":1', '"format":1 '));
  });

  test('a damaged file, or one from another build, is an empty cache', async () => {
    writeFileSync(path, '{"format":1,"version":"v1","entries":[[');
    const damaged = await ManifestCacheFile.open(path, 'v1');
    expect(damaged.get('anything')).toBeUndefined();
    const store = await ManifestCacheFile.open(path, 'v1');
    await loadManifestSet(memorySource(FILES), { validator, persisted: store });
    await store.save();
    const other = await ManifestCacheFile.open(path, 'v2');
    const probe = new MemoryStore('v1');
    await loadManifestSet(memorySource(FILES), { validator, persisted: probe });
    for (const key of probe.entries.keys()) expect(other.get(key)).toBeUndefined();
  });
});
