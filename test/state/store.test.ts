import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { hasCode } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/state/atomic-write.js';
import { layout } from '../../src/state/layout.js';
import { acquireLock } from '../../src/state/lock.js';
import { transition } from '../../src/state/record.js';
import { StateStore } from '../../src/state/store.js';
import { desiredOne, recordFor } from '../support/plan-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'corral-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

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

  test('a corrupt record is set aside and reported, the others still load', async () => {
    const l = layout(join(root, 'b'));
    const store = new StateStore(l);
    await store.load();
    const d = await desiredOne('good');
    await store.put(recordFor(d));
    writeFileSync(l.record('torn'), '{"format": 1, "name": "to');
    writeFileSync(join(l.stateDir, '.good.json.tmp-1-abcd'), 'half');
    const loaded = await new StateStore(l).load();
    expect(loaded.records.map((r) => r.name)).toEqual(['good']);
    expect(loaded.diagnostics.map((x) => [x.code, x.container])).toEqual([['STATE_CORRUPT', 'torn']]);
    expect(readdirSync(join(l.stateDir, 'corrupt'))).toHaveLength(1);
    expect(readdirSync(l.stateDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
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
