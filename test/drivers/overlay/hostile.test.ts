// Hostile and broken input to `image import`: each archive is refused (or neutralised) with a
// clear error, and nothing is written outside the store — not even inside it: no layer, no
// record, no staging left behind.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { importImage, listImages, parseImageRef, removeImage } from '../../../src/drivers/overlay/index.js';
import { isCorralError, type ErrorCode } from '../../../src/errors.js';
import { layout } from '../../../src/state/layout.js';
import { lgetxattr } from '../../../src/sys/xattr.js';
import { blobFile, writeOciLayout } from '../../support/oci.js';
import { tarBytes, type TarSpec } from '../../support/oci-tar.js';
import { requireRoot } from '../../support/root.js';
import { cleanup, tempDir, tree, writeTar } from './helpers.js';

let work: string;
let root: string;
let n = 0;

beforeAll(() => {
  work = tempDir('hostile');
  root = join(work, 'state');
});
afterAll(() => cleanup(work));

/** Imports and expects `code`; then checks that the store holds nothing and nothing leaked. */
async function refused(source: string, code: ErrorCode, message: RegExp): Promise<void> {
  const before = tree(work).filter((p) => !p.startsWith('state'));
  let caught: unknown;
  try {
    await importImage(root, source, { name: `bad${n++}`, tag: 'latest' });
  } catch (err) {
    caught = err;
  }
  expect(isCorralError(caught) ? `${caught.code}: ${caught.message}` : String(caught)).toMatch(new RegExp(`^${code}: `));
  expect((caught as Error).message).toMatch(message);
  const l = layout(root);
  expect(tree(l.layersDir)).toEqual([]);
  expect(tree(l.tmpDir)).toEqual([]);
  expect(listImages(root)).toEqual([]);
  // nothing appeared next to the store either
  expect(tree(work).filter((p) => !p.startsWith('state'))).toEqual(before);
}

function tarFile(entries: readonly TarSpec[], gzip = false): string {
  return writeTar(work, `t${n++}.tar${gzip ? '.gz' : ''}`, entries, gzip);
}

