import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { hasCode } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/state/atomic-write.js';
import { layout, type Layout } from '../../src/state/layout.js';
import { acquireLock } from '../../src/state/lock.js';
import { transition } from '../../src/state/record.js';
import { StateStore } from '../../src/state/store.js';
import { poolSpec } from '../../src/manifest/spec-pool.js';
import { desiredOne, recordFor } from '../support/plan-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'corral-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A store on a new state root under `root`, loaded once (which makes its directories). */
async function openStore(dir: string): Promise<{ l: Layout; store: StateStore }> {
  const l = layout(join(root, dir));
  const store = new StateStore(l);
  await store.load();
  return { l, store };
}

describe('state store', () => {
  test('records round-trip with a growing serial, and removal bumps it too', async () => {
    const store = new StateStore(layout(join(root, 'a')));
    await store.load();
    const d = await desiredOne('web');
    const first = await store.put(recordFor(d));
    const second = await store.put({ ...first, restarts: 1 });
    expect(second.serial).toBeGreaterThan(first.serial);
    expect(await store.get('web')).toEqual(second);
    await store.remove('web');
    expect(store.currentSerial).toBeGreaterThan(second.serial);
    expect(await store.get('web')).toBeNull();
    // A fresh store (a new corral process) continues the serial.
    const again = new StateStore(layout(join(root, 'a')));
    expect((await again.load()).serial).toBe(store.currentSerial);
    expect(readdirSync(join(root, 'a', 'state')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  test('a corrupt record stays where it is, its container unknown and reported; the others still load', async () => {
    const { l, store } = await openStore('b');
    const d = await desiredOne('good');
    await store.put(recordFor(d));
    writeFileSync(l.record('torn'), '{"format": 1, "name": "to');
    writeFileSync(join(l.stateDir, '.good.json.tmp-2147483646-abcd'), 'half');
    const loaded = await new StateStore(l).load();
    expect(loaded.records.map((r) => r.name)).toEqual(['good']);
    expect(loaded.unknown).toEqual([{ name: 'torn', file: l.record('torn'), reason: expect.stringMatching(/^not JSON .*no previous version is kept$/) }]);
    expect(loaded.diagnostics.map((x) => [x.severity, x.code, x.container])).toEqual([['error', 'STATE_CORRUPT', 'torn']]);
    expect(readFileSync(l.record('torn'), 'utf8')).toBe('{"format": 1, "name": "to');
    expect(readdirSync(l.stateDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await expect(new StateStore(l).get('torn')).rejects.toMatchObject({ code: 'STATE_CORRUPT', hint: expect.stringMatching(/corral state repair torn/) });
  });

  test('records carry a checksum; a damaged one falls back to the previous version, which the next write replaces', async () => {
    const { l, store } = await openStore('c');
    const d = await desiredOne('web');
    await store.put(recordFor(d, { restarts: 1 }));
    await store.put(recordFor(d, { restarts: 2 }));
    expect(JSON.parse(readFileSync(l.record('web'), 'utf8')).checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    // A change the checksum does not cover: a bit flipped on disk, a hand edit.
    writeFileSync(l.record('web'), readFileSync(l.record('web'), 'utf8').replace('"restarts": 2', '"restarts": 7'));
    const loaded = await new StateStore(l).load();
    expect(loaded.records.map((r) => [r.name, r.restarts, r.recovered])).toEqual([['web', 1, true]]);
    expect(loaded.diagnostics.map((x) => [x.severity, x.code])).toEqual([['warning', 'STATE_CORRUPT']]);
    expect(loaded.diagnostics[0]!.summary).toMatch(/its checksum does not match its content.*using its previous version/);
    const next = new StateStore(l);
    await next.load();
    const written = await next.put(loaded.records[0]!);
    expect(written.recovered).toBeUndefined();
    expect((await new StateStore(l).load()).diagnostics).toEqual([]);
    // A record from before checksums existed still reads.
    const { checksum: _checksum, ...legacy } = JSON.parse(readFileSync(l.record('web'), 'utf8'));
    writeFileSync(l.record('web'), JSON.stringify(legacy));
    expect((await new StateStore(l).load()).records.map((r) => r.name)).toEqual(['web']);
  });

  test('a record read from disk takes the spec object its manifest made, unless its spec is unknown', async () => {
    const { l, store } = await openStore('pool');
    const d = await desiredOne('pooled');
    await store.put(recordFor(d));
    await store.put(recordFor(d, { name: 'repaired', specUnknown: true }));
    const loaded = await new StateStore(l).load();
    const byName = new Map(loaded.records.map((r) => [r.name, r]));
    expect(byName.get('pooled')!.spec).toBe(d.spec);
    expect(byName.get('repaired')!.spec).not.toBe(d.spec);
    expect(byName.get('repaired')!.spec).toEqual(d.spec);
  });

  test('get answers a record this store wrote as a read of its file would, and reads the file again once it changed', async () => {
    const { l, store } = await openStore('written');
    const d = await desiredOne('web');
    await store.put(recordFor(d, { restarts: 1 }));
    const fromDisk = await new StateStore(l).get('web');
    expect(await store.get('web')).toEqual(fromDisk);
    // Written behind this store's back (another corral process): the file's stamp moved.
    const other = new StateStore(l);
    await other.load();
    await other.put({ ...fromDisk!, restarts: 5 });
    expect((await store.get('web'))!.restarts).toBe(5);
    // Damaged after that: not hidden by what this store remembers.
    writeFileSync(l.record('web'), 'garbage');
    expect(await store.get('web')).toMatchObject({ restarts: 1, recovered: true });
  });

  test('a record is written with its keys in canonical order; one written in another order by an older corral still verifies', async () => {
    const { l, store } = await openStore('order');
    const d = await desiredOne('web');
    await store.put(recordFor(d, { restarts: 3 }));
    const text = readFileSync(l.record('web'), 'utf8');
    const { checksum, ...fields } = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(fields)).toEqual(Object.keys(fields).sort());
    // As corral wrote records before: the fields in the order the code made them.
    const reversed = Object.fromEntries(Object.entries(fields).reverse().map(([k, v]) => [k, k === 'spec' ? Object.fromEntries(Object.entries(v as object).reverse()) : v]));
    writeFileSync(l.record('web'), JSON.stringify({ ...reversed, checksum }, null, 2));
    const loaded = await new StateStore(l).load();
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.records.map((r) => r.restarts)).toEqual([3]);
    // And the order alone does not make a changed record verify.
    writeFileSync(l.record('web'), JSON.stringify({ ...reversed, restarts: 4, checksum }, null, 2));
    expect((await new StateStore(l).load()).unknown.map((u) => u.reason)).toEqual([expect.stringMatching(/^its checksum does not match its content/)]);
  });

  test('atomic writes never leave a torn file', async () => {
    const path = join(root, 'atomic.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(readdirSync(root).filter((f) => f.startsWith('.atomic'))).toEqual([]);
  });

  test('impossible status changes are refused', async () => {
    const record = recordFor(await desiredOne('web'), { status: 'removing' });
    expect(() => transition(record, 'running')).toThrow(/cannot go from `removing` to `running`/);
    expect(transition(recordFor(await desiredOne('web')), 'stopping').status).toBe('stopping');
  });

  describe('a state directory unchanged since a full read', () => {
    // The directory's mtime set back by hand stands for "nothing was renamed into it for a while".
    const settle = (dir: string): void => utimesSync(dir, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));

    test('is not read again record by record, and whatever is renamed into it is seen at once', async () => {
      const { l, store } = await openStore('settled');
      const web = await store.put(recordFor(await desiredOne('web')));
      settle(l.stateDir);
      expect((await store.load()).records).toEqual([web]);
      // Damaged in place (no rename, so the directory's mtime stays): the shortcut trusts the
      // directory, which is what shows that the record files themselves were not looked at.
      writeFileSync(l.record('web'), '{"format": 1, "name": "we');
      expect((await store.load()).records).toEqual([web]);
      // Another corral writing the way every writer does (temp file, rename): the next load reads
      // every record again, and finds the damage too.
      const other = new StateStore(l);
      await other.load();
      const db = await other.put(recordFor(await desiredOne('db')));
      const loaded = await store.load();
      expect(loaded.records.map((r) => r.name)).toEqual(['db']);
      expect(loaded.unknown.map((u) => u.name)).toEqual(['web']);
      expect(loaded.serial).toBe(db.serial);
      await other.remove('db');
      settle(l.stateDir);
      expect((await store.load()).records).toEqual([]);
    });

    test('still gives a record the spec object made after the full read (an agent\'s first manifests)', async () => {
      const { l, store } = await openStore('late-pool');
      const d = await desiredOne('late');
      // A hash nothing has pooled yet: the spec the record carries is its own copy at first.
      const hash = `sha256:${'1'.repeat(64)}`;
      await store.put(recordFor(d, { spec: structuredClone(d.spec), hash }));
      settle(l.stateDir);
      const before = (await store.load()).records[0]!;
      expect(before.spec).not.toBe(d.spec);
      poolSpec(hash, d.spec);
      expect((await store.load()).records[0]!.spec).toBe(d.spec);
      expect((await store.get('late'))!.hash).toBe(hash);
    });

    test('a read right after a change is not taken as settled', async () => {
      const { l, store } = await openStore('racy');
      await store.put(recordFor(await desiredOne('web')));
      await store.load(); // the directory changed within the last second: no shortcut from this read
      writeFileSync(l.record('web'), '{"format": 1, "name": "we');
      expect((await store.load()).unknown.map((u) => u.name)).toEqual(['web']);
    });

    test('a damaged record is never served from the shortcut: it is reported at every load', async () => {
      const { l, store } = await openStore('damaged');
      await store.put(recordFor(await desiredOne('web')));
      writeFileSync(l.record('torn'), '{"format": 1, "name": "to');
      settle(l.stateDir);
      for (let i = 0; i < 2; i++) {
        const loaded = await store.load();
        expect(loaded.unknown.map((u) => u.name)).toEqual(['torn']);
        expect(loaded.diagnostics.some((d) => d.code === 'STATE_CORRUPT')).toBe(true);
        settle(l.stateDir);
      }
    });
  });
});

describe('state lock', () => {
  const lockPath = join(root, 'lock');

  function holdInChild(): Promise<{ kill: () => Promise<void> }> {
    // A separate process holds the lock, as a second corral would.
    const script = `
      import('${join(process.cwd(), 'dist/state/lock.js')}').then(async ({ acquireLock }) => {
        await acquireLock(${JSON.stringify(lockPath)}, 'corral agent', 1000);
        process.stdout.write('held\\n');
        setInterval(() => {}, 1000);
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      child.stdout.once('data', () => resolve({
        kill: () => new Promise((done) => { child.once('exit', () => done()); child.kill('SIGKILL'); }),
      }));
      child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
    });
  }

  test('a second writer waits, then gives up naming the holder; a killed holder frees the lock', async () => {
    const holder = await holdInChild();
    try {
      let err: unknown;
      try {
        await acquireLock(lockPath, 'corral reconcile --once', 300);
      } catch (e) {
        err = e;
      }
      expect(hasCode(err, 'STATE_LOCKED')).toBe(true);
      expect((err as Error).message).toMatch(/pid \d+ \(`corral agent`, since /);
    } finally {
      await holder.kill();
    }
    const lock = await acquireLock(lockPath, 'test', 1000);
    lock.dispose();
  });

});
