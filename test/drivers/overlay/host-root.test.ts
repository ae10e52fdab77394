// `rootfs: {host: {}}`: the host's system directories, read-only, without anything private. Proven
// by mounting it and looking from inside, and by a fake host tree for filtering and rebuilds.

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { collectGarbage, ensureHostRoot, ensureMounted, hostRootDigest, prepareRootfs, unmount } from '../../../src/drivers/overlay/index.js';
import { filterGroup, filterPasswd, deniedEtcPath } from '../../../src/drivers/overlay/host-etc.js';
import { hasCode } from '../../../src/errors.js';
import { layout } from '../../../src/state/layout.js';
import { requireRoot } from '../../support/root.js';
import { cleanup, tempDir, tree } from './helpers.js';

let work: string;
let root: string;

beforeAll(() => {
  work = tempDir('hostroot');
  root = join(work, 'state');
});
afterAll(() => cleanup(work));

const host = { rootfs: { kind: 'host' as const }, readOnlyRootfs: false };

describe('host rootfs', () => {
  test('the skeleton mirrors merged /usr and copies only harmless /etc files', () => {
    if (!requireRoot()) return;
    const h = ensureHostRoot(root);
    const top = readdirSync(h.dir).sort();
    for (const absent of ['root', 'home', 'srv', 'opt', 'boot', 'media', 'work', 'lost+found']) expect(top).not.toContain(absent);
    expect(top).toEqual(expect.arrayContaining(['bin', 'dev', 'etc', 'proc', 'run', 'sys', 'tmp', 'usr', 'var']));
    if (lstatSync('/bin').isSymbolicLink()) expect(readlinkSync(join(h.dir, 'bin'))).toBe(readlinkSync('/bin'));
    expect(lstatSync(join(h.dir, 'tmp')).mode & 0o7777).toBe(0o1777);
    const etc = tree(join(h.dir, 'etc'));
    for (const secret of ['shadow', 'gshadow', 'shadow-', 'sudoers', 'ssh', 'ssl/private', 'machine-id', 'subuid', 'security']) expect(etc).not.toContain(secret);
    expect(etc.filter((p) => deniedEtcPath(p))).toEqual([]);
    expect(etc).toEqual(expect.arrayContaining(['passwd', 'group', 'nsswitch.conf']));
    for (const line of readFileSync(join(h.dir, 'etc/passwd'), 'utf8').trim().split('\n')) {
      const uid = Number(line.split(':')[2]);
      expect(uid < 1000 || uid === 65534).toBe(true);
      expect(line.split(':')[1]).toBe('x');
    }
    expect(h.binds[0]).toEqual({ source: '/usr', target: '/usr', readOnly: true, options: ['nosuid', 'nodev'] });
    // the same host gives the same skeleton
    expect(ensureHostRoot(root).dir).toBe(h.dir);
  });

  test('from inside: host programs run, nothing private is visible, nothing can be written to the host', () => {
    if (!requireRoot()) return;
    const p = prepareRootfs(root, 'hosty', host);
    expect(p.digest).toBe(hostRootDigest());
    expect(p.defaults).toBeNull();
    const run = (script: string) => spawnSync('chroot', [p.layout.target, '/bin/sh', '-c', script], { encoding: 'utf8' });
    try {
      ensureMounted(p.layout);
      const ls = run('ls -a /');
      expect(ls.status).toBe(0);
      const entries = ls.stdout.split('\n').filter(Boolean);
      expect(entries).not.toContain('root');
      expect(entries).not.toContain('home');
      expect(run('cat /etc/shadow').status).not.toBe(0);
      expect(run(`ls ${root}`).status).not.toBe(0);
      expect(run('ls /etc/ssh').status).not.toBe(0);
      expect(run('id -un').stdout.trim()).toBe('root');
      const touch = run('touch /usr/corral-was-here');
      expect(touch.status).not.toBe(0);
      expect(touch.stderr).toMatch(/Read-only file system/);
      expect(existsSync('/usr/corral-was-here')).toBe(false);
      // the root itself is writable (into the container's upper), like any container root
      expect(run('echo x > /tmp/scratch && cat /tmp/scratch').stdout).toBe('x\n');
      expect(readFileSync(join(p.layout.upper, 'tmp/scratch'), 'utf8')).toBe('x\n');
    } finally {
      unmount(p.layout);
    }
  });

  test('a fake host: accounts filtered, rebuilt when /etc changes, old versions collected', async () => {
    if (!requireRoot()) return;
    const fake = join(work, 'fakehost');
    for (const d of ['usr/bin', 'usr/lib', 'etc/ssh', 'etc/ssl/certs', 'etc/ssl/private', 'etc/alternatives', 'root', 'home/alice', 'lib64']) mkdirSync(join(fake, d), { recursive: true });
    symlinkSync('usr/bin', join(fake, 'bin'));
    symlinkSync('/etc/shadow', join(fake, 'lib')); // a symlink out of /usr is not mirrored
    writeFileSync(join(fake, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:$6$hash:1000:1000::/home/alice:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nold:legacyhash:5:5::/:/bin/false\n');
    writeFileSync(join(fake, 'etc/group'), 'root:x:0:\nsudo:x:27:alice,old\nalice:x:1000:\n');
    writeFileSync(join(fake, 'etc/shadow'), 'root:$6$secret:::::::\n');
    writeFileSync(join(fake, 'etc/ssh/ssh_host_ed25519_key'), 'PRIVATE');
    writeFileSync(join(fake, 'etc/ssl/private/server.key'), 'PRIVATE');
    writeFileSync(join(fake, 'etc/ssl/certs/ca.pem'), 'CERT');
    symlinkSync('/usr/bin/mawk', join(fake, 'etc/alternatives/awk'));
    writeFileSync(join(fake, 'etc/hosts'), '127.0.0.1 localhost\n');

    const first = ensureHostRoot(root, { host: fake });
    const etc = tree(join(first.dir, 'etc'));
    expect(etc).toEqual(['alternatives', 'alternatives/awk', 'group', 'hosts', 'passwd', 'ssl', 'ssl/certs', 'ssl/certs/ca.pem']);
    expect(readFileSync(join(first.dir, 'etc/passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nold:x:5:5::/:/bin/false\n');
    expect(readFileSync(join(first.dir, 'etc/group'), 'utf8')).toBe('root:x:0:\nsudo:x:27:old\n');
    expect(readdirSync(first.dir)).not.toContain('lib');
    expect(readdirSync(first.dir)).toContain('lib64');
    expect(first.binds.map((b) => b.target)).toEqual(['/usr', '/lib64']);

    writeFileSync(join(fake, 'etc/hosts'), '127.0.0.1 localhost\n10.0.0.1 db\n');
    const second = ensureHostRoot(root, { host: fake });
    expect(second.digest).not.toBe(first.digest);
    expect(readFileSync(join(second.dir, 'etc/hosts'), 'utf8')).toContain('db');

    const report = await collectGarbage(root, { liveContainers: ['hosty'], host: fake });
    // the real-host skeleton used by `hosty` and the current fake one stay; the first fake one goes
    expect(report.hostRoots).toEqual([first.dir.slice(layout(root).hostRootDir.length + 1)]);
    expect(existsSync(first.dir)).toBe(false);
    expect(existsSync(second.dir)).toBe(true);
  });

  test('a state root inside /usr is refused: every host-root container would see it', () => {
    if (!requireRoot()) return;
    const fake = join(work, 'fakehost2');
    mkdirSync(join(fake, 'usr/lib/corral'), { recursive: true });
    mkdirSync(join(fake, 'etc'), { recursive: true });
    let err: unknown;
    try {
      ensureHostRoot(join(fake, 'usr/lib/corral'), { host: fake });
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'OVERLAY_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toMatch(/lies inside `.*fakehost2\/usr`/);
  });

  test('passwd and group filters (pure)', () => {
    const { text, users } = filterPasswd('+::::::\nroot:x:0:0::/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\nbroken\n');
    expect(text).toBe('root:x:0:0::/root:/bin/sh\n');
    expect(filterGroup('adm:x:4:bob,root\nbob:x:1001:\n', users)).toBe('adm:x:4:root\n');
  });
});