describe('hostile archives are refused without side effects', () => {
  test('an entry climbing out with `..`', async () => {
    if (!requireRoot()) return;
    await refused(tarFile([{ type: 'file', path: 'etc/../../../escaped', content: 'x' }]), 'IMAGE_UNSAFE_ENTRY', /`etc\/\.\.\/\.\.\/\.\.\/escaped`.*contains `\.\.`/);
    expect(existsSync(join(work, 'escaped'))).toBe(false);
  });

  test('an absolute path', async () => {
    if (!requireRoot()) return;
    const target = join(work, 'abs-target');
    await refused(tarFile([{ type: 'file', path: target, content: 'x' }]), 'IMAGE_UNSAFE_ENTRY', /is absolute/);
    expect(existsSync(target)).toBe(false);
  });

  test('a write through a symlink the archive planted (absolute target)', async () => {
    if (!requireRoot()) return;
    await refused(tarFile([
      { type: 'symlink', path: 'evil', target: work },
      { type: 'file', path: 'evil/pwned', content: 'x' },
    ]), 'IMAGE_UNSAFE_ENTRY', /goes through the symlink `evil`/);
    expect(existsSync(join(work, 'pwned'))).toBe(false);
  });

  test('a relative symlink that climbs above the image root', async () => {
    if (!requireRoot()) return;
    await refused(tarFile([{ type: 'symlink', path: 'a/up', target: '../../../../..' }]), 'IMAGE_UNSAFE_ENTRY', /climbs above the image root/);
  });

  test('hard links pointing outside the rootfs', async () => {
    if (!requireRoot()) return;
    const secret = join(work, 'secret');
    writeFileSync(secret, 'host secret');
    await refused(tarFile([{ type: 'hardlink', path: 'h', target: '../../../secret' }]), 'IMAGE_UNSAFE_ENTRY', /hard link target .* contains `\.\.`/);
    await refused(tarFile([{ type: 'hardlink', path: 'h', target: secret }]), 'IMAGE_UNSAFE_ENTRY', /hard link target .* is absolute/);
    await refused(tarFile([
      { type: 'symlink', path: 's', target: work },
      { type: 'hardlink', path: 'h', target: 's/secret' },
    ]), 'IMAGE_UNSAFE_ENTRY', /goes through the symlink `s`/);
    await refused(tarFile([{ type: 'hardlink', path: 'h', target: 'missing' }]), 'IMAGE_INVALID', /not in this layer/);
    expect(lstatSync(secret).nlink).toBe(1);
  });

  test('device nodes are refused, or left out with devices: skip', async () => {
    if (!requireRoot()) return;
    const file = tarFile([{ type: 'dir', path: 'dev' }, { type: 'block', path: 'dev/sda', major: 8, minor: 0 }, { type: 'file', path: 'ok', content: 'y' }]);
    await refused(file, 'IMAGE_UNSAFE_ENTRY', /device node 8:0/);
    const result = await importImage(root, file, { name: 'devices', tag: 'skipped' }, { devices: 'skip' });
    expect(result.skippedDevices).toEqual(['dev/sda']);
    const dir = layout(root).layer(result.image.layers[0]!.digest);
    expect(tree(dir)).toEqual(['dev', 'ok']);
    await removeImage(root, { name: 'devices', tag: 'skipped' }, () => []);
    expect(tree(layout(root).layersDir)).toEqual([]);
  });

  test('corrupt archives', async () => {
    if (!requireRoot()) return;
    const good = tarBytes([{ type: 'file', path: 'a', content: 'x'.repeat(2000) }]);
    const truncated = join(work, `trunc${n++}.tar`);
    writeFileSync(truncated, good.subarray(0, 1200));
    await refused(truncated, 'IMAGE_INVALID', /ends .* before the end of an entry|truncated/);
    const garbage = join(work, `garbage${n++}.tar`);
    writeFileSync(garbage, Buffer.from('this is not a tarball at all'.repeat(40)));
    await refused(garbage, 'IMAGE_INVALID', /not a tar archive/);
    const badGzip = join(work, `bad${n++}.tar.gz`);
    writeFileSync(badGzip, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 7)]));
    await refused(badGzip, 'IMAGE_INVALID', /not valid gzip data/);
    const flipped = Buffer.from(good);
    flipped[10] = flipped[10]! ^ 0xff;
    const badSum = join(work, `sum${n++}.tar`);
    writeFileSync(badSum, flipped);
    await refused(badSum, 'IMAGE_INVALID', /bad checksum/);
    const zstd = join(work, `z${n++}.tar.zst`);
    writeFileSync(zstd, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64, 1)]));
    await refused(zstd, 'IMAGE_INVALID', /not valid zstd data/);
  });

  test('zstd layers: one imports; a frame that asks for a 2 GiB window (a memory bomb) is refused', async () => {
    if (!requireRoot()) return;
    const plain = tarFile([{ type: 'file', path: 'hello', content: 'zstd layer\n' }]);
    const packed = join(work, `z${n++}.tar.zst`);
    execFileSync('zstd', ['-q', '-f', plain, '-o', packed]);
    const ref = parseImageRef(`zst${n++}`);
    const r = await importImage(root, packed, ref);
    expect(readFileSync(join(layout(root).layer(r.image.layers[0]!.digest), 'hello'), 'utf8')).toBe('zstd layer\n');
    await removeImage(root, ref, () => []);
    // Magic, a frame header with window descriptor 2^31 (exponent 21, no single segment), and an
    // empty last raw block: valid zstd that a decoder without a memory limit allocates 2 GiB for.
    const bomb = join(work, `bomb${n++}.tar.zst`);
    writeFileSync(bomb, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00]));
    await refused(bomb, 'IMAGE_INVALID', /not valid zstd data: .*(memory|window)/i);
  });

  test('an OCI layer whose bytes do not match its digest, and a wrong diff_id', async () => {
    if (!requireRoot()) return;
    const dir = join(work, `oci${n++}`);
    const [img] = writeOciLayout(dir, { layers: [{ entries: [{ type: 'file', path: 'a', content: 'original' }], compression: 'none' }] });
    const blob = blobFile(dir, img!.layerDigests[0]!);
    const bytes = readFileSync(blob);
    const i = bytes.indexOf('original');
    bytes.write('tampered', i);
    writeFileSync(blob, bytes);
    await refused(dir, 'IMAGE_DIGEST_MISMATCH', /layer 1 of 1 .* does not match its digest/);

    const dir2 = join(work, `oci${n++}`);
    const [img2] = writeOciLayout(dir2, { layers: [{ entries: [{ type: 'file', path: 'a', content: 'x' }] }] });
    const configPath = blobFile(dir2, img2!.configDigest);
    // A config whose diff_id is wrong must also be re-digested, or the config check fires first.
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { rootfs: { diff_ids: string[] } };
    config.rootfs.diff_ids = [`sha256:${'0'.repeat(64)}`];
    const patched = JSON.stringify(config);
    const newDigest = `sha256:${createHash('sha256').update(patched).digest('hex')}`;
    writeFileSync(blobFile(dir2, newDigest), patched);
    const manifestPath = blobFile(dir2, img2!.manifestDigest);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { config: { digest: string; size: number } };
    manifest.config = { ...manifest.config, digest: newDigest, size: Buffer.byteLength(patched) };
    const manifestText = JSON.stringify(manifest);
    const manifestDigest = `sha256:${createHash('sha256').update(manifestText).digest('hex')}`;
    writeFileSync(blobFile(dir2, manifestDigest), manifestText);
    writeFileSync(join(dir2, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: Buffer.byteLength(manifestText) }] }));
    await refused(dir2, 'IMAGE_DIGEST_MISMATCH', /does not match its diff_id/);

    // a manifest edited in place no longer matches the digest index.json gives it
    writeFileSync(manifestPath, manifestText);
    const dir3 = dir2;
    writeFileSync(join(dir3, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: img2!.manifestDigest, size: Buffer.byteLength(manifestText) }] }));
    await refused(dir3, 'IMAGE_DIGEST_MISMATCH', /image manifest does not match its digest/);
  });

  test('a digest that tries to name a path outside blobs/', async () => {
    if (!requireRoot()) return;
    const dir = join(work, `oci${n++}`);
    writeOciLayout(dir, { layers: [] });
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:../../../../etc/passwd', size: 10 }] }));
    await refused(dir, 'IMAGE_INVALID', /invalid digest/);
  });

  test('xattrs that would steer overlayfs are dropped, file capabilities kept', async () => {
    if (!requireRoot()) return;
    // security.capability v2: cap_net_raw (bit 13) permitted+effective
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0);
    cap.writeUInt32LE(1 << 13, 4);
    const file = tarFile([
      { type: 'dir', path: 'd' },
      { type: 'file', path: 'd/ping', content: 'x', mode: 0o755, xattrs: { 'security.capability': cap, 'trusted.overlay.redirect': '/etc', 'user.overlay.opaque': 'y', 'user.note': 'kept' } },
    ]);
    const result = await importImage(root, file, { name: 'xattrs', tag: 'latest' });
    const p = join(layout(root).layer(result.image.layers[0]!.digest), 'd/ping');
    expect(lgetxattr(p, 'security.capability')?.equals(cap)).toBe(true);
    expect(lgetxattr(p, 'trusted.overlay.redirect')).toBeNull();
    expect(lgetxattr(p, 'user.overlay.opaque')).toBeNull();
    expect(lgetxattr(p, 'user.note')?.toString()).toBe('kept');
    await removeImage(root, { name: 'xattrs', tag: 'latest' }, () => []);
  });
});
