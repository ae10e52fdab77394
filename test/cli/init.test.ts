// `spec.init: true` end to end, through the CLI as a user runs it: `corral stop` ends a command
// that has no SIGTERM handler at once (not after stopTimeout, not by SIGKILL), `corral kill -s HUP`
// reaches the command's handler, `ps` reports the command's own exit (code or signal), `exec`
// finds the init as PID 1. The same manifests without `init` show the old behaviour beside them.

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { psJson, sandbox, type Sandbox } from '../support/host-sandbox.js';
import { requireRoot } from '../support/root.js';

const manifest = (name: string, command: string, extra: string[] = []): string => `apiVersion: corral/v1
kind: Container
metadata: {name: ${name}}
spec:
  rootfs: {host: {}}
  command: ${command}
${extra.map((l) => `  ${l}\n`).join('')}`;

async function until(what: string, f: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const root = requireRoot();
(root ? describe : describe.skip)('init: true, through the CLI', () => {
  let sb: Sandbox;
  const row = (name: string) => psJson(sb).find((c) => c.name === name);
  const logs = (name: string): string => sb.run('logs', name).stdout;
  beforeAll(() => {
    sb = sandbox('init');
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  test('a Python service (no SIGTERM handler: ignored as PID 1) stops on SIGTERM under the init', () => {
    // scripts/test-deps.sh installs python3-minimal.
    expect(existsSync('/usr/bin/python3')).toBe(true);
    sb.write('py.yaml', manifest('py', '[/usr/bin/python3, -c, "import time; time.sleep(100000)"]', ['init: true', 'stopTimeout: 60s']));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(sb.run('stop', 'py').code).toBe(0);
    // Stopped by the signal, not killed after the 60 s stopTimeout.
    expect(row('py')).toMatchObject({ status: 'stopped', lastExit: { code: null, signal: 'SIGTERM' } });
    sb.remove('py.yaml');
  });

  test('corral stop: SIGTERM reaches a command without a handler through the init, at once; without init it is dropped and the command is killed', async () => {
    sb.write('stopper.yaml', manifest('stopper', '[/bin/sleep, "100000"]', ['init: true', 'stopTimeout: 60s']));
    sb.write('plain.yaml', manifest('plain', '[/bin/sleep, "100000"]', ['stopTimeout: 1s']));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    expect(row('stopper')?.status).toBe('running');
    expect(sb.run('exec', 'stopper', '--', 'cat', '/proc/1/comm', '/proc/2/comm').stdout).toBe('corral-init\nsleep\n');
    expect(sb.run('exec', 'plain', '--', 'cat', '/proc/1/comm').stdout).toBe('sleep\n');

    const t0 = Date.now();
    const stopped = sb.run('stop', 'stopper');
    expect(stopped.code).toBe(0);
    // stopTimeout is 60 s: well under it means the signal did its work. The record says how.
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(row('stopper')).toMatchObject({ status: 'stopped', lastExit: { code: null, signal: 'SIGTERM' } });

    expect(sb.run('stop', 'plain').code).toBe(0);
    expect(row('plain')).toMatchObject({ status: 'stopped', lastExit: { code: null, signal: 'SIGKILL' } });
    const human = sb.run('ps').stdout;
    expect(human).toMatch(/^stopper\s.*\bSIGTERM\b/m);
    expect(human).toMatch(/^plain\s.*\bSIGKILL\b/m);
    sb.remove('stopper.yaml');
    sb.remove('plain.yaml');
  });

  test('corral kill -s HUP reaches the command\'s handler; a signal it has no handler for ends it, and ps says which', async () => {
    const script = '[/bin/sh, -c, "trap \'echo got-hup\' HUP; echo ready; while true; do sleep 0.1; done"]';
    sb.write('hupper.yaml', manifest('hupper', script, ['init: true', 'restartPolicy: Never']));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    await until('ready', () => logs('hupper').includes('ready'));
    const pid = row('hupper')?.pid;
    expect(sb.run('kill', 'hupper', '-s', 'HUP').code).toBe(0);
    await until('got-hup', () => logs('hupper').includes('got-hup'));
    // Still the same container: the handler ran, nothing restarted.
    expect(row('hupper')).toMatchObject({ status: 'running', pid, restarts: 0 });

    expect(sb.run('kill', 'hupper', '-s', 'USR1').code).toBe(0);
    await until('the exit', () => row('hupper')?.status === 'exited');
    expect(row('hupper')).toMatchObject({ lastExit: { code: null, signal: 'SIGUSR1' } });
    sb.remove('hupper.yaml');
  });

  test('the command\'s exit code is the one recorded', async () => {
    sb.write('seven.yaml', manifest('seven', '[/bin/sh, -c, "exit 7"]', ['init: true', 'restartPolicy: Never']));
    expect(sb.run('reconcile', '--once').code).toBe(0);
    await until('the exit', () => row('seven')?.status === 'exited');
    expect(row('seven')).toMatchObject({ lastExit: { code: 7, signal: null } });
    expect(sb.run('ps').stdout).toMatch(/^seven\s.*\bcode 7\b/m);
    sb.remove('seven.yaml');
  });
});
