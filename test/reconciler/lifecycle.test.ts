// The imperative commands and the container's I/O, end to end: stop, start, restart, logs, and
// exec with a terminal.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BIN } from '../support/cli.js';
import { requireRoot } from '../support/root.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';

let sb: Sandbox;
beforeAll(() => {
  if (requireRoot()) sb = sandbox('lifecycle');
});
afterAll(async () => {
  await sb?.cleanup();
});

/** A container of the host's own root running `script` under sh. */
const shell = (name: string, script: string): string => `apiVersion: corral/v1
kind: Container
metadata:
  name: ${name}
spec:
  rootfs: {host: {}}
  command: [/bin/sh, -c, '${script}']
  stopTimeout: 5s
`;

const svc = shell('svc', 'echo "hello from $$"; echo "to stderr" >&2; trap "exit 0" TERM; sleep 100000 & wait');

const status = () => psJson(sb).find((c) => c.name === 'svc')!;

async function waitFor(probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('imperative commands', () => {
  test('stop keeps it stopped across reconciles until start; restart gives a new process', async () => {
    if (!sb) return;
    sb.write('svc.yaml', svc);
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const first = status();
    expect(first.status).toBe('running');

    expect(sb.run('stop', 'svc')).toMatchObject({ code: 0, stdout: 'svc: stopped\n' });
    expect(status().status).toBe('stopped');
    const r = JSON.parse(sb.run('reconcile', '--once', '--output', 'json').stdout);
    expect(r.actions[0]).toMatchObject({ name: 'svc', action: 'none' });
    expect(r.actions[0].reasons[0]).toMatchObject({ code: 'stopped-by-hand', text: expect.stringMatching(/stopped by hand/) });
    expect(status().status).toBe('stopped');

    expect(sb.run('start', 'svc')).toMatchObject({ code: 0, stdout: 'svc: started\n' });
    const second = status();
    expect(second).toMatchObject({ status: 'running' });
    expect(second.pid).not.toBe(first.pid);

    expect(sb.run('restart', 'svc').code).toBe(0);
    const third = status();
    expect(third.status).toBe('running');
    expect(third.pid).not.toBe(second.pid);
    expect(sb.run('start', 'nope').code).toBe(1);
    // Each act by hand is an event.
    const kinds = sb.run('events', '--container', 'svc').stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; container?: string; message: string })
      .filter((e) => e.container === 'svc').map((e) => e.kind);
    expect(kinds.slice(-3)).toEqual(['stopped', 'started', 'restarted']);
  });

  test('kill sends a signal to PID 1 only when it runs, and it is an event', async () => {
    if (!sb) return;
    const hup = shell('hup', 'trap "echo reloaded" HUP; trap "exit 0" TERM; while true; do sleep 0.1; done');
    sb.write('hup.yaml', hup);
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const pid = psJson(sb).find((c) => c.name === 'hup')!.pid;
    expect(sb.run('kill', 'hup', '-s', 'HUP')).toMatchObject({ code: 0, stdout: 'hup: SIGHUP sent\n' });
    await waitFor(() => sb.run('logs', 'hup').stdout.includes('reloaded'));
    expect(psJson(sb).find((c) => c.name === 'hup')).toMatchObject({ status: 'running', pid });
    const event = JSON.parse(sb.run('events', '--container', 'hup', '--tail', '1').stdout);
    expect(event).toMatchObject({ kind: 'signaled', container: 'hup' });

    // The default is SIGTERM: this one exits 0 on it, and the record is left to the next reconcile.
    expect(sb.run('kill', 'hup').code).toBe(0);
    await waitFor(() => psJson(sb).find((c) => c.name === 'hup')!.status === 'exited');
    const again = sb.run('kill', 'hup', '-s', 'USR1');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('CONTAINER_NOT_RUNNING');
    expect(sb.run('kill', 'hup', '-s', 'NOPE').stderr).toContain('CLI_USAGE');
    expect(sb.run('kill', 'nope').stderr).toContain('CONTAINER_NOT_FOUND');
    sb.remove('hup.yaml');
    expect(sb.run('reconcile', '--once', '--allow-empty').code).toBe(0);
  });

  test('logs show stdout and stderr of every run, and --tail limits them', async () => {
    if (!sb) return;
    const all = sb.run('logs', 'svc');
    expect(all.code).toBe(0);
    expect(all.stdout.match(/hello from 1/g)!.length).toBeGreaterThanOrEqual(3);
    expect(all.stdout).toMatch(/ stderr F to stderr/);
    const tail = sb.run('logs', 'svc', '--tail', '2');
    expect(tail.stdout.trim().split('\n')).toHaveLength(2);
  });

  test('exec -t runs the command on a terminal when the caller has one', () => {
    if (!sb) return;
    // `script` gives the CLI a pseudo-terminal, as a user's shell would.
    const r = spawnSync('script', ['-qec', `${process.execPath} ${BIN} exec -t svc -- /bin/sh -c 'tty; echo rows=$(stty size)'`, '/dev/null'], {
      env: { ...process.env, ...sb.env }, encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    const plain = sb.run('exec', 'svc', '--', '/bin/sh', '-c', 'tty || true');
    expect(plain.stdout).toMatch(/not a tty/);
  });
});

describe('stop and dependents', () => {
  test('stopping a container that running ones depend on names them in a warning; stopping a leaf says nothing', () => {
    if (!sb) return;
    sb.write('db.yaml', sleeper('db'));
    sb.write('web.yaml', sleeper('web', 'dependsOn: [db]'));
    sb.write('side.yaml', sleeper('side', 'namespaces: {network: "container:db"}'));
    sb.write('other.yaml', sleeper('other'));
    expect(sb.run('reconcile', '--once').code).toBe(0);

    const stop = sb.run('stop', 'db');
    expect(stop).toMatchObject({ code: 0, stdout: 'db: stopped\n' });
    const warnings = stop.stderr.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.level === 'warn');
    expect(warnings).toEqual([expect.objectContaining({ container: 'db', dependents: ['side', 'web'], message: expect.stringMatching(/`side`, `web` depend on `db`/) })]);
    expect(stop.stderr).not.toContain('other');

    expect(sb.run('start', 'db').code).toBe(0);
    expect(sb.run('stop', 'web')).toMatchObject({ code: 0, stdout: 'web: stopped\n', stderr: '' });
    for (const f of ['db.yaml', 'web.yaml', 'side.yaml', 'other.yaml']) sb.remove(f);
    expect(sb.run('reconcile', '--once').code).toBe(0);
  });
});

