import { describe, expect, test } from '@jest/globals';
import { canonicalCopy, canonicalJson, inCanonicalOrder, sameJsonValue, specHash, withLaterDefaults } from '../../src/manifest/hash.js';
import { loadOne } from '../support/schema.js';

async function hashOf(text: string): Promise<string> {
  const { spec, errors } = await loadOne(text);
  expect(errors).toEqual([]);
  return specHash(spec!);
}

const BASE = `apiVersion: corral/v1
kind: Container
metadata: {name: web, labels: {a: "1", b: "2"}}
spec:
  rootfs: {host: {}}
  command: [/bin/sh, -c, "sleep 1d"]
  env: {A: "1", B: "2"}
  resources: {memory: 256Mi, cpus: "0.5"}
  mounts:
    - {type: tmpfs, target: /tmp}
    - {type: volume, name: data, target: /data}
`;

describe('spec hash', () => {
  test('is a sha256', async () => expect(await hashOf(BASE)).toMatch(/^sha256:[0-9a-f]{64}$/));

  test('is the one corral gave this manifest before (a changed serialization would restart every container)', async () => {
    // Computed with the replacer-based canonicalJson of 5a1336b.
    expect(await hashOf(BASE)).toBe('sha256:f640df8a83acd54750e2df51581515bc995197ed4e5cb52c8161e5ce274c81e6');
    expect(canonicalJson({ b: [1, { d: '\u00e9', c: null }], a: { 10: 1, 2: 2, z: true } })).toBe('{"a":{"2":2,"10":1,"z":true},"b":[1,{"c":null,"d":"\u00e9"}]}');
  });

  test('ignores key order, formatting, comments, quoting and equivalent spellings', async () => {
    const reordered = `# a comment
kind: Container
apiVersion: "corral/v1"
spec:
  mounts:
  - target: /tmp
    type: tmpfs
  - {name: data, type: volume, target: /data}
  resources:
    cpus: 500m
    memory: 268435456
  env:
  - {name: B, value: "2"}
  - {name: A, value: '1'}
  command:
  - /bin/sh
  - -c
  - sleep 1d
  rootfs:
    host: {}
metadata:
  labels: {b: "2", a: "1"}
  name: web
`;
    expect(await hashOf(reordered)).toBe(await hashOf(BASE));
  });

  test('writing a default explicitly does not change it', async () => {
    const explicit = BASE.replace('  env:', '  restartPolicy: Always\n  stopTimeout: 10s\n  readOnlyRootfs: false\n  env:');
    expect(await hashOf(explicit)).toBe(await hashOf(BASE));
  });

  const changes: Array<[string, (s: string) => string]> = [
    ['name', (s) => s.replace('name: web', 'name: web2')],
    ['label value', (s) => s.replace('b: "2"}', 'b: "3"}')],
    ['command', (s) => s.replace('sleep 1d', 'sleep 2d')],
    ['env value', (s) => s.replace('B: "2"', 'B: "3"')],
    ['env added', (s) => s.replace('B: "2"}', 'B: "2", C: ""}')],
    ['memory', (s) => s.replace('256Mi', '257Mi')],
    ['cpus', (s) => s.replace('"0.5"', '"0.6"')],
    ['mount target', (s) => s.replace('target: /tmp', 'target: /tmp2')],
    ['volume name', (s) => s.replace('name: data', 'name: data2')],
    ['rootfs', (s) => s.replace('{host: {}}', '{path: /srv/root}')],
    ['restart policy', (s) => s.replace('  env:', '  restartPolicy: Never\n  env:')],
    ['read-only root', (s) => s.replace('  env:', '  readOnlyRootfs: true\n  env:')],
    ['stop signal', (s) => s.replace('  env:', '  stopSignal: SIGINT\n  env:')],
    ['capabilities', (s) => s.replace('  env:', '  security: {capabilities: {drop: [NET_RAW]}}\n  env:')],
    ['user', (s) => s.replace('  env:', '  user: {uid: 1}\n  env:')],
  ];
  test.each(changes)('changes when the %s changes', async (_what, edit) => {
    expect(await hashOf(edit(BASE))).not.toBe(await hashOf(BASE));
  });

  test('referenced digests are part of it', async () => {
    const { spec } = await loadOne(BASE);
    expect(specHash(spec!, { image: 'sha256:aa' })).not.toBe(specHash(spec!, { image: 'sha256:bb' }));
  });

  test('canonical JSON sorts keys and refuses non-finite numbers', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined })).toBe('{"a":[true,null,"x"],"b":1}');
    expect(() => canonicalJson({ a: Infinity })).toThrow();
  });

  test('a canonical copy serializes to the canonical JSON, and reads back recognized as in order', () => {
    // Keys JavaScript orders by number (`2` before `10`, both before `a`), non-ASCII keys, nesting.
    let seed = 7;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const keys = ['b', 'a', '10', '2', 'é', 'Z', 'aa', '0', '01', '-1', 'spec', 'x y', '4294967295'];
    const value = (depth: number): unknown => {
      const k = rand(depth > 3 ? 4 : 7);
      if (k === 0) return rand(1000) - 500;
      if (k === 1) return `s${rand(50)}\u00e9"\\`;
      if (k === 2) return rand(2) === 0;
      if (k === 3) return null;
      if (k === 4) return Array.from({ length: rand(4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = rand(6); i > 0; i--) o[keys[rand(keys.length)]!] = value(depth + 1);
      return o;
    };
    for (let i = 0; i < 300; i++) {
      const v = value(0);
      const text = JSON.stringify(canonicalCopy(v));
      expect(text).toBe(canonicalJson(v));
      const read = JSON.parse(text) as unknown;
      expect(inCanonicalOrder(read)).toBe(true);
      expect(JSON.stringify(read)).toBe(canonicalJson(read));
    }
    // sameJsonValue agrees with comparing canonical JSON, on pairs equal and not.
    for (let i = 0; i < 300; i++) {
      const v = value(0);
      const w = i % 3 === 0 ? JSON.parse(canonicalJson(v)) as unknown : value(0);
      expect(sameJsonValue(v, w)).toBe(canonicalJson(v) === canonicalJson(w));
    }
    expect(sameJsonValue({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJsonValue([undefined], [null])).toBe(true);
    expect(sameJsonValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJsonValue({ a: [1] }, { a: { 0: 1 } })).toBe(false);
    expect(inCanonicalOrder(JSON.parse('{"b":1,"a":2}'))).toBe(false);
    expect(inCanonicalOrder(JSON.parse('{"a":{"d":1,"c":2}}'))).toBe(false);
    expect(inCanonicalOrder(JSON.parse('{"a":[{"z":1,"y":2}]}'))).toBe(false);
    expect(inCanonicalOrder(JSON.parse('{"a":1,"10":2,"2":3}'))).toBe(true);
    expect(() => canonicalCopy({ a: Number.NaN })).toThrow();
    // The JSON value: what JSON cannot hold is left out of objects and null in arrays.
    const odd = { b: undefined, a: [undefined, () => 1, new Date(0)], c: { toJSON: () => 'x' } };
    expect(canonicalCopy(odd)).toEqual(JSON.parse(JSON.stringify(odd)));
    expect(Object.keys(canonicalCopy(odd) as object)).toEqual(['a', 'c']);
  });
});

describe('fields added after the hash format was fixed', () => {
  test('the default device policy leaves the hash of a spec written before it existed unchanged', async () => {
    const { spec } = await loadOne(BASE);
    const { devices, ...before } = spec!;
    expect(devices.allow.length).toBeGreaterThan(0);
    expect(specHash(before as typeof spec & object)).toBe(specHash(spec!));
    // A record written then reads back with the default filled in, equal to a fresh spec.
    expect(withLaterDefaults(before as typeof spec & object)).toEqual(spec);
  });

  test('asking for a host device changes the hash', async () => {
    const withDevice = `${BASE}  devices: [{path: /dev/fuse}]\n`;
    expect(await hashOf(withDevice)).not.toBe(await hashOf(BASE));
  });
});
