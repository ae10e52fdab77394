// User-namespace id ranges, the file half: corral's entry appended to a (temporary) subuid and
// subgid file, and the slots kept in a state root. Never touches the real /etc files.

import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { Actions, type RecordSink } from '../../src/reconciler/apply/actions.js';
import type { Change } from '../../src/reconciler/plan/types.js';
import { POOL_COUNT, POOL_MIN_START, SLOT_SIZE, type IdPool } from '../../src/reconciler/user-ranges.js';
import type { ContainerRecord } from '../../src/state/record.js';
import { ensurePool, readPool, subidConfig, userRangeSlots, UserRangeSlots, usernsDir, type SubidConfig } from '../../src/state/subid-pool.js';
import { FakeHost } from '../support/fake-host.js';
import { desiredOne } from '../support/plan-fixtures.js';

const base = mkdtempSync(join(tmpdir(), 'corral-subid-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => mkdtempSync(join(base, `${n++}-`));

function files(uid: string | null, gid: string | null): SubidConfig {
  const dir = fresh();
  const config = { name: 'corral', subuidFile: join(dir, 'subuid'), subgidFile: join(dir, 'subgid') };
  if (uid !== null) writeFileSync(config.subuidFile, uid, { mode: 0o644 });
  if (gid !== null) writeFileSync(config.subgidFile, gid, { mode: 0o644 });
  return config;
}

const POOL: IdPool = { start: POOL_MIN_START, count: 16 * SLOT_SIZE };
const slots = (): UserRangeSlots => new UserRangeSlots(join(fresh(), 'userns'), async () => POOL);

describe('subuid and subgid files', () => {
  test('configuration from the environment the CLI passes', () => {
    expect(subidConfig({})).toEqual({ name: 'corral', subuidFile: '/etc/subuid', subgidFile: '/etc/subgid' });
    expect(subidConfig({ CORRAL_SUBID_NAME: 'ctr', CORRAL_SUBUID_FILE: '/x/u', CORRAL_SUBGID_FILE: '/x/g' })).toEqual({ name: 'ctr', subuidFile: '/x/u', subgidFile: '/x/g' });
  });

  test('a missing entry is appended to both files, with the same start, other lines and mode kept', async () => {
    const uidText = '# people\nalice:100000:65536\n\nbob:165536:65536';
    const gidText = 'alice:100000:65536\nsvc:3000000:65536\n';
    const config = files(uidText, gidText);
    chmodSync(config.subgidFile, 0o640);
    // Plan reads, and writes nothing.
    const planned = await readPool(config);
    expect(readFileSync(config.subuidFile, 'utf8')).toBe(uidText);
    const start = Math.ceil(3_065_536 / SLOT_SIZE) * SLOT_SIZE;
    expect(planned).toEqual({ pool: { start, count: POOL_COUNT }, missing: true });

    expect(await ensurePool(config)).toEqual({ start, count: POOL_COUNT });
    expect(readFileSync(config.subuidFile, 'utf8')).toBe(`${uidText}\ncorral:${start}:${POOL_COUNT}\n`);
    expect(readFileSync(config.subgidFile, 'utf8')).toBe(`${gidText}corral:${start}:${POOL_COUNT}\n`);
    expect(statSync(config.subuidFile).mode & 0o7777).toBe(0o644);
    expect(statSync(config.subgidFile).mode & 0o7777).toBe(0o640);
    // No temp file left beside them.
    expect(readdirSync(join(config.subuidFile, '..')).sort()).toEqual(['subgid', 'subuid']);
    // Found the next time: nothing appended twice.
    expect(await ensurePool(config)).toEqual({ start, count: POOL_COUNT });
    expect(readFileSync(config.subuidFile, 'utf8').match(/corral:/g)).toHaveLength(1);
    expect(await readPool(config)).toEqual({ pool: { start, count: POOL_COUNT }, missing: false });
  });

  test('files that do not exist are created 0644', async () => {
    const config = files(null, null);
    expect(await ensurePool(config)).toEqual({ start: POOL_MIN_START, count: POOL_COUNT });
    expect(readFileSync(config.subuidFile, 'utf8')).toBe(`corral:${POOL_MIN_START}:${POOL_COUNT}\n`);
    expect(statSync(config.subgidFile).mode & 0o7777).toBe(0o644);
  });

  test('an existing entry is used as it is; one with host id 0 is refused', async () => {
    const config = files('corral:2097152:1048576\n', 'corral:2097152:1048576\n');
    expect(await ensurePool(config)).toEqual({ start: 2_097_152, count: 1_048_576 });
    await expect(ensurePool(files('corral:0:1048576\n', 'corral:0:1048576\n'))).rejects.toMatchObject({ code: 'HOST_UNSUPPORTED', summary: expect.stringContaining('host id 0') });
  });
});

describe('slots in the state root', () => {
  test('lowest free slot; kept by name; freed and reused', async () => {
    const s = slots();
    expect(await s.allocate('a', 65536, [])).toEqual({ hostId: POOL.start, size: 65536 });
    expect(await s.allocate('b', 1000, [])).toEqual({ hostId: POOL.start + SLOT_SIZE, size: 1000 });
    expect(JSON.parse(readFileSync(join(s.dir, 'b.json'), 'utf8'))).toEqual({ hostId: POOL.start + SLOT_SIZE, size: 1000, slot: 1 });
    // Asked again (a restart, a recreate whose record was dropped): the same.
    expect(await s.allocate('a', 65536, [])).toEqual({ hostId: POOL.start, size: 65536 });
    await s.release('a');
    await s.release('a');
    expect(existsSync(join(s.dir, 'a.json'))).toBe(false);
    expect(await s.allocate('c', 10, [])).toEqual({ hostId: POOL.start, size: 10 });
    expect([...(await s.list()).keys()].sort()).toEqual(['b', 'c']);
  });

  test('more than 65536 ids take consecutive slots; ranges of records are avoided', async () => {
    const s = slots();
    await s.allocate('a', 1, []);
    const legacy = { hostId: POOL.start + 2 * SLOT_SIZE + 7, size: 65536 };
    expect(await s.allocate('big', 2 * SLOT_SIZE + 1, [legacy])).toEqual({ hostId: POOL.start + 4 * SLOT_SIZE, size: 2 * SLOT_SIZE + 1 });
    expect(await s.allocate('next', 1, [legacy])).toEqual({ hostId: POOL.start + SLOT_SIZE, size: 1 });
    await expect(s.allocate('huge', 16 * SLOT_SIZE, [])).rejects.toMatchObject({ code: 'APPLY_FAILED' });
  });

  test('parallel allocations never share a slot', async () => {
    const s = slots();
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => s.allocate(`c${i}`, 65536, [])));
    expect(new Set(got.map((r) => r.hostId)).size).toBe(10);
  });

  test('a damaged slot file of another container stops allocation; its own is replaced', async () => {
    const s = slots();
    await s.allocate('a', 1, []);
    writeFileSync(join(s.dir, 'a.json'), '{"hostId":');
    s.beginPass();
    expect(await s.allocate('a', 1, [])).toEqual({ hostId: POOL.start, size: 1 });
    writeFileSync(join(s.dir, 'a.json'), 'nope');
    s.beginPass();
    await expect(s.allocate('b', 1, [])).rejects.toMatchObject({ code: 'STATE_CORRUPT', container: 'a' });
  });

  test('one pass reads the directory once; the next pass reads it again', async () => {
    const s = slots();
    await s.allocate('a', 1, []);
    // Within a pass the state lock keeps other writers out, so the pass does not read every slot
    // file again for each container it starts. A damaged file shows when it is read: next pass.
    writeFileSync(join(s.dir, 'x.json'), 'nope');
    expect(await s.allocate('b', 1, [])).toEqual({ hostId: POOL.start + SLOT_SIZE, size: 1 });
    s.beginPass();
    await expect(s.allocate('c', 1, [])).rejects.toMatchObject({ code: 'STATE_CORRUPT', container: 'x' });
  });

  test('prune frees the slots of containers without a record', async () => {
    const s = slots();
    await s.allocate('a', 1, []);
    await s.allocate('b', 1, []);
    expect(await s.prune(new Set(['a']))).toEqual(['b']);
    expect([...(await s.list()).keys()]).toEqual(['a']);
  });

  test('the pool is resolved (and the files written) only at the first allocation', async () => {
    const root = fresh();
    const config = files('', '');
    const s = userRangeSlots(root, config);
    expect(s.dir).toBe(usernsDir(root));
    expect(readFileSync(config.subuidFile, 'utf8')).toBe('');
    expect(await s.allocate('a', 65536, [])).toEqual({ hostId: POOL_MIN_START, size: 65536 });
    expect(readFileSync(config.subuidFile, 'utf8')).toBe(`corral:${POOL_MIN_START}:${POOL_COUNT}\n`);
  });
});

