// Users by name, end to end: `user: NAME`, `{name, group, groups}` and an image's `User`, looked up
// in the container's own /etc/passwd and /etc/group at each start (what the container changed
// included), with supplementary groups and HOME; a new volume owned by that user; `exec` as the
// container's user or another by name; unknown names as typed errors naming the file; a symlinked
// /etc/passwd in an image never followed toward a host file. The default manifest here also runs in
// a user namespace where the kernel allows it: the ids are the container's own either way.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { logLinesWhenExited, psJson, sandbox, type Sandbox } from '../support/host-sandbox.js';
import { busyboxEntries, writeOciLayout } from '../support/oci.js';
import type { TarSpec } from '../support/oci-tar.js';
import { requireRoot } from '../support/root.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n';
const GROUP = 'root:x:0:\naudio:x:29:app\nstaff:x:50:\napp:x:1000:\nvideo:x:44:\n';

/** busybox with our account files (its own /etc/passwd entry replaced). */
function imageEntries(passwd: TarSpec): TarSpec[] {
  return [
    ...busyboxEntries().filter((e) => e.path !== 'etc/passwd'),
    passwd,
    { type: 'file', path: 'etc/group', content: GROUP },
    { type: 'dir', path: 'home' },
    { type: 'dir', path: 'home/app', uid: 1000, gid: 1000 },
  ];
}

const manifest = (name: string, script: string, extra = ''): string => `apiVersion: corral/v1
kind: Container
metadata: {name: ${name}}
spec:
  rootfs: {image: "users:1"}
  command: [/bin/sh, -c, ${JSON.stringify(script)}]
  restartPolicy: Never
${extra}`;

const ID_SCRIPT = 'echo "$(id -u) $(id -g) $(id -G)"; echo "HOME=$HOME"';


