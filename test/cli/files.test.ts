// Secrets and config files, end to end (spec.secrets, spec.configFiles): from a host file, from
// corral's environment, from a systemd credential and inline; read-only in the container with the owner and mode asked for
// (through its user namespace); a secret as an environment value; a new config file swapped in at
// once with its signal, and the process left running; a new secret restarting the container; a
// missing source refused at plan time; a single-file bind whose source is replaced restarted onto
// the new file; and no secret in any output or file corral writes.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { psJson, sandbox, type Sandbox } from '../support/host-sandbox.js';
import { busyboxEntries, writeOciLayout } from '../support/oci.js';
import { requireRoot } from '../support/root.js';

const SECRET = `pa55-${randomBytes(8).toString('hex')}`;
const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
const CRED = `cred-${randomBytes(8).toString('hex')}`;

/** Every regular file under `dir` (the secrets' tmpfs left out) that contains one of `needles`. */
function filesContaining(dir: string, needles: readonly string[], skip: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (path === skip) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const bytes = readFileSync(path);
        if (needles.some((n) => bytes.includes(n))) hits.push(path);
      }
    }
  };
  walk(dir);
  return hits;
}

const root = requireRoot();
(root ? describe : describe.skip)('secrets and config files', () => {
  let sb: Sandbox;
  let work: string;
  const outputs: string[] = [];
  const run = (...args: string[]): ReturnType<Sandbox['run']> => {
    const r = sb.run(...args);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const exec = (...cmd: string[]): string => execAs('0', ...cmd);
  const execAs = (user: string, ...cmd: string[]): string => {
    const r = sb.run('exec', '-u', user, 'app', '--', ...cmd);
    if (r.code !== 0) throw new Error(`exec ${cmd.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const manifest = (extra = ''): string => `apiVersion: corral/v1
kind: Container
metadata: {name: app}
spec:
  rootfs: {image: "files:1"}
  command: [/bin/sh, -c, 'trap "echo hup >> /tmp/hups" HUP; while :; do sleep 0.1; done']
  user: "1000:1000"
  stopTimeout: 2s
  env:
    TOKEN: {valueFrom: {secret: token}}
  secrets:
    - {name: db, source: {file: ${join(work, 'db-password')}}, owner: {uid: 1000}, mode: "0440"}
    - {name: token, source: {env: CORRAL_TEST_TOKEN}}
    - {name: cred, source: {systemdCredential: api-key}}
  configFiles:
    - {name: app, source: {file: ${join(work, 'app.conf')}}, target: /etc/app/app.conf, onChange: "signal:SIGHUP"}
    - {name: motd, source: {content: "hello\\n"}, target: /etc/motd}
${extra}`;

  beforeAll(() => {
    sb = sandbox('files');
    work = mkdtempSync(join(tmpdir(), 'corral-files-test-'));
    writeFileSync(join(work, 'db-password'), SECRET);
    writeFileSync(join(work, 'app.conf'), 'color=blue\n');
    sb.env['CORRAL_TEST_TOKEN'] = TOKEN;
    // As systemd's LoadCredential= hands a credential to the agent.
    mkdirSync(join(work, 'credentials'));
    writeFileSync(join(work, 'credentials', 'api-key'), CRED);
    sb.env['CREDENTIALS_DIRECTORY'] = join(work, 'credentials');
    // The image has a file where a config file goes: it is replaced by the delivered one.
    writeOciLayout(join(work, 'image'), { layers: [{ entries: [...busyboxEntries(), { type: 'file', path: 'etc/motd', content: 'from the image\n' }] }] });
    expect(sb.run('image', 'import', join(work, 'image'), '--name', 'files:1').code).toBe(0);
  });
  afterAll(async () => {
    await sb?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  test('delivered read-only with their owner and mode; a secret as an environment value', () => {
    sb.write('app.yaml', manifest());
    expect(run('plan').code).toBe(0);
    const r = run('reconcile', '--once', '-o', 'json');
    expect(r.code).toBe(0);
    expect(exec('cat', '/run/secrets/db')).toBe(SECRET);
    expect(exec('cat', '/run/secrets/token')).toBe(TOKEN);
    expect(exec('cat', '/run/secrets/cred')).toBe(CRED);
    expect(exec('stat', '-L', '-c', '%a %u %g', '/run/secrets/db', '/run/secrets/token')).toBe('440 1000 1000\n400 0 0\n');
    expect(exec('busybox', 'readlink', '/etc/app/app.conf')).toBe('/run/corral/files/..data/config/app\n');
    expect(exec('cat', '/etc/app/app.conf', '/etc/motd')).toBe('color=blue\nhello\n');
    // PID 1's environment has the secret's value; the state record does not.
    // (read as PID 1's own user: root in the container may not read another user's environ)
    expect(execAs('1000', 'sh', '-c', 'tr "\\0" "\\n" < /proc/1/environ | grep ^TOKEN=')).toBe(`TOKEN=${TOKEN}\n`);
    // `corral exec` sees it too, as the container has it; `-e` wins.
    expect(exec('sh', '-c', 'echo "$TOKEN"')).toBe(`${TOKEN}\n`);
    expect(sb.run('exec', '-e', 'TOKEN=mine', 'app', '--', 'sh', '-c', 'echo "$TOKEN"').stdout).toBe('mine\n');
    const write = sb.run('exec', 'app', '--', 'sh', '-c', 'echo x > /run/corral/files/..data/config/app');
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
    // The secrets live on a tmpfs of the host, never on the state root's disk.
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(` ${join(sb.root, 'files', 'app')} `);
  });

  test('a new config file is swapped in and its signal sent, the process kept; a new secret restarts it', async () => {
    const pid = psJson(sb).find((c) => c.name === 'app')!.pid;
    writeFileSync(join(work, 'app.conf'), 'color=red\n');
    const plan = JSON.parse(run('plan', '-o', 'json').stdout) as { actions: Array<{ name: string; action: string; diff: Array<{ path: string; effect: string }> }> };
    expect(plan.actions.find((a) => a.name === 'app')).toMatchObject({ action: 'update', diff: [{ path: 'references.file:config/app', effect: 'live' }] });
    expect(run('reconcile', '--once').code).toBe(0);
    expect(exec('cat', '/etc/app/app.conf')).toBe('color=red\n');
    let hups = '';
    for (let i = 0; i < 50 && hups === ''; i++) {
      hups = sb.run('exec', 'app', '--', 'cat', '/tmp/hups').stdout;
      if (hups === '') await sleep(100);
    }
    expect(hups).toBe('hup\n');
    expect(psJson(sb).find((c) => c.name === 'app')!.pid).toBe(pid);
    expect(run('plan', '--detailed-exitcode').code).toBe(0);

    writeFileSync(join(work, 'db-password'), `${SECRET}-2`);
    const restart = JSON.parse(run('plan', '-o', 'json').stdout) as { actions: Array<{ name: string; action: string; diff: Array<{ path: string; before: string; after: string }> }> };
    expect(restart.actions.find((a) => a.name === 'app')!.action).toBe('restart');
    // A secret's digest is keyed (HMAC under the state root's key, 0600): no dictionary reverses it;
    // people are only told that it changed.
    expect(restart.actions.find((a) => a.name === 'app')!.diff[0]).toMatchObject({ path: 'references.file:secret/db', before: expect.stringMatching(/^hmac-sha256:/), after: expect.stringMatching(/^hmac-sha256:/) });
    expect(statSync(join(sb.root, 'secrets.key')).mode & 0o777).toBe(0o600);
    expect(run('plan').stdout).toContain("references.file:secret/db: the secret's content changed");
    expect(run('reconcile', '--once').code).toBe(0);
    expect(exec('cat', '/run/secrets/db')).toBe(`${SECRET}-2`);
    expect(psJson(sb).find((c) => c.name === 'app')!.pid).not.toBe(pid);
  });

  test('a missing source is a plan-time error naming it, and the running container stays', () => {
    const before = psJson(sb).find((c) => c.name === 'app')!.pid;
    sb.write('app.yaml', manifest().replace(join(work, 'db-password'), join(work, 'missing')));
    const plan = run('plan');
    expect(plan.code).not.toBe(0);
    expect(plan.stdout + plan.stderr).toMatch(new RegExp(`FILE_SOURCE_UNAVAILABLE.*secret \`db\`: host file \`${join(work, 'missing')}\` does not exist`));
    expect(run('reconcile', '--once').code).not.toBe(0);
    expect(psJson(sb).find((c) => c.name === 'app')).toMatchObject({ status: 'running', pid: before });
    sb.write('app.yaml', manifest());
  });

  test('a single-file bind whose source is replaced (a new inode, as an editor or git does) is restarted onto the new file', () => {
    const src = join(work, 'bound.conf');
    writeFileSync(src, 'one\n');
    sb.write('bound.yaml', `apiVersion: corral/v1\nkind: Container\nmetadata: {name: bound}\nspec:\n  rootfs: {image: "files:1"}\n  command: [/bin/sh, -c, 'trap "exit 0" TERM; while :; do sleep 0.1; done']\n  mounts: [{type: bind, source: ${src}, target: /etc/bound.conf, readOnly: true}]\n`);
    expect(run('reconcile', '--once').code).toBe(0);
    const cat = (): string => sb.run('exec', 'bound', '--', 'cat', '/etc/bound.conf').stdout;
    expect(cat()).toBe('one\n');
    // Written in place: the container sees it, nothing to do.
    writeFileSync(src, 'two\n');
    expect(cat()).toBe('two\n');
    expect(run('plan', '--detailed-exitcode').code).toBe(0);
    // Replaced by a rename: the bind still shows the old inode until a restart.
    writeFileSync(`${src}.new`, 'three\n');
    renameSync(`${src}.new`, src);
    expect(cat()).toBe('two\n');
    const plan = JSON.parse(run('plan', '-o', 'json').stdout) as { actions: Array<{ name: string; action: string; diff: Array<{ path: string }> }> };
    expect(plan.actions.find((a) => a.name === 'bound')).toMatchObject({ action: 'restart', diff: [{ path: 'references.bind:/etc/bound.conf' }] });
    expect(run('reconcile', '--once').code).toBe(0);
    expect(cat()).toBe('three\n');
    sb.remove('bound.yaml');
  });

  test('exploit: an image whose directory links into a volume cannot make corral write a config file into the volume', () => {
    writeOciLayout(join(work, 'evil'), { layers: [{ entries: [...busyboxEntries(), { type: 'symlink', path: 'etc/app', target: '/data' }] }] });
    expect(sb.run('image', 'import', join(work, 'evil'), '--name', 'evil:1').code).toBe(0);
    sb.write('evil.yaml', `apiVersion: corral/v1\nkind: Container\nmetadata: {name: evil}\nspec:\n  rootfs: {image: "evil:1"}\n  command: [/bin/busybox, sleep, "600"]\n  restartPolicy: Never\n  mounts: [{type: volume, name: evil-data, target: /data}]\n  configFiles:\n    - {name: app, source: {content: "x"}, target: /etc/app/app.conf}\n`);
    const r = run('reconcile', '--once');
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/app\.conf is on a bind or a volume/);
    expect(readdirSync(join(sb.root, 'volumes', 'evil-data', 'data'))).toEqual([]);
    sb.remove('evil.yaml');
    expect(sb.run('reconcile', '--once').code).toBe(0);
  });

  test('manifest errors: an unknown secret for an environment value, a target under a bind', () => {
    sb.write('bad.yaml', manifest('  mounts: [{type: bind, source: /tmp, target: /etc/app}]').replace('name: app}', 'name: bad}').replace('secret: token}', 'secret: nope}'));
    const v = run('validate');
    expect(v.code).not.toBe(0);
    expect(v.stdout + v.stderr).toMatch(/MANIFEST_UNKNOWN_REFERENCE[^\n]*secret `nope`/);
    expect(v.stdout + v.stderr).toMatch(/MANIFEST_CONFLICT[^\n]*`\/etc\/app\/app.conf`, at or under this bind mount/);
    sb.remove('bad.yaml');
  });

  test('no secret in any output, record, event or log corral wrote; the tmpfs goes with the container', () => {
    run('inspect', 'app');
    run('ps', '-o', 'json');
    run('events');
    run('status', '-o', 'json');
    for (const text of outputs) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(CRED);
    }
    expect(filesContaining(sb.root, [SECRET, TOKEN, CRED], join(sb.root, 'files'))).toEqual([]);
    sb.remove('app.yaml');
    const removed = sb.run('reconcile', '--once', '--allow-empty');
    expect(removed.stderr + removed.stdout).not.toMatch(/error/);
    expect(removed.code).toBe(0);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(join(sb.root, 'files'));
    expect(() => statSync(join(sb.root, 'files', 'app'))).toThrow();
  });
});