describe('seccomp profile files', () => {
  test('a profile next to the manifest is enforced; editing it restarts the container; a broken one keeps it running', () => {
    if (!sb) return;
    const profile = (errno: number) => JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: errno }] });
    writeFileSync(join(sb.manifests, 'no-mkdir.json'), profile(13));
    sb.write('sec.yaml', svc.replace('name: svc', 'name: sec').replace('  stopTimeout: 5s', '  stopTimeout: 5s\n  security: {seccomp: {file: no-mkdir.json}}'));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    const denied = sb.run('exec', 'sec', '--', '/bin/mkdir', '/tmp/x');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Permission denied/);
    expect(sb.run('exec', 'sec', '--', '/bin/true').code).toBe(0);

    writeFileSync(join(sb.manifests, 'no-mkdir.json'), profile(1));
    const plan = JSON.parse(sb.run('plan', '--output', 'json').stdout);
    expect(plan.actions.find((a: { name: string }) => a.name === 'sec')).toMatchObject({ action: 'restart', diff: [expect.objectContaining({ path: 'references.seccomp' })] });
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(sb.run('exec', 'sec', '--', '/bin/mkdir', '/tmp/x').stderr).toMatch(/Operation not permitted/);

    const pid = psJson(sb).find((c) => c.name === 'sec')!.pid;
    writeFileSync(join(sb.manifests, 'no-mkdir.json'), '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GT"}]}]}');
    const broken = sb.run('reconcile', '--once', '--output', 'json');
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout).errors[0]).toMatchObject({ code: 'SECCOMP_PROFILE_INVALID', container: 'sec' });
    expect(psJson(sb).find((c) => c.name === 'sec')).toMatchObject({ status: 'running', pid });
  });
});