describe('apply with auto user namespaces', () => {
  class MemorySink implements RecordSink {
    currentSerial = 0;
    readonly records = new Map<string, ContainerRecord>();
    async put(record: ContainerRecord): Promise<ContainerRecord> {
      const written = { ...record, serial: ++this.currentSerial };
      this.records.set(record.name, written);
      return written;
    }
    async remove(name: string): Promise<void> {
      this.records.delete(name);
    }
  }

  const change = (name: string, action: Change['action'], after: Change['after'], before: Change['before'] = null): Change => ({
    name, action, reasons: [], diff: [], before, after, afterHash: after ? 'h' : null, afterReferences: {}, origin: null, requiresReplace: [], notBefore: null, warnings: [],
  });

  test('create takes a slot, a recreate without its record keeps it, remove frees it', async () => {
    const auto = await desiredOne('web', 'namespaces: {user: {enabled: true, auto: {size: 65536}}}');
    const other = await desiredOne('db', 'namespaces: {user: {enabled: true, auto: {size: 100000}}}');
    const plain = await desiredOne('web');
    const host = new FakeHost();
    const s = slots();
    const sink = new MemorySink();
    const ctx = { ports: host.ports(), signal: new AbortController().signal, stepTimeoutMs: 10_000 };
    const actions = new Actions(new Map(), ctx, sink, () => new Date(), s);

    await actions.run(change('web', 'create', auto.spec));
    await actions.run(change('db', 'create', other.spec));
    expect(sink.records.get('web')!.userRange).toEqual({ hostId: POOL.start, size: 65536 });
    expect(sink.records.get('db')!.userRange).toEqual({ hostId: POOL.start + SLOT_SIZE, size: 100000 });

    // A fresh apply that has lost web's record (a recreate from scratch): the same range.
    const again = new Actions(new Map([['db', sink.records.get('db')!]]), { ...ctx, ports: new FakeHost().ports() }, sink, () => new Date(), s);
    await again.run(change('web', 'create', auto.spec));
    expect(sink.records.get('web')!.userRange).toEqual({ hostId: POOL.start, size: 65536 });

    // Without a user namespace any more: no range, its slot freed.
    await again.run(change('web', 'recreate', plain.spec, auto.spec));
    expect(sink.records.get('web')!.userRange).toBeNull();
    expect([...(await s.list()).keys()]).toEqual(['db']);

    await again.run(change('db', 'remove', null, other.spec));
    expect(await s.list()).toEqual(new Map());
  });

  test('without an allocator, `auto` is refused before anything is created', async () => {
    const auto = await desiredOne('web', 'namespaces: {user: {enabled: true, auto: {size: 65536}}}');
    const host = new FakeHost();
    const sink = new MemorySink();
    const actions = new Actions(new Map(), { ports: host.ports(), signal: new AbortController().signal, stepTimeoutMs: 10_000 }, sink, () => new Date());
    await expect(actions.run(change('web', 'create', auto.spec))).rejects.toMatchObject({ code: 'HOST_UNSUPPORTED' });
    expect(host.log).toEqual([]);
  });
});