const root = requireRoot();
(root ? describe : describe.skip)('users by name, end to end', () => {
  let sb: Sandbox;
  let layouts: string;
  beforeAll(() => {
    sb = sandbox('users');
    layouts = mkdtempSync(join(tmpdir(), 'corral-users-oci-'));
    writeOciLayout(join(layouts, 'users'), { layers: [{ entries: imageEntries({ type: 'file', path: 'etc/passwd', content: PASSWD }) }], config: { User: 'app:audio' } });
    // An image whose /etc/passwd points at the host's account files (read from the host, an
    // absolute link would name the host's /etc/shadow).
    writeOciLayout(join(layouts, 'evil'), { layers: [{ entries: imageEntries({ type: 'symlink', path: 'etc/passwd', target: '/etc/shadow' }) }] });
    expect(sb.run('image', 'import', join(layouts, 'users'), '--name', 'users:1').code).toBe(0);
    expect(sb.run('image', 'import', join(layouts, 'evil'), '--name', 'evil:1').code).toBe(0);
  });
  afterAll(async () => {
    await sb?.cleanup();
    rmSync(layouts, { recursive: true, force: true });
  });

  test('a name, a name with groups, the image\'s User; HOME from /etc/passwd; a new volume owned by the user', async () => {
    sb.write('byname.yaml', manifest('byname', `${ID_SCRIPT}; echo ok > /data/f && echo wrote`, '  user: app\n  mounts: [{type: volume, name: appdata, target: /data}]'));
    sb.write('groups.yaml', manifest('groups', ID_SCRIPT, '  user: {name: app, group: staff, groups: [video, 7]}'));
    sb.write('image.yaml', manifest('image', ID_SCRIPT));
    sb.write('numeric.yaml', manifest('numeric', ID_SCRIPT, '  user: {uid: 0}'));
    const r = sb.run('reconcile', '--once');
    expect(r.code).toBe(0);
    // Primary group from /etc/passwd, supplementary ones from the lines of /etc/group naming `app`.
    expect(await logLinesWhenExited(sb, 'byname')).toEqual(['1000 1000 1000 29', 'HOME=/home/app', 'wrote']);
    expect(await logLinesWhenExited(sb, 'groups')).toEqual(['1000 50 50 7 29 44', 'HOME=/home/app']);
    // The image says `app:audio`; a manifest that says root (by number) overrides it.
    expect(await logLinesWhenExited(sb, 'image')).toEqual(['1000 29 29', 'HOME=/home/app']);
    expect(await logLinesWhenExited(sb, 'numeric')).toEqual(['0 0 0', 'HOME=/root']);
    const vol = statSync(join(sb.root, 'volumes', 'appdata', 'data'));
    expect([vol.uid, vol.gid]).toEqual([1000, 1000]);
  });

  test('names are looked up as the container left its files: a user added by the container is found at its next start', async () => {
    sb.write('adds.yaml', manifest('adds', 'grep -q svc /etc/passwd || echo "svc:x:2000:2000::/srv:/bin/sh" >> /etc/passwd; id -u', '  user: root'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(await logLinesWhenExited(sb, 'adds')).toEqual(['0']);
    sb.write('adds.yaml', manifest('adds', 'id -u', '  user: svc'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect((await logLinesWhenExited(sb, 'adds')).pop()).toBe('2000');
  });

  test('exec runs as the container\'s user, or as another one by name', async () => {
    sb.write('svc.yaml', manifest('svc', 'sleep 600', '  user: app').replace('restartPolicy: Never', 'restartPolicy: Always'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(sb.run('exec', 'svc', '--', 'id', '-u').stdout.trim()).toBe('1000');
    expect(sb.run('exec', 'svc', '--', 'sh', '-c', 'echo $HOME').stdout.trim()).toBe('/home/app');
    expect(sb.run('exec', '-u', 'root', 'svc', '--', 'id', '-u').stdout.trim()).toBe('0');
    expect(sb.run('exec', '-u', 'nobody:staff', 'svc', '--', 'id', '-g').stdout.trim()).toBe('50');
    const unknown = sb.run('exec', '-u', 'ghost', 'svc', '--', 'true');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/USER_NOT_FOUND/);
    expect(unknown.stderr).toMatch(/\/etc\/passwd/);
    sb.remove('svc.yaml');
  });

  test('an unknown user or group is a plan-time error naming the file, and a running container keeps running; a symlinked /etc/passwd is refused, never followed', async () => {
    sb.write('keep.yaml', manifest('keep', 'sleep 600', '  user: app').replace('restartPolicy: Never', 'restartPolicy: Always'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const before = psJson(sb).find((c) => c.name === 'keep')?.pid;
    expect(before).toBeGreaterThan(0);
    sb.write('keep.yaml', manifest('keep', 'sleep 600', '  user: appp').replace('restartPolicy: Never', 'restartPolicy: Always'));
    sb.write('ghost.yaml', manifest('ghost', 'true', '  user: ghost'));
    sb.write('nogroup.yaml', manifest('nogroup', 'true', '  user: app:nogroup'));
    sb.write('evil.yaml', manifest('evil', 'true', '  user: root').replace('users:1', 'evil:1'));
    const r = sb.run('reconcile', '--once', '-o', 'json');
    expect(r.code).not.toBe(0);
    const errors = (JSON.parse(r.stdout) as { errors: Array<{ code: string; summary: string; container?: string; field?: string }> }).errors;
    const of = (name: string) => errors.find((e) => e.container === name);
    expect(of('keep')).toMatchObject({ code: 'USER_NOT_FOUND', field: 'spec.user', summary: "user `appp` is not in the container's /etc/passwd" });
    expect(of('ghost')).toMatchObject({ code: 'USER_NOT_FOUND', summary: "user `ghost` is not in the container's /etc/passwd" });
    expect(of('nogroup')).toMatchObject({ code: 'USER_NOT_FOUND', summary: "group `nogroup` is not in the container's /etc/group" });
    expect(of('evil')).toMatchObject({ code: 'USER_DB_INVALID', summary: expect.stringMatching(/\/etc\/passwd is a symbolic link/) });
    // Nothing was created for them, and the running one was not touched.
    const ps = psJson(sb);
    expect(ps.filter((c) => ['ghost', 'nogroup', 'evil'].includes(c.name))).toEqual([]);
    expect(ps.find((c) => c.name === 'keep')).toMatchObject({ status: 'running', pid: before });
    for (const f of ['keep.yaml', 'ghost.yaml', 'nogroup.yaml', 'evil.yaml']) sb.remove(f);
  });
});
