// A file as the container will see it at start, read without mounting anything: the last mount
// covering it, else the first layer holding it (a whiteout hides lower ones), each read inside its
// own directory so that no symlink reaches the host. And the idmap probe's refusal path.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { probeIdmap } from '../../../src/drivers/namespaces/idmap-probe.js';
import { readContainerFile } from '../../../src/drivers/overlay/container-files.js';
import type { ContainerSpec, MountSpec } from '../../../src/manifest/spec.js';
import type { RootfsLayout } from '../../../src/reconciler/ports.js';
import { hasCode } from '../../../src/errors.js';
import { requireRoot } from '../../support/root.js';

let base: string;
const dir = (name: string, files: Record<string, string> = {}): string => {
  const d = join(base, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(d, path, '..'), { recursive: true });
    writeFileSync(join(d, path), text);
  }
  mkdirSync(d, { recursive: true });
  return d;
};
const layoutOf = (upper: string, lower: string[], binds: RootfsLayout['binds'] = []): RootfsLayout => ({ lower, upper, work: join(base, 'work'), target: join(base, 'target'), binds, readOnly: false });
const specWith = (mounts: MountSpec[]): ContainerSpec => ({ mounts } as Partial<ContainerSpec> as ContainerSpec);
const read = (l: RootfsLayout, mounts: MountSpec[], path: string, volumes: Record<string, string> = {}): string | null =>
  readContainerFile(l, specWith(mounts), volumes, path, 4096)?.toString() ?? null;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'corral-cfiles-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('readContainerFile', () => {
  test('the writable layer first, then the lower layers top first; a whiteout hides what is below', () => {
    const top = dir('top', { 'etc/passwd': 'top\n' });
    const bottom = dir('bottom', { 'etc/passwd': 'bottom\n', 'etc/group': 'bottom-group\n' });
    const upper = dir('upper', { 'etc/hostname': 'x\n' });
    const l = layoutOf(upper, [top, bottom]);
    expect(read(l, [], '/etc/passwd')).toBe('top\n');
    expect(read(l, [], '/etc/group')).toBe('bottom-group\n');
    expect(read(l, [], '/etc/shadow')).toBeNull();
    writeFileSync(join(upper, 'etc', 'passwd'), 'edited\n');
    expect(read(l, [], '/etc/passwd')).toBe('edited\n');
    if (!requireRoot()) return;
    execFileSync('mknod', [join(upper, 'etc', 'group'), 'c', '0', '0']);
    expect(read(l, [], '/etc/group')).toBeNull();
  });

  test('the last mount covering the path wins: a file bind, a volume over /etc, an empty tmpfs', () => {
    const lower = dir('m-lower', { 'etc/passwd': 'image\n' });
    const upper = dir('m-upper');
    const conf = dir('conf', { 'passwd.mine': 'bound\n' });
    const vol = dir('vol', { passwd: 'volume\n' });
    const l = layoutOf(upper, [lower]);
    const bind: MountSpec = { type: 'bind', source: join(conf, 'passwd.mine'), target: '/etc/passwd', readOnly: true, propagation: 'rprivate', recursive: false, options: [], idmap: null };
    const volume: MountSpec = { type: 'volume', name: 'etc', target: '/etc', owner: null, mode: null, readOnly: false, options: [] };
    const tmpfs: MountSpec = { type: 'tmpfs', target: '/etc', sizeBytes: 1024, mode: 0o755, owner: null, readOnly: false, options: [] };
    expect(read(l, [bind], '/etc/passwd')).toBe('bound\n');
    expect(read(l, [volume], '/etc/passwd', { etc: vol })).toBe('volume\n');
    expect(read(l, [bind, volume], '/etc/passwd', { etc: vol })).toBe('volume\n');
    expect(read(l, [volume, bind], '/etc/passwd', { etc: vol })).toBe('bound\n');
    expect(read(l, [tmpfs], '/etc/passwd')).toBeNull();
    // A volume not created yet reads as empty.
    expect(read(l, [volume], '/etc/passwd', { etc: join(base, 'no-such-volume') })).toBeNull();
    // corral's own binds come first, the manifest's over them.
    const hostEtc = dir('host-etc', { passwd: 'host-root\n' });
    expect(read(layoutOf(upper, [lower], [{ source: hostEtc, target: '/etc', readOnly: true }]), [], '/etc/passwd')).toBe('host-root\n');
  });

  test('symlinks stay inside their directory; a symlinked file in a layer is refused', () => {
    const lower = dir('s-lower', { 'etc/group': 'g\n' });
    symlinkSync('/etc/hostname', join(lower, 'etc', 'passwd'));
    const upper = dir('s-upper');
    let refused: unknown = null;
    try {
      read(layoutOf(upper, [lower]), [], '/etc/passwd');
    } catch (err) {
      refused = err;
    }
    expect(hasCode(refused, 'USER_DB_INVALID')).toBe(true);
    // Through a directory on the way: resolved inside the layer, never the host's /etc.
    const viaDir = dir('s-dir', { 'real/passwd': 'inside\n' });
    symlinkSync('/real', join(viaDir, 'etc'));
    expect(read(layoutOf(upper, [viaDir]), [], '/etc/passwd')).toBe('inside\n');
    const vol = dir('s-vol');
    symlinkSync('../../../../../etc/hostname', join(vol, 'passwd'));
    const volume: MountSpec = { type: 'volume', name: 'v', target: '/etc', owner: null, mode: null, readOnly: false, options: [] };
    expect(read(layoutOf(upper, [lower]), [volume], '/etc/passwd', { v: vol })).toBeNull();
  });
});

