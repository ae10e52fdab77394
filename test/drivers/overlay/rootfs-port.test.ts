// The RootfsPort adapter the reconciler wires in.

import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { importImage, overlayRootfsPort } from '../../../src/drivers/overlay/index.js';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { layout } from '../../../src/state/layout.js';
import { busyboxEntries, writeOciLayout } from '../../support/oci.js';
import { requireRoot } from '../../support/root.js';
import { cleanup, tempDir } from './helpers.js';

const NO_ABORT = new AbortController().signal;

let work: string;
let root: string;

beforeAll(() => {
  work = tempDir('port');
  root = join(work, 'state');
});
afterAll(() => cleanup(work));

function spec(over: Partial<ContainerSpec>): ContainerSpec {
  return { name: 'web', rootfs: { kind: 'host' }, readOnlyRootfs: false, mounts: [], process: { user: { uid: 0, gid: 0, groups: [] } }, ...over } as unknown as ContainerSpec;
}

describe('overlayRootfsPort', () => {
  test('references, check, prepare with volumes, list, remove', async () => {
    if (!requireRoot()) return;
    const port = overlayRootfsPort(root);
    const app = spec({ rootfs: { kind: 'image', name: 'app', tag: 'latest' }, mounts: [
      { type: 'volume', name: 'data', target: '/data', owner: { uid: 1000, gid: 1000 }, mode: 0o750, readOnly: false, options: [] },
      { type: 'bind', source: join(work, 'missing'), target: '/m', readOnly: true, propagation: 'rprivate', recursive: true, options: [], idmap: null },
    ] });
    expect(await port.references(app)).toEqual({});
    expect((await port.check(app)).map((d) => [d.code, d.field])).toEqual([['MOUNT_SOURCE_MISSING', 'spec.mounts[1].source'], ['IMAGE_NOT_FOUND', 'spec.rootfs.image']]);
    expect((await port.check(spec({ rootfs: { kind: 'path', path: join(work, 'nope') } }))).map((d) => d.code)).toEqual(['ROOTFS_PATH_MISSING']);

    const oci = join(work, 'oci');
    const [img] = writeOciLayout(oci, { layers: [{ entries: busyboxEntries() }], config: { Cmd: ['/bin/sh'] } });
    await importImage(root, oci, { name: 'app', tag: 'latest' });
    expect(await port.references(app)).toEqual({ image: img!.manifestDigest });
    mkdirSync(join(work, 'missing'));
    expect(await port.check(app)).toEqual([]);

    const prepared = await port.prepare('web', app, NO_ABORT);
    expect(prepared.defaults?.cmd).toEqual(['/bin/sh']);
    expect(prepared.volumes).toEqual({ data: layout(root).volume('data') });
    // The mount's owner and mode, set before anything runs.
    expect(statSync(prepared.volumes['data']!)).toMatchObject({ uid: 1000, gid: 1000 });
    expect(statSync(prepared.volumes['data']!).mode & 0o7777).toBe(0o750);
    expect(existsSync(prepared.layout.upper)).toBe(true);
    expect(await port.exists('web')).toBe(true);
    expect(await port.list()).toEqual(['web']);
    await port.remove('web', NO_ABORT);
    await port.remove('web', NO_ABORT);
    expect(await port.exists('web')).toBe(false);
    expect(existsSync(layout(root).volume('data'))).toBe(true);
  });
});
