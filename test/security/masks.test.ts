// Paths the container controls (CVE-2025-31133 class): masked paths are bind mounts of the
// container's /dev/null. If a mount could put a host file there, every mask would become that
// file, writable. validate refuses such mounts; the runtime, given one anyway, refuses to mask with
// anything but the null device, and resolves every mask target inside the root without magic links.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { start } from '../../src/drivers/namespaces/runtime.js';
import { hasCode } from '../../src/errors.js';
import type { ContainerSpec, MountSpec } from '../../src/manifest/spec.js';
import { requireRoot } from '../support/root.js';
import { makeHarness, mountsLeaked, specOf, type Harness } from '../drivers/namespaces/harness.js';
import { exploitDir } from './build.js';
import { expectContained, parseResults, tally, type Result } from './results.js';

const bind = (source: string, target: string): MountSpec => ({ type: 'bind', source, target, readOnly: false, propagation: 'rprivate', recursive: true, options: [], idmap: null });

const root = requireRoot();
(root ? describe : describe.skip)('attack: masks made from something the container put in place', () => {
  let h: Harness;
  let dir: string;
  let hostFile: string;
  const all: Result[] = [];
  beforeAll(() => {
    h = makeHarness('sec-masks');
    dir = mkdtempSync(join(tmpdir(), 'corral-sec-masks-'));
    hostFile = join(dir, 'host-file');
    writeFileSync(hostFile, 'host data\n');
  });
  afterAll(async () => {
    tally('masks', all);
    await h?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('validate refuses a mount over /dev/null', async () => {
    await expect(specOf('v', `mounts: [{type: bind, source: ${hostFile}, target: /dev/null}]\ncommand: [/bin/true]`)).rejects.toThrow(/would replace `\/dev\/null`/);
  });

  test.each([
    ['a host file', (): string => hostFile],
    ['another character device (/dev/zero)', (): string => '/dev/zero'],
  ])('the runtime refuses to mask with %s bound over /dev/null, and the host file is untouched', async (_what, source) => {
    const valid = await specOf('masknull', `mounts: [{type: bind, source: ${exploitDir()}, target: /x, readOnly: true}]\ncommand: [/x/exploit, masks]`);
    const spec: ContainerSpec = { ...valid, mounts: [...valid.mounts, bind(source(), '/dev/null')] };
    const err = await start(h.spawnSpec(spec)).then((r) => r, (e: unknown) => e);
    expect(hasCode(err, 'CONTAINER_PATH_UNSAFE')).toBe(true);
    expect((err as Error).message).toMatch(/not the null device/);
    expect(readFileSync(hostFile, 'utf8')).toBe('host data\n');
    all.push({ name: `mask-source:${source()}`, verdict: 'BLOCKED', detail: 'CONTAINER_PATH_UNSAFE' });
  });

  test('a masked path that is a symlink in the image cannot send the mask (or a write) elsewhere', async () => {
    mkdirSync(join(h.fs.lower, 'etc'), { recursive: true });
    symlinkSync('/proc/self/fd/1', join(h.fs.lower, 'etc/secret-link'));
    const valid = await specOf('masklink', 'security: {maskedPaths: [/etc/secret-link]}\ncommand: [/bin/true]');
    const err = await start(h.spawnSpec(valid)).then((r) => r, (e: unknown) => e);
    expect(hasCode(err, 'CONTAINER_SETUP_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/mask \/etc\/secret-link: ELOOP/);
  });

  test('in a default container every masked path is the null device or an empty directory', async () => {
    const spec = await specOf('maskok', `mounts: [{type: bind, source: ${exploitDir()}, target: /x, readOnly: true}]\ncommand: [/x/exploit, masks]`);
    const r = await h.run(spec);
    const results = parseResults(r.stdout);
    all.push(...results);
    expectContained(results, ['mask:/proc/keys', 'mask:/proc/timer_list', 'mask:/dev/null']);
  });
});
