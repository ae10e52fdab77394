// Fault: the state root's filesystem is full (here a container filled it: nothing limited its
// writable layer). Getting out must still work with 0 bytes free — stop, removal by reconcile,
// gc, volume rm — thanks to the space the store sets aside; everything else fails with a typed
// NO_SPACE naming the filesystem, never `internal error`, and nothing is lost.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { openCgroupManager } from '../../src/drivers/cgroups/index.js';
import { corral, type CliResult } from '../support/cli.js';
import { requireRoot } from '../support/root.js';
import { sleeper } from '../support/host-sandbox.js';

let base: string;
let root: string;
let manifests: string;
let env: Record<string, string>;
const parent = `corral-test-full-${process.pid}`;
const run = (...args: string[]): CliResult => corral(args, { env });
const freeBytes = (): number => Number(execFileSync('df', ['--output=avail', '-B1', root], { encoding: 'utf8' }).split('\n')[1]);

beforeAll(() => {
  if (!requireRoot()) return;
  base = mkdtempSync(join(tmpdir(), 'corral-full-'));
  root = join(base, 'root');
  manifests = join(base, 'manifests');
  mkdirSync(root);
  mkdirSync(manifests);
  // A small filesystem of its own, so filling it touches nothing else.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m,mode=0755', 'tmpfs', root]);
  env = { CORRAL_ROOT: root, CORRAL_MANIFESTS: manifests, CORRAL_CGROUP_PARENT: parent, CORRAL_LOG_LEVEL: 'warn' };
});

afterAll(async () => {
  if (!base) return;
  corral(['reconcile', '--once', '--allow-empty', '--dir', join(base, 'nothing')], { env });
  await (await openCgroupManager({ parentName: parent })).removeAll();
  spawnSync('umount', ['-l', root]);
  rmSync(base, { recursive: true, force: true });
});

describe('a full state root', () => {
  test('stop, removal, gc and volume rm still work with 0 bytes free; a create fails with NO_SPACE', () => {
    if (!base) return;
    writeFileSync(join(manifests, 'filler.yaml'), sleeper('filler'));
    writeFileSync(join(manifests, 'keeper.yaml'), sleeper('keeper', 'mounts: [{type: volume, name: scratch, target: /scratch}]'));
    expect(run('reconcile', '--once').code).toBe(0);
    expect(existsSync(join(root, 'state', '.reserve-3'))).toBe(true);
    // The container fills the filesystem to the last byte: big writes, then one page at a time.
    run('exec', 'filler', '--', '/bin/sh', '-c', 'dd if=/dev/zero of=/fill bs=1M 2>/dev/null; i=0; while echo x > /f$i 2>/dev/null; do i=$((i+1)); done');
    expect(freeBytes()).toBe(0);

    // Looking works, and so does stopping.
    expect(run('ps').code).toBe(0);
    const stop = run('stop', 'keeper');
    expect(stop).toMatchObject({ code: 0, stdout: 'keeper: stopped\n' });

    // The stop gave back some of the reserve: fill that too.
    run('exec', 'filler', '--', '/bin/sh', '-c', 'i=0; while echo x > /g$i 2>/dev/null; do i=$((i+1)); done');
    expect(freeBytes()).toBe(0);

    // Anything that needs space says so, by code, naming the filesystem.
    writeFileSync(join(manifests, 'newbie.yaml'), sleeper('newbie'));
    const create = run('reconcile', '--once', '--output', 'json');
    expect(create.code).toBe(1);
    const report = JSON.parse(create.stdout);
    expect(report.errors).toContainEqual(expect.objectContaining({ code: 'NO_SPACE', container: 'newbie', detail: expect.stringMatching(/ on `.*` \(tmpfs on tmpfs\)/) }));
    expect(`${create.stdout}${create.stderr}`).not.toMatch(/internal error/);

    // Removing the container that filled it is a reconcile like any other.
    execFileSync('rm', [join(manifests, 'filler.yaml'), join(manifests, 'newbie.yaml')]);
    const removal = run('reconcile', '--once', '--output', 'json');
    expect(JSON.parse(removal.stdout).actions.find((a: { name: string }) => a.name === 'filler')).toMatchObject({ action: 'remove' });
    expect(freeBytes()).toBeGreaterThan(20 * 2 ** 20);
    expect(run('gc').code).toBe(0);

    // The other container's data is intact; its volume can go once it does.
    expect(run('start', 'keeper').code).toBe(0);
    execFileSync('rm', [join(manifests, 'keeper.yaml')]);
    expect(run('reconcile', '--once', '--allow-empty').code).toBe(0);
    expect(run('volume', 'rm', 'scratch').code).toBe(0);
    // With room again, the reserve is back.
    expect(run('ps').code).toBe(0);
    expect(existsSync(join(root, 'state', '.reserve-3'))).toBe(true);
  }, 180_000);

  test('with 0 bytes free and no container to blame, a create fails with NO_SPACE and the next run converges', () => {
    if (!base) return;
    // Fill from the host side this time, leaving the reserve in place.
    spawnSync('sh', ['-c', `dd if=/dev/zero of=${join(root, 'tmp-fill')} bs=1M 2>/dev/null; i=0; while echo x > ${root}/f$i 2>/dev/null; do i=$((i+1)); done`]);
    expect(freeBytes()).toBe(0);
    writeFileSync(join(manifests, 'late.yaml'), sleeper('late'));
    const failed = run('reconcile', '--once', '--output', 'json');
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout).errors.map((e: { code: string }) => e.code)).toContain('NO_SPACE');
    spawnSync('sh', ['-c', `rm -f ${join(root, 'tmp-fill')} ${root}/f*`]);
    expect(run('reconcile', '--once').code).toBe(0);
    expect(JSON.parse(run('ps', '--output', 'json').stdout).find((c: { name: string }) => c.name === 'late')).toMatchObject({ status: 'running' });
  }, 180_000);
});
