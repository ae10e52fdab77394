// `init: true`: the shim's own init is PID 1 (shim/init.c) and the command its child. Seen from
// inside (PID 1's name, the command as PID 2, no zombies, `exec` through the init's namespaces) and
// from outside (signals forwarded, stop without the timeout, the command's status in exit.json,
// the init's credentials no larger than the command's, its memory). `init: false` stays as it was:
// the command is PID 1, a signal it has no handler for is dropped.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readShimExitRecord } from '../../../src/drivers/namespaces/records.js';
import { isAlive, signalInit, start, status, stop, waitForExit, type RuntimeRecord } from '../../../src/drivers/namespaces/runtime.js';
import { isShimError } from '../../../src/drivers/namespaces/shim-error.js';
import { requireRoot } from '../../support/root.js';
import { execIn, makeHarness, mountsLeaked, readLogs, specOf, type Harness } from './harness.js';

/** The lines of /proc/PID/status, by name. */
function statusOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(l);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

async function until<T>(what: string, f: () => T | null | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Lists the zombies of the pid namespace it runs in. */
const ZOMBIES = 'grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null';
/** Two orphans (their parent, a subshell, exits at once) that end soon, under a PID 1 that never waits. */
const ORPHANS = '(sleep 0.2 &); (sleep 0.3 &); exec sleep 1000';

const root = requireRoot();
(root ? describe : describe.skip)('init: true', () => {
  let h: Harness;
  const started: RuntimeRecord[] = [];
  const launch = async (name: string, body: string): Promise<RuntimeRecord> => {
    const record = await start(h.spawnSpec(await specOf(name, body)));
    started.push(record);
    return record;
  };
  beforeAll(() => {
    h = makeHarness('init');
  });
  afterAll(async () => {
    await h?.cleanup();
    for (const r of started) expect(isAlive(r.monitor)).toBe(false);
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('PID 1 is corral-init, the command is PID 2 with the same fds, environment, user and directory', async () => {
    const spec = await specOf('names', [
      'init: true', 'user: {uid: 1000, gid: 1000}', 'workingDir: /tmp', 'env: [{name: GREETING, value: hello}]',
      'command: [/bin/sh, -c, "cat /proc/1/comm; tr \'\\\\0\' \' \' < /proc/1/cmdline; echo; echo $$ $PPID; id -u; pwd; echo $GREETING; ls /proc/self/fd | tr \'\\\\n\' \' \'; echo; echo to-stderr >&2"]',
    ].join('\n'));
    const r = await h.run(spec);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('corral-init');
    expect(lines[1]!.trim()).toBe('corral-init');
    // Its parent is the init.
    expect(lines.slice(2, 6)).toEqual(['2 1', '1000', '/tmp', 'hello']);
    // Only stdio (and the directory `ls` reads, 3): nothing of the init or the monitor leaked.
    expect(lines[6]!.trim()).toBe('0 1 2 3');
    expect(r.stderr).toBe('to-stderr\n');
    expect(r.status).toMatchObject({ state: 'exited', exit: { exitCode: 0, signal: null, init: true } });
  });

  test('the exit record is the command\'s: its code, or the signal that killed it (not 128+n)', async () => {
    const code = await h.run(await specOf('code', 'init: true\ncommand: [/bin/sh, -c, "exit 7"]'));
    expect(code.status).toMatchObject({ state: 'exited', exit: { exitCode: 7, signal: null, init: true } });
    const killed = await h.run(await specOf('killed', 'init: true\ncommand: [/bin/sh, -c, "kill -USR1 $$"]'));
    expect(killed.status).toMatchObject({ state: 'exited', exit: { exitCode: null, signal: 10, signalName: 'SIGUSR1', init: true } });
  });

  test('stop: SIGTERM reaches a command without a handler at once (no stop timeout, no SIGKILL)', async () => {
    const record = await launch('stopper', 'init: true\ncommand: [/bin/sleep, "1000"]');
    expect(status(record).state).toBe('running');
    const t0 = Date.now();
    const r = await stop(record, { timeoutMs: 60_000, killAll: h.cg.killAll });
    expect(r.forced).toBe(false);
    expect(r.warning).toBeNull();
    expect(r.exit).toMatchObject({ exitCode: null, signal: 15, signalName: 'SIGTERM', init: true });
    // Generous: the point is that it did not wait for the 60 s timeout.
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  test('every catchable signal is forwarded: HUP to a handler, USR2 and WINCH to the command', async () => {
    const record = await launch('hupper', [
      'init: true',
      'command: [/bin/sh, -c, "trap \'echo got-hup\' HUP; trap \'echo got-winch\' WINCH; trap \'echo bye; exit 3\' USR2; echo ready; while true; do sleep 0.05; done"]',
    ].join('\n'));
    await until('ready', () => readLogs(record.logDir).stdout.includes('ready'));
    expect(signalInit(record, constants.signals.SIGHUP)).toBe(true);
    await until('got-hup', () => readLogs(record.logDir).stdout.includes('got-hup'));
    expect(signalInit(record, constants.signals.SIGWINCH)).toBe(true);
    await until('got-winch', () => readLogs(record.logDir).stdout.includes('got-winch'));
    expect(status(record).state).toBe('running');
    expect(signalInit(record, constants.signals.SIGUSR2)).toBe(true);
    const end = await waitForExit(record, { timeoutMs: 20_000 });
    expect(end).toMatchObject({ state: 'exited', exit: { exitCode: 3, signal: null, init: true } });
    expect(readLogs(record.logDir).stdout).toBe('ready\ngot-hup\ngot-winch\nbye\n');
  });

  test('orphans are reaped: no zombie is left, and `exec` works through the init\'s namespaces', async () => {
    const body = `init: true\ncommand: [/bin/sh, -c, "${ORPHANS}"]`;
    const record = await launch('reaper', body);
    // The orphans end after 0.2 and 0.3 s; their parent (a subshell) is long gone.
    await sleep(1000);
    const inside = await execIn(h, await specOf('reaper', body), record, { argv: ['/bin/sh', '-c', `${ZOMBIES}; echo; cat /proc/1/comm /proc/2/comm`] });
    expect(inside).toMatchObject({ code: 0, stdout: '\ncorral-init\nsleep\n' });
    // From outside: the cgroup holds the init and the command, neither a zombie.
    const states = h.cg.pids().map((p) => statusOf(p)['State'] ?? '');
    expect(states).toHaveLength(2);
    expect(states.filter((s) => s.startsWith('Z'))).toEqual([]);
    await stop(record, { timeoutMs: 20_000, killAll: h.cg.killAll });
  });

  test('the init holds no more than the command: same ids, capabilities, no_new_privs, seccomp; and it stays small', async () => {
    for (const [name, user] of [['caps-root', ''], ['caps-user', 'user: {uid: 1000, gid: 1000}']] as const) {
      const record = await launch(name, `init: true\n${user}\ncommand: [/bin/sleep, "1000"]`);
      try {
        const cmd = await until('the command', () => h.cg.pids().find((p) => p !== record.init.pid && p !== record.monitor.pid && statusOf(p)['Name'] === 'sleep'));
        const init = statusOf(record.init.pid);
        const command = statusOf(cmd);
        expect(init['Name']).toBe('corral-init');
        expect(Number(init['PPid'])).toBe(record.monitor.pid);
        for (const k of ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp']) {
          expect({ [k]: init[k] }).toEqual({ [k]: command[k] });
        }
        const rss = Number(/(\d+)/.exec(init['VmRSS'] ?? '')?.[1]);
        process.stderr.write(`${name}: corral-init VmRSS ${rss} kB\n`);
        expect(rss).toBeLessThanOrEqual(300);
      } finally {
        await stop(record, { timeoutMs: 20_000, killAll: h.cg.killAll });
      }
    }
  });

  test('a command that cannot be executed is a setup error, as without an init', async () => {
    const spec = await specOf('badexe-init', 'init: true\ncommand: [/no/such/binary]');
    const err = await start(h.spawnSpec(spec)).catch((e: unknown) => e);
    expect((err as Error).message).toBe('container `badexe-init`: exec /no/such/binary: ENOENT');
    expect(isShimError(err) && err.stage).toBe('exec');
    expect(h.cg.pids().filter((p) => p !== process.pid)).toEqual([]);
  });

  test('the init counts against the pids limit: with room for one process, the start fails naming the init', async () => {
    const pidsDir = h.cg.dirs.find((d) => d.startsWith('/sys/fs/cgroup/pids/'));
    if (!pidsDir) return;
    writeFileSync(join(pidsDir, 'pids.max'), '1');
    try {
      const err = await start(h.spawnSpec(await specOf('onepid', 'init: true\ncommand: [/bin/true]'))).catch((e: unknown) => e);
      expect(isShimError(err) && err.stage).toBe('init');
      expect((err as Error).message).toMatch(/fork the command .*pids limit.*: (EAGAIN|EWOULDBLOCK)$/);
    } finally {
      writeFileSync(join(pidsDir, 'pids.max'), 'max');
    }
  });

  test('with the host\'s pid namespace the init is the command\'s parent and reaps its orphans too (a subreaper)', async () => {
    // The orphan is the init's child while it runs (the init is the nearest subreaper), and gone
    // (reaped, not a zombie) after it ended.
    const children = 'c() { grep -h ^PPid: /proc/[0-9]*/status 2>/dev/null | grep -cw $PPID; }';
    const r = await h.run(await specOf('hostpid', `init: true\nnamespaces: {pid: host}\ncommand: [/bin/sh, -c, "${children}; cat /proc/$PPID/comm; (sleep 0.5 &); sleep 0.2; c; sleep 0.8; c"]`));
    expect(r.stdout).toBe('corral-init\n2\n1\n');
    expect(r.status).toMatchObject({ state: 'exited', exit: { exitCode: 0, init: true } });
  });

  test('in a user namespace: the init is the container\'s root, unprivileged on the host, and stop still takes one signal', async () => {
    const record = await launch('userns-init', [
      'init: true', 'command: [/bin/sleep, "1000"]',
      'namespaces: {user: {enabled: true, uidMap: [{containerID: 0, hostID: 700000, size: 65536}], gidMap: [{containerID: 0, hostID: 700000, size: 65536}]}}',
    ].join('\n'));
    expect(statusOf(record.init.pid)['Uid']).toBe('700000\t700000\t700000\t700000');
    expect(statusOf(record.init.pid)['Name']).toBe('corral-init');
    const r = await stop(record, { timeoutMs: 60_000, killAll: h.cg.killAll });
    expect(r).toMatchObject({ forced: false, exit: { signal: 15, init: true } });
  });

  test('a forced kill (the init itself killed) is recorded as SIGKILL', async () => {
    const record = await launch('forced', 'init: true\ncommand: [/bin/sleep, "1000"]');
    expect(signalInit(record, constants.signals.SIGKILL)).toBe(true);
    const end = await waitForExit(record, { timeoutMs: 20_000 });
    expect(end).toMatchObject({ state: 'exited', exit: { exitCode: null, signal: 9, signalName: 'SIGKILL' } });
    expect(readShimExitRecord(record.shimDir)?.init).toBeUndefined();
  });
});

(root ? describe : describe.skip)('init: false (the default) is unchanged', () => {
  let h: Harness;
  beforeAll(() => {
    h = makeHarness('noinit');
  });
  afterAll(async () => {
    await h?.cleanup();
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('the command is PID 1; the exit record has no `init`', async () => {
    const r = await h.run(await specOf('plain', 'command: [/bin/sh, -c, "cat /proc/1/comm; echo $$; exit 5"]'));
    expect(r.stdout).toBe('sh\n1\n');
    expect(r.status).toMatchObject({ state: 'exited', exit: { exitCode: 5, signal: null } });
    expect(readShimExitRecord(r.record.shimDir)).not.toHaveProperty('init');
  });

  test('a PID 1 that never waits leaves its orphans as zombies (what `init: true` is for)', async () => {
    const body = `command: [/bin/sh, -c, "${ORPHANS}"]`;
    const record = await start(h.spawnSpec(await specOf('zombies', body)));
    await sleep(1000);
    const inside = await execIn(h, await specOf('zombies', body), record, { argv: ['/bin/sh', '-c', `${ZOMBIES} | wc -l; cat /proc/1/comm`] });
    expect(inside).toMatchObject({ code: 0, stdout: '2\nsleep\n' });
    await stop(record, { timeoutMs: 300, killAll: h.cg.killAll });
  });

  test('a signal PID 1 has no handler for is dropped: stop waits for the timeout, then SIGKILL', async () => {
    const record = await start(h.spawnSpec(await specOf('plain-sleep', 'command: [/bin/sleep, "1000"]')));
    expect(signalInit(record, constants.signals.SIGHUP)).toBe(true);
    await sleep(200);
    expect(status(record).state).toBe('running');
    const r = await stop(record, { timeoutMs: 300, killAll: h.cg.killAll });
    expect(r.forced).toBe(true);
    expect(r.exit).toMatchObject({ exitCode: null, signal: 9, signalName: 'SIGKILL' });
  });
});
