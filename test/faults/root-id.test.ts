// A state root's identity: written once, atomically, never changed, agreed on by corrals that
// start at once on a fresh root; and the cgroup parent named after it (one place decides).

import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { cgroupParentFor } from '../../src/cli/open-host.js';
import { hasCode } from '../../src/errors.js';
import { layout } from '../../src/state/layout.js';
import { ensureRootId, readRootId } from '../../src/state/root-id.js';
import { sandbox, type Sandbox } from '../support/host-sandbox.js';
import { requireRoot } from '../support/root.js';
import { rejection } from '../support/rejection.js';

describe('root id', () => {
  const base = mkdtempSync(join(tmpdir(), 'corral-rootid-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  test('made once, when missing: 128 random bits, the same ever after', async () => {
    const l = layout(join(base, 'one'));
    expect(readRootId(l)).toBeNull();
    const id = await ensureRootId(l);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(statSync(l.rootIdFile).mode & 0o777).toBe(0o644);
    expect(await ensureRootId(l)).toBe(id);
    expect(readRootId(l)).toBe(id);
    // No temp file left behind.
    expect(readdirSync(l.root)).toEqual(['root-id']);
  });

  test('corrals starting at once on a fresh root agree on one id', async () => {
    const l = layout(join(base, 'race'));
    const ids = await Promise.all(Array.from({ length: 20 }, () => ensureRootId(l)));
    expect(new Set(ids).size).toBe(1);
    expect(readRootId(l)).toBe(ids[0]);
  });

  test('a damaged id is refused, never replaced', async () => {
    const l = layout(join(base, 'bad'));
    await ensureRootId(l);
    writeFileSync(l.rootIdFile, 'not-an-id\n');
    const err = await rejection(ensureRootId(l));
    expect(hasCode(err, 'STATE_CORRUPT')).toBe(true);
    expect((err as Error).message).toContain(l.rootIdFile);
  });

  test('the cgroup parent: configured, `corral` for the default root, `corral-<short id>` for any other', () => {
    const id = '0123456789abcdef0123456789abcdef';
    expect(cgroupParentFor('/var/lib/corral', id, {})).toBe('corral');
    expect(cgroupParentFor('/var/lib/corral', null, {})).toBe('corral');
    expect(cgroupParentFor('/srv/corral', id, {})).toBe('corral-01234567');
    expect(cgroupParentFor('/srv/corral', null, {})).toBeNull();
    expect(cgroupParentFor('/srv/corral', id, { CORRAL_CGROUP_PARENT: 'mine' })).toBe('mine');
  });
});

describe('root id through the CLI', () => {
  let sb: Sandbox | undefined;
  beforeAll(() => {
    if (requireRoot()) sb = sandbox('rootid', { defaultParent: true });
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('`corral info` shows none and makes none; the first command that opens the root makes it, for good', () => {
    if (!sb) return;
    const before = JSON.parse(sb.run('info', '--output', 'json').stdout);
    expect(before.root).toEqual({ path: sb.root, id: null });
    expect(before.cgroups.parentName).toBeNull();
    expect(existsSync(join(sb.root, 'root-id'))).toBe(false);
    expect(sb.run('plan').code).toBe(0);
    const id = sb.rootId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    // Planning changes nothing on the host: no cgroup parent yet (reconcile makes it).
    const parents = (): string[] => readdirSync('/sys/fs/cgroup').filter((h) => existsSync(join('/sys/fs/cgroup', h, `corral-${id!.slice(0, 8)}`)));
    expect(parents()).toEqual([]);
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(parents().length).toBeGreaterThan(0);
    expect(sb.rootId()).toBe(id);
    const info = JSON.parse(sb.run('info', '--output', 'json').stdout);
    expect(info.root.id).toBe(id);
    expect(info.cgroups.parentName).toBe(`corral-${id!.slice(0, 8)}`);
    expect(info.cgroups.parents.every((p: { state: string }) => p.state === 'corral')).toBe(true);
    expect(sb.run('info').stdout).toContain(`id         ${id}`);
  });
});
