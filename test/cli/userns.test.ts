// `auto` user namespaces end to end: a range from corral's own subordinate id pool (a test file,
// never the host's /etc/subuid), kept across a recreate, freed at removal; a non-root service
// writing the volume and tmpfs it was given, with ids as the container sees them on disk.

import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { logLinesWhenExited, psJson, sandbox, type Sandbox } from '../support/host-sandbox.js';
import { requireRoot } from '../support/root.js';

const manifest = (name: string, script: string, extra = ''): string => `apiVersion: corral/v1
kind: Container
metadata: {name: ${name}}
spec:
  rootfs: {host: {}}
  command: [/bin/sh, -c, ${JSON.stringify(script)}]
  restartPolicy: Never
  namespaces: {user: {enabled: true}}
${extra}`;

const logsWhenExited = async (sb: Sandbox, name: string): Promise<string> => (await logLinesWhenExited(sb, name)).join('\n');

const root = requireRoot();
(root ? describe : describe.skip)('auto user namespaces, end to end', () => {
  let sb: Sandbox;
  let pool: string;
  beforeAll(() => {
    sb = sandbox('userns');
    pool = join(sb.root, '..', 'subid');
    sb.env['CORRAL_SUBUID_FILE'] = `${pool}-uid`;
    sb.env['CORRAL_SUBGID_FILE'] = `${pool}-gid`;
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('a range from the pool, in fixed slots, kept across a recreate and freed at removal; a non-root user writes what it was given', async () => {
    sb.write('a.yaml', manifest('ua', 'cat /proc/self/uid_map; id -u; echo data > /vol/f; echo tmp > /scratch/f; ls -ln /vol/f /scratch/f', [
      '  user: {uid: 999, gid: 999}',
      '  mounts:',
      '    - {type: volume, name: uvol, target: /vol, owner: {uid: 999, gid: 999}, mode: "0700"}',
      '    - {type: tmpfs, target: /scratch, owner: {uid: 999, gid: 999}, mode: "0700"}',
    ].join('\n')));
    sb.write('b.yaml', manifest('ub', 'cat /proc/self/uid_map'));
    // No owner given: a new volume belongs to the container's user, so the service can write it.
    sb.write('c.yaml', manifest('uc', 'id -u; echo ok > /data/f && echo wrote', '  user: {uid: 70, gid: 70}\n  mounts: [{type: volume, name: fresh, target: /data}]'));
    const r = sb.run('reconcile', '--once');
    expect(r.code).toBe(0);
    expect(readFileSync(`${pool}-uid`, 'utf8')).toBe('corral:1048576:536870912\n');
    expect(readFileSync(`${pool}-gid`, 'utf8')).toBe('corral:1048576:536870912\n');
    const a = (await logsWhenExited(sb, 'ua')).split('\n');
    const b = (await logsWhenExited(sb, 'ub')).split('\n');
    const range = (line: string): number => Number(line.trim().split(/\s+/)[1]);
    const ra = range(a[0]!);
    const rb = range(b[0]!);
    // Different slots of 65536, aligned to the pool, never host id 0.
    expect(new Set([ra, rb, (JSON.parse(readFileSync(join(sb.root, 'userns', 'uc.json'), 'utf8')) as { hostId: number }).hostId]))
      .toEqual(new Set([1048576, 1048576 + 65536, 1048576 + 2 * 65536]));
    expect(await logsWhenExited(sb, 'uc')).toBe('70\nwrote');
    const fresh = statSync(join(sb.root, 'volumes', 'fresh', 'data'));
    expect([fresh.uid, fresh.gid, fresh.mode & 0o7777]).toEqual([70, 70, 0o755]);
    expect(a[1]).toBe('999');
    expect(a[3]).toMatch(/^-rw-r--r-- +1 999 +999 .* \/vol\/f$/);
    expect(a[2]).toMatch(/^-rw-r--r-- +1 999 +999 .* \/scratch\/f$/);
    // On disk the volume keeps container ids: it is idmapped, so any container reads it alike.
    const vol = join(sb.root, 'volumes', 'uvol', 'data');
    expect(statSync(join(vol, 'f')).uid).toBe(999);
    expect(statSync(vol).mode & 0o7777).toBe(0o700);
    expect(readdirSync(join(sb.root, 'userns')).sort()).toEqual(['ua.json', 'ub.json', 'uc.json']);

    // A recreate (a changed namespace setting) keeps the range.
    sb.write('a.yaml', manifest('ua', 'cat /proc/self/uid_map').replace('namespaces: {user: {enabled: true}}', 'namespaces: {user: {enabled: true}, ipc: host}'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(range((await logsWhenExited(sb, 'ua')).split('\n').pop()!)).toBe(ra);

    sb.remove('a.yaml');
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(readdirSync(join(sb.root, 'userns')).sort()).toEqual(['ub.json', 'uc.json']);
  });

  test('binds may map ids: a 0600 host-root file read by a non-root service; host root shown as the container\'s root', async () => {
    const dir = join(sb.root, '..', 'conf');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'secret.conf'), 'only root\n', { mode: 0o600 });
    const show = 'id -u; stat -c "%u:%g %a" /conf/secret.conf; cat /conf/secret.conf';
    sb.write('i1.yaml', manifest('i1', show, `  user: {uid: 999}\n  mounts: [{type: bind, source: ${dir}, target: /conf, readOnly: true, idmap: {uid: 0}}]`));
    sb.write('i2.yaml', manifest('i2', show, `  mounts: [{type: bind, source: ${dir}, target: /conf, readOnly: true, idmap: true}]`));
    sb.write('i3.yaml', manifest('i3', show, `  mounts: [{type: bind, source: ${dir}, target: /conf, readOnly: true}]`));
    // Without a user namespace too: the host owner shows as the container's user.
    sb.write('i4.yaml', manifest('i4', show, `  user: {uid: 999}\n  mounts: [{type: bind, source: ${dir}, target: /conf, readOnly: true, idmap: {uid: 0}}]`).replace('namespaces: {user: {enabled: true}}', 'namespaces: {user: {enabled: false}}'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(await logsWhenExited(sb, 'i1')).toBe('999\n999:999 600\nonly root');
    expect(await logsWhenExited(sb, 'i2')).toBe('0\n0:0 600\nonly root');
    // Not mapped: host root is nobody inside, and the file stays closed.
    expect(await logsWhenExited(sb, 'i3')).toMatch(/^0\n65534:65534 600\n[\s\S]*Permission denied$/);
    expect(await logsWhenExited(sb, 'i4')).toBe('999\n999:999 600\nonly root');
    // The host file itself is untouched.
    expect(statSync(join(dir, 'secret.conf')).uid).toBe(0);
  });

  test('the default manifest gets one where the host allows it; its cgroup limits hold on it; plan names those without one', async () => {
    const info = JSON.parse(sb.run('info', '-o', 'json').stdout) as { userNamespaces: { available: boolean; default: string } };
    expect(info.userNamespaces).toMatchObject({ available: true, default: 'auto' });
    const limits = 'cat /proc/self/uid_map; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done 2>&1 | head -1';
    sb.write('d1.yaml', manifest('d1', limits, '  resources: {pids: 6}').replace('  namespaces: {user: {enabled: true}}\n', ''));
    sb.write('d2.yaml', manifest('d2', 'true').replace('namespaces: {user: {enabled: true}}', 'namespaces: {user: {enabled: false}}'));
    sb.write('d3.yaml', manifest('d3', 'x=$(head -c 100000000 /dev/zero | tr "\\\\0" a); echo survived', '  resources: {memory: 32Mi}').replace('  namespaces: {user: {enabled: true}}\n', ''));
    const plan = sb.run('plan');
    expect(plan.stdout).toMatch(/Without a user namespace \(root inside is root on the host\): d2, i4\.$/m);
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const out = (await logsWhenExited(sb, 'd1')).split('\n');
    expect(Number(out[0]!.trim().split(/\s+/)[1])).toBeGreaterThanOrEqual(1048576);
    // The pids limit stops a fork loop of root in the namespace; the memory limit OOM-kills a hog.
    expect(out.slice(1).join('\n')).toMatch(/can't fork|Cannot fork|Resource temporarily unavailable/i);
    expect(await logsWhenExited(sb, 'd3')).not.toMatch(/survived/);
    expect(psJson(sb).find((c) => c.name === 'd3')?.lastExit).toMatchObject({ oomKilled: true });
    for (const f of ['d1.yaml', 'd2.yaml', 'd3.yaml']) sb.remove(f);
  });

  test('an explicit map inside corral\'s pool is refused at plan time; nothing is started for it', () => {
    const maps = '{containerID: 0, hostID: 1114112, size: 65536}';
    sb.write('x.yaml', manifest('ux', 'true').replace('namespaces: {user: {enabled: true}}', `namespaces: {user: {enabled: true, uidMap: [${maps}], gidMap: [${maps}]}}`));
    const r = sb.run('plan', '--output', 'json');
    expect(r.stdout + r.stderr).toMatch(/MANIFEST_CONFLICT/);
    expect(r.stdout + r.stderr).toMatch(/ux/);
    sb.remove('x.yaml');
  });
});
