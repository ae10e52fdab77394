// corral image / volume / gc, driven through their commander commands as main.ts would mount them.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Command } from 'commander';
import { dfCommand } from '../../../src/cli/commands/df.js';
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
  program.addCommand(dfCommand());
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

    // A plain root filesystem directory (debootstrap's output, say): one layer, owners kept.
    const tree = join(work, 'rootfs-dir');
    mkdirSync(join(tree, 'etc'), { recursive: true });
    writeFileSync(join(tree, 'etc', 'os-release'), 'ID=test\n');
    chownSync(join(tree, 'etc', 'os-release'), 1234, 5678);
    const fromDir = JSON.parse(await run(['image', 'import', tree, '--name', 'fromdir', '-o', 'json'])) as { image: { layers: Array<{ digest: string }>; source: { kind: string } } };
    expect(fromDir.image.source.kind).toBe('dir');
    const file = join(layout(root).layer(fromDir.image.layers[0]!.digest), 'etc', 'os-release');
    expect([readFileSync(file, 'utf8'), statSync(file).uid, statSync(file).gid]).toEqual(['ID=test\n', 1234, 5678]);
    await run(['image', 'rm', 'fromdir']);
    // A device node in the tree (a debootstrap's /dev) is refused as in any archive, or left out when asked.
    mkdirSync(join(tree, 'dev'));
    execFileSync('mknod', [join(tree, 'dev', 'sda'), 'b', '8', '0']);
    await expect(run(['image', 'import', tree, '--name', 'fromdir'])).rejects.toMatchObject({ code: 'IMAGE_UNSAFE_ENTRY' });
    const skipped = JSON.parse(await run(['image', 'import', tree, '--name', 'fromdir', '--skip-devices', '-o', 'json'])) as { skippedDevices: string[] };
    expect(skipped.skippedDevices).toEqual(['dev/sda']);
    await run(['image', 'rm', 'fromdir']);

    const ls = await run(['image', 'ls'], { users: ['web', 'api'] });
    expect(ls.split('\n')[0]).toMatch(/^NAME\s+TAG\s+DIGEST\s+LAYERS\s+SIZE\s+SOURCE\s+USED BY$/);
    expect(ls).toMatch(/^bb\s+1\.0\s+[a-f0-9]{12}\s+1\s+\S+ \S+\s+oci\s+web,api$/m);
    const listed = JSON.parse(await run(['image', 'ls', '-o', 'json'])) as { formatVersion: number; images: Array<{ name: string; bytes: number; usedBy: string[] }> };
    expect(listed.formatVersion).toBe(1);
    expect(listed.images.map((i) => [i.name, i.usedBy])).toEqual([['bb', []], ['tiny', []]]);
    const inspected = JSON.parse(await run(['image', 'inspect', 'bb:1.0'], { users: ['web'] })) as { name: string; tag: string; layers: unknown[]; usedBy: string[]; defaults: { cmd: string[] } };
    expect(inspected).toMatchObject({ name: 'bb', tag: '1.0', usedBy: ['web'], defaults: { cmd: ['/bin/sh'] } });
    await expect(run(['image', 'inspect', 'nope'])).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });

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

describe('corral image prune and corral df', () => {
  test('df counts shared layers once and says what prune frees; prune removes only unused images', async () => {
    if (!requireRoot()) return;
    const pruneRoot = join(work, 'prune-state');
    const runIn = (args: string[], deps: { users?: string[] } = {}): Promise<string> => run(['--root', pruneRoot, ...args], deps);
    const base = { entries: busyboxEntries() };
    const a = join(work, 'oci-a');
    const b = join(work, 'oci-b');
    writeOciLayout(a, { layers: [base, { entries: [{ type: 'file', path: 'a', content: 'a'.repeat(100_000) }] }] });
    writeOciLayout(b, { layers: [base, { entries: [{ type: 'file', path: 'b', content: 'b'.repeat(100_000) }] }] });
    await runIn(['image', 'import', a, '--name', 'a']);
    await runIn(['image', 'import', b, '--name', 'b']);
    prepareRootfs(pruneRoot, 'uses-a', { rootfs: { kind: 'image', name: 'a', tag: 'latest' }, readOnlyRootfs: false });
    const df = JSON.parse(await runIn(['df', '-o', 'json'])) as { images: Array<{ name: string; usedBy: string[] }>; layers: { count: number; bytes: number; sharedSavings: number }; reclaimableByPrune: number; writableLayers: Array<{ name: string }> };
    expect(df.images.map((i) => [i.name, i.usedBy])).toEqual([['a:latest', ['uses-a']], ['b:latest', []]]);
    expect(df.layers.count).toBe(3);
    // The busybox layer is stored once for two images; b's own layer is what prune would free.
    expect(df.layers.sharedSavings).toBeGreaterThan(1 << 20);
    expect(df.reclaimableByPrune).toBeGreaterThanOrEqual(100_000);
    expect(df.reclaimableByPrune).toBeLessThan(1 << 20);
    expect(df.writableLayers.map((w) => w.name)).toEqual(['uses-a']);
    expect(await runIn(['df'])).toMatch(/^images\s+2\s+\S+ \S+\s+1 unused; .* reclaimable \(corral image prune\)/m);
    expect(await runIn(['image', 'prune', '--dry-run'])).toMatch(/^would remove 1 image \(b:latest\), 1 layer; /);
    expect(await runIn(['image', 'prune'])).toMatch(/^removed 1 image \(b:latest\), 1 layer; /);
    expect((JSON.parse(await runIn(['image', 'ls', '-o', 'json'])) as { images: Array<{ name: string }> }).images.map((i) => i.name)).toEqual(['a']);
    expect(await runIn(['image', 'prune'])).toMatch(/^removed 0 images, 0 layers; /);
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
