// corral image / volume / gc, driven through their commander commands as main.ts would mount them.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Command } from 'commander';
import { gcCommand } from '../../../src/cli/commands/gc.js';
import { humanBytes, imageCommand } from '../../../src/cli/commands/image.js';
import { volumeCommand } from '../../../src/cli/commands/volume.js';
import { ensureVolume, prepareRootfs } from '../../../src/drivers/overlay/index.js';
import { hasCode } from '../../../src/errors.js';
import { layout } from '../../../src/state/layout.js';
import { busyboxEntries, writeOciLayout } from '../../support/oci.js';
import { requireRoot } from '../../support/root.js';
import { cleanup, tempDir, writeTar } from './helpers.js';

let work: string;
let root: string;

beforeAll(() => {
  work = tempDir('cli');
  root = join(work, 'state');
});
afterAll(() => cleanup(work));

async function run(args: string[], deps: { users?: string[] } = {}): Promise<string> {
  const program = new Command('corral').option('--root <dir>').option('--log-level <level>').exitOverride();
  program.addCommand(imageCommand(deps.users ? { imageUsers: () => () => deps.users! } : {}));
  program.addCommand(volumeCommand());
  program.addCommand(gcCommand());
  for (const c of program.commands) {
    c.exitOverride();
    for (const s of c.commands) s.exitOverride();
  }
  const chunks: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['--root', root, ...args], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

describe('corral image', () => {
  test('import (OCI layout and tarball), ls, rm with json output', async () => {
    if (!requireRoot()) return;
    const oci = join(work, 'oci');
    writeOciLayout(oci, { layers: [{ entries: busyboxEntries() }], config: { Cmd: ['/bin/sh'] } });
    const text = await run(['image', 'import', oci, '--name', 'bb:1.0']);
    expect(text).toMatch(/^imported bb:1\.0 sha256:[a-f0-9]{64} \(1 layer, 1 new, \d+(\.\d)? MiB\)\n$/);

    const tarball = writeTar(work, 'root.tar.gz', [{ type: 'file', path: 'hello', content: 'hi' }], true);
    const imported = JSON.parse(await run(['image', 'import', tarball, '--name', 'tiny', '-o', 'json'])) as { changed: boolean; image: { digest: string; source: { kind: string } } };
    expect(imported.changed).toBe(true);
    expect(imported.image.source.kind).toBe('tar');
    // the same tarball again: same digest, nothing changed
    const again = JSON.parse(await run(['image', 'import', tarball, '--name', 'tiny', '-o', 'json'])) as { changed: boolean; image: { digest: string }; reusedLayers: string[] };
    expect(again.changed).toBe(false);
    expect(again.image.digest).toBe(imported.image.digest);
    expect(again.reusedLayers).toHaveLength(1);

    const ls = await run(['image', 'ls']);
    expect(ls.split('\n')[0]).toMatch(/^NAME\s+TAG\s+DIGEST\s+LAYERS\s+SIZE\s+IMPORTED$/);
    expect(ls).toMatch(/^bb\s+1\.0\s+[a-f0-9]{12}\s+1\s+/m);
    const listed = JSON.parse(await run(['image', 'ls', '-o', 'json'])) as { formatVersion: number; images: Array<{ name: string; bytes: number }> };
    expect(listed.formatVersion).toBe(1);
    expect(listed.images.map((i) => i.name)).toEqual(['bb', 'tiny']);

    // refused while in use (injected users), then by default through prepared rootfs records
    await expect(run(['image', 'rm', 'tiny'], { users: ['web'] })).rejects.toMatchObject({ code: 'IMAGE_IN_USE' });
    prepareRootfs(root, 'user-of-bb', { rootfs: { kind: 'image', name: 'bb', tag: '1.0' }, readOnlyRootfs: false });
    const inUse = await run(['image', 'rm', 'bb:1.0']).catch((e: unknown) => e);
    expect(hasCode(inUse, 'IMAGE_IN_USE')).toBe(true);
    expect((inUse as Error).message).toBe('image `bb:1.0` is used by container `user-of-bb`');
    expect(await run(['image', 'rm', 'tiny'])).toBe('removed tiny:latest (1 layer freed)\n');
    await expect(run(['image', 'rm', 'tiny'])).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await expect(run(['image', 'import', tarball, '--name', 'Bad Name'])).rejects.toMatchObject({ code: 'MANIFEST_INVALID_FORMAT' });
  });
});

describe('corral volume and gc', () => {
  test('volume ls/rm and gc with json output', async () => {
    if (!requireRoot()) return;
    writeFileSync(join(ensureVolume(root, 'cache'), 'f'), 'x'.repeat(5000));
    expect(await run(['volume', 'ls'])).toMatch(/^NAME\s+SIZE\s+PATH\ncache\s+\d+(\.\d)? KiB\s+\S+cache\/data\n$/);
    const json = JSON.parse(await run(['volume', 'ls', '-o', 'json'])) as { volumes: Array<{ name: string }> };
    expect(json.volumes.map((v) => v.name)).toEqual(['cache']);
    expect(await run(['volume', 'rm', 'cache'])).toMatch(/^removed volume cache \(/);
    await expect(run(['volume', 'rm', 'cache'])).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });

    // `user-of-bb` has no state record, so gc takes its root (and then the image's layers stay: the image record holds them)
    const dry = JSON.parse(await run(['gc', '--dry-run', '-o', 'json'])) as { changed: boolean; containers: string[] };
    expect(dry).toMatchObject({ changed: false, containers: ['user-of-bb'] });
    expect(existsSync(layout(root).container('user-of-bb').upper)).toBe(true);
    expect(await run(['gc'])).toMatch(/^removed 1 container root, 0 layers, 0 host-root skeletons, 0 staging directories; /);
    expect(existsSync(layout(root).container('user-of-bb').dir)).toBe(false);
  });

  test('human sizes', () => {
    expect([0, 1023, 1536, 10 * 1024 * 1024, 3 * 1024 ** 3].map(humanBytes)).toEqual(['0 B', '1023 B', '1.5 KiB', '10 MiB', '3.0 GiB']);
  });
});
