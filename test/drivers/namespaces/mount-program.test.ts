// The manifest's own mounts in the mount program (userMounts): a tmpfs's owner, without a kernel.

import { describe, expect, test } from '@jest/globals';
import { buildMountProgram } from '../../../src/drivers/namespaces/mount-program.js';
import { specOf } from './harness.js';

const rootfs = { lower: ['/l'], upper: '/u', work: '/w', target: '/t', binds: [], readOnly: false };

describe('tmpfs mounts', () => {
  test('an owner becomes uid= and gid= in the mount data; without one, none is given', async () => {
    const spec = await specOf('tm', 'mounts: [{type: tmpfs, target: /a, owner: {uid: 1000}}, {type: tmpfs, target: /b, size: 1Mi, mode: "0700", owner: {uid: 5, gid: 6}}, {type: tmpfs, target: /c}]\ncommand: [/bin/true]');
    const { mounts } = buildMountProgram({ spec, rootfs, volumes: {}, userns: null });
    const data = (target: string) => mounts.find((m) => m.target === target)?.data;
    expect(data('/a')).toBe(`size=${64 * 2 ** 20},mode=1777,uid=1000,gid=1000`);
    expect(data('/b')).toBe(`size=${2 ** 20},mode=700,uid=5,gid=6`);
    expect(data('/c')).toBe(`size=${64 * 2 ** 20},mode=1777`);
  });
});