describe('probeIdmap', () => {
  test('a layer that cannot be idmapped (procfs) is reported with the refused step, and nothing is left behind', () => {
    if (!requireRoot()) return;
    // The probe's lower directory, replaced by a link to /proc: open_tree follows it, and procfs
    // refuses MOUNT_ATTR_IDMAP. A fake shim wrapper would prove nothing; this is the kernel's no.
    const root = dir('probe-root');
    const wrapper = join(base, 'shim-wrapper.sh');
    writeFileSync(wrapper, `#!/bin/sh\nrm -rf "$2/lower" && ln -s /proc "$2/lower" && exec ${process.env['CORRAL_SHIM'] ?? join(process.cwd(), 'src/drivers/namespaces/shim/build/corral-shim')} "$@"\n`, { mode: 0o755 });
    const r = probeIdmap(root, wrapper);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/idmap/);
    expect(execFileSync('ls', ['-A', join(root, 'tmp')]).toString()).toBe('');
  });

  test('the answer is kept in the root for later processes, until the shim changes', () => {
    if (!requireRoot()) return;
    const root = dir('probe-kept');
    const runs = join(base, 'probe-runs');
    const wrapper = join(base, 'shim-counting.sh');
    const shim = process.env['CORRAL_SHIM'] ?? join(process.cwd(), 'src/drivers/namespaces/shim/build/corral-shim');
    writeFileSync(wrapper, `#!/bin/sh\necho run >> ${runs}\nexec ${shim} "$@"\n`, { mode: 0o755 });
    // Each probe in a process of its own, as each `corral` command is.
    const probeInNewProcess = (): { ok: boolean } => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e',
      `import { probeIdmap } from ${JSON.stringify(join(process.cwd(), 'dist/drivers/namespaces/idmap-probe.js'))};
       process.stdout.write(JSON.stringify(probeIdmap(${JSON.stringify(root)}, ${JSON.stringify(wrapper)})));`]).toString());
    const count = () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length;
    const first = probeInNewProcess();
    expect(count()).toBe(1);
    expect(probeInNewProcess()).toEqual(first);
    expect(count()).toBe(1);
    // Another shim (an upgrade) asks the kernel again.
    writeFileSync(wrapper, `#!/bin/sh\necho run >> ${runs}\nexec ${shim} "$@" # upgraded\n`, { mode: 0o755 });
    expect(probeInNewProcess()).toEqual(first);
    expect(count()).toBe(2);
    // A torn file, or one whose answer has the wrong type, is no answer: the kernel is asked again.
    const kept = join(root, 'cache', 'idmap-probe.json');
    const key = (JSON.parse(readFileSync(kept, 'utf8')) as { key: string }).key;
    writeFileSync(kept, '{"key": "');
    expect(probeInNewProcess()).toEqual(first);
    expect(count()).toBe(3);
    writeFileSync(kept, JSON.stringify({ key, ok: 'yes', detail: 'forged' }));
    expect(probeInNewProcess()).toEqual(first);
    expect(count()).toBe(4);
    expect(readdirSync(join(root, 'cache'))).toEqual(['idmap-probe.json']);
  });
});
