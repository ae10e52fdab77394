// `corral agent` against the real kernel: it converges edits, coalesces bursts, restarts crashed
// containers with backoff, undoes drift, and its own SIGKILL is a non-event for the containers.
// Waits use generous timeouts; nothing asserts speed.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { BIN } from '../support/cli.js';
import { requireRoot } from '../support/root.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';
import { until as waitUntil } from '../support/until.js';

const sandboxes: Sandbox[] = [];
const agents: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map(stopAgent));
});
afterAll(async () => {
  for (const sb of sandboxes) await sb.cleanup();
});

function startAgent(sb: Sandbox, ...args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'agent', '--settle', '100ms', ...args], { env: { ...process.env, ...sb.env, CORRAL_LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
  (child as ChildProcess & { log: () => string }).log = () => log;
  agents.push(child);
  return child;
}

/** The end of the newest agent's log, so a timeout says what the agent was doing. */
function agentLogTail(): string {
  const newest = agents[agents.length - 1] as (ChildProcess & { log?: () => string }) | undefined;
  const exited = newest && (newest.exitCode !== null || newest.signalCode !== null) ? ` (exited: ${newest.exitCode ?? newest.signalCode})` : '';
  return newest?.log ? `agent log${exited}:\n${newest.log().slice(-6000)}` : 'no agent started';
}

function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  return waitUntil(what, probe, timeoutMs, () => agentLogTail());
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}

function agentStatus(sb: Sandbox): { reconciles: number; lastReconcile: { result: string } | null } {
  return JSON.parse(readFileSync(join(sb.root, 'agent.json'), 'utf8'));
}

function events(sb: Sandbox): Array<{ kind: string; container?: string; message: string }> {
  try {
    return readFileSync(join(sb.root, 'events.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

const running = (sb: Sandbox, name: string) => psJson(sb).find((c) => c.name === name && c.status === 'running');

describe('corral agent', () => {
  test('converges edits, restarts a killed container with backoff, undoes drift, survives its own SIGKILL', async () => {
    if (!requireRoot()) return;
    const sb = sandbox('agent');
    sandboxes.push(sb);
    sb.write('web.yaml', sleeper('web', 'resources: {memory: 64Mi}'));
    let agent = startAgent(sb, '--resync', '2s');
    const first = await until('web running', () => running(sb, 'web'));

    // An edit converges: env changes restart it.
    sb.write('web.yaml', sleeper('web', 'resources: {memory: 64Mi}\nenv: {V: "2"}'));
    const edited = await until('web restarted', () => { const c = running(sb, 'web'); return c && c.pid !== first.pid && c; });

    // Killed from outside: back with a new pid, after the restart backoff, counted.
    process.kill(edited.pid!, 'SIGKILL');
    const back = await until('web back', () => { const c = running(sb, 'web'); return c && c.pid !== edited.pid && c; }, 90_000);
    // Say what the agent did when it is not so (a restart that did not count as one).
    if (back.restarts < 1) throw new Error(`web came back with restarts ${back.restarts}: ${JSON.stringify(events(sb).slice(-8))}\n${agentLogTail()}`);
    const record = JSON.parse(readFileSync(join(sb.root, 'state', 'web.json'), 'utf8'));
    expect(record.backoff.delayMs).toBe(10_000);
    expect(events(sb).some((e) => e.kind === 'exited' && e.container === 'web')).toBe(true);

    // A limit changed by hand is restored at the next resync.
    const handle = JSON.parse(sb.run('inspect', 'web').stdout).cgroup as { v1: Record<string, string>; unified: string };
    const limitFile = handle.v1['memory'] ? `${handle.v1['memory']}/memory.limit_in_bytes` : `${handle.unified}/memory.max`;
    // Lower, not higher: on cgroup v1 the memory limit may not exceed memory+swap.
    writeFileSync(limitFile, String(48 * 2 ** 20));
    await until('limit restored', () => Number(readFileSync(limitFile, 'utf8').trim()) === 64 * 2 ** 20);
    await until('drift event', () => events(sb).some((e) => e.kind === 'drift-corrected' && e.container === 'web'));
    expect(running(sb, 'web')!.pid).toBe(back.pid);

    // SIGKILL the agent; a new one restarts nothing and finds the state consistent.
    agent.kill('SIGKILL');
    await new Promise((r) => agent.once('exit', r));
    expect(running(sb, 'web')!.pid).toBe(back.pid);
    agent = startAgent(sb, '--resync', '2s');
    const before = agentStatus(sb).reconciles;
    await until('second agent reconciled', () => agentStatus(sb).reconciles > 0 && agentStatus(sb).reconciles !== before);
    await new Promise((r) => setTimeout(r, 3000));
    expect(running(sb, 'web')!.pid).toBe(back.pid);
    expect(sb.run('plan', '--detailed-exitcode').code).toBe(0);

    // SIGTERM: the agent exits 0 and the container keeps running.
    const code = await new Promise<number | null>((resolve) => { agent.once('exit', (c) => resolve(c)); agent.kill('SIGTERM'); });
    expect(code).toBe(0);
    expect(running(sb, 'web')!.pid).toBe(back.pid);
    expect(sb.run('status').code).toBe(3);
  }, 300_000);

  test('between resyncs, a pass trusts silent exit watches and reads afresh the container whose watch fired', async () => {
    if (!requireRoot()) return;
    const sb = sandbox('agent-vouch');
    sandboxes.push(sb);
    sb.write('a.yaml', sleeper('a'));
    sb.write('b.yaml', sleeper('b'));
    // No resync within the test: only the exit watches and the manifest watch start passes.
    const agent = startAgent(sb, '--resync', '1h');
    const a = await until('a running', () => running(sb, 'a'));
    const b = await until('b running', () => running(sb, 'b'));
    await until('exit watches armed', () => agentStatus(sb).reconciles > 0);
    await new Promise((r) => setTimeout(r, 500));

    // Its monitor killed, `a` runs on unwatched: the watch fires, and the pass it starts reads `a`
    // (a silent watch would vouch that it runs as recorded) and restarts it under a new monitor.
    const monitorOf = (name: string) => (JSON.parse(readFileSync(join(sb.root, 'state', `${name}.json`), 'utf8')) as { runtime: { monitor: { pid: number } } }).runtime.monitor.pid;
    process.kill(monitorOf('a'), 'SIGKILL');
    const restarted = await until('a restarted under a new monitor', () => { const c = running(sb, 'a'); return c && c.pid !== a.pid && c; }, 30_000);
    expect(events(sb).some((e) => e.container === 'a' && JSON.stringify(e).includes('monitor-lost'))).toBe(true);
    // `b`, vouched for meanwhile, was left alone.
    expect(running(sb, 'b')!.pid).toBe(b.pid);

    // An edit's pass also trusts `b`'s silent watch, and still converges the edit.
    sb.write('b.yaml', sleeper('b', 'env: {V: "2"}'));
    await until('b restarted for its edit', () => { const c = running(sb, 'b'); return c && c.pid !== b.pid && c; });
    expect(running(sb, 'a')!.pid).toBe(restarted.pid);
    await stopAgent(agent);
  }, 120_000);

  test('each exit of a crash-looping container is one event, however many passes see it', async () => {
    if (!requireRoot()) return;
    const sb = sandbox('exits');
    sandboxes.push(sb);
    sb.write('crash.yaml', 'apiVersion: corral/v1\nkind: Container\nmetadata: {name: crash}\nspec:\n  rootfs: {host: {}}\n  command: [/bin/sh, -c, "sleep 0.3; exit 3"]\n');
    // A resync every second: many passes see each recorded exit.
    const agent = startAgent(sb, '--resync', '1s');
    const kinds = (): string[] => sb.run('events', '--container', 'crash').stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { kind: string }).kind);
    try {
      await until('two exits', () => kinds().filter((k) => k === 'exited').length >= 2, 90_000);
    } finally {
      await stopAgent(agent);
    }
    const all = kinds();
    const exits = all.filter((k) => k === 'exited').length;
    const starts = all.filter((k) => k === 'created' || k === 'started').length;
    expect(exits === starts || exits === starts - 1).toBe(true);
  }, 120_000);

  test('100 quick writes cause at most 3 reconciles', async () => {
    if (!requireRoot()) return;
    const sb = sandbox('burst');
    sandboxes.push(sb);
    sb.write('a.yaml', sleeper('a'));
    const port = 20000 + (process.pid % 20000);
    const agent = startAgent(sb, '--resync', '1h', '--metrics', `127.0.0.1:${port}`);
    await until('a running', () => running(sb, 'a'));
    await until('idle', () => agentStatus(sb).reconciles >= 1);
    // Opt-in metrics, on the address given.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const name of ['corral_containers', 'corral_reconcile_duration_seconds', 'corral_reconcile_total', 'corral_container_restarts_total', 'corral_container_oom_kills_total', 'corral_container_up', 'corral_container_memory_bytes', 'corral_container_cpu_seconds_total', 'corral_container_pids', 'corral_container_start_time_seconds', 'corral_container_writable_layer_bytes']) expect(metrics).toContain(name);
    // Read from the container's cgroup at the scrape: a running process uses some memory.
    // Every series carries the host (the kernel's name here: no --host-name).
    expect(Number(/corral_container_memory_bytes\{container="[^"]+",host="[^"]+"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/corral_containers\{status="running",host="[^"]+"\} 1/);
    // SIGHUP: a pass right now.
    const hupBefore = agentStatus(sb).reconciles;
    agent.kill('SIGHUP');
    await until('SIGHUP pass', () => agentStatus(sb).reconciles > hupBefore);
    await new Promise((r) => setTimeout(r, 1000));
    const before = agentStatus(sb).reconciles;
    for (let i = 0; i < 100; i++) sb.write('a.yaml', sleeper('a', `env: {N: "${i}"}`));
    await until('restarted with the last edit', () => sb.run('exec', 'a', '--', '/bin/sh', '-c', 'echo $N').stdout.trim() === '99');
    await new Promise((r) => setTimeout(r, 2000));
    const passes = agentStatus(sb).reconciles - before;
    expect(passes).toBeGreaterThanOrEqual(1);
    expect(passes).toBeLessThanOrEqual(3);
  }, 180_000);

  test('an unhealthy container with onFailure: restart is restarted', async () => {
    if (!requireRoot()) return;
    const sb = sandbox('health');
    sandboxes.push(sb);
    sb.write('h.yaml', sleeper('h', 'healthcheck: {exec: [/bin/sh, -c, "test -f /tmp/ok"], interval: 500ms, timeout: 2s, retries: 2, onFailure: restart}'));
    startAgent(sb, '--resync', '1h');
    const first = await until('h running', () => running(sb, 'h'));
    await until('unhealthy event', () => events(sb).some((e) => e.kind === 'unhealthy' && e.container === 'h'));
    // Restarted after the backoff (10 s for the first), not at every failed check. `ps` can show
    // the new process a moment before the record that counts the restart is written (CI12, CI34):
    // wait for the count, then check it is one.
    const again = await until('h restarted', () => { const c = running(sb, 'h'); return c && c.pid !== first.pid && c.restarts > 0 && c; }, 90_000);
    expect(again.restarts).toBe(1);
    expect(events(sb).some((e) => e.kind === 'restarted' && e.container === 'h')).toBe(true);
    const record = JSON.parse(readFileSync(join(sb.root, 'state', 'h.json'), 'utf8'));
    expect(record.backoff.delayMs).toBe(10_000);
  }, 150_000);

  test('SIGTERM while a health check runs: the agent exits 0 by itself, and the check is hung up', async () => {
    if (!requireRoot()) return;
    const sb = sandbox('agent-exit');
    sandboxes.push(sb);
    // A sleep length no other process uses, to find the check among the host's processes.
    const token = String(900_000 + (process.pid % 100_000));
    sb.write('slow.yaml', sleeper('slow', `healthcheck: {exec: [/bin/sleep, "${token}"], interval: 500ms, timeout: 10m}`));
    const agent = startAgent(sb);
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    const checks = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(p) === `/bin/sleep\0${token}\0`);
    await until('a health check in flight', () => checks().length > 0);
    agent.kill('SIGTERM');
    // The check would run for ten minutes: an agent waiting for it (or for any timer) is still
    // here after this bound, which nothing fast or slow about the machine explains.
    const outcome = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 60_000).unref())]);
    expect({ outcome, log: outcome === 0 ? '' : agentLogTail() }).toEqual({ outcome: 0, log: '' });
    expect(agentLogTail()).toContain('agent stopped');
    // Hung up by its helper's parent-death signal: no check is left running in the container.
    await until('the check gone', () => checks().length === 0);
  }, 150_000);

  test('a git repository as the manifest directory: commit, checkout, revert each converge', async () => {
    if (!requireRoot()) return;
    const sb = sandbox('git');
    sandboxes.push(sb);
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=ci@example.org', '-c', 'user.name=ci', ...args], { cwd: sb.manifests, stdio: 'pipe' }).toString();
    git('init', '-q', '-b', 'main');
    sb.write('a.yaml', sleeper('a'));
    git('add', '.');
    git('commit', '-qm', 'a');
    startAgent(sb, '--resync', '1h');
    await until('a', () => running(sb, 'a'));
    git('checkout', '-qb', 'feature');
    sb.write('b.yaml', sleeper('b'));
    sb.remove('a.yaml');
    git('add', '-A');
    git('commit', '-qm', 'b instead of a');
    await until('feature converged', () => { const ps = psJson(sb); return ps.length === 1 && ps[0]!.name === 'b' && ps[0]!.status === 'running'; });
    git('checkout', '-q', 'main');
    await until('main converged', () => { const ps = psJson(sb); return ps.length === 1 && ps[0]!.name === 'a' && ps[0]!.status === 'running'; });
    git('merge', '-q', 'feature');
    await until('merge converged', () => psJson(sb).map((c) => c.name).join() === 'b');
    git('revert', '--no-edit', 'HEAD');
    await until('revert converged', () => { const ps = psJson(sb); return ps.map((c) => `${c.name}:${c.status}`).join() === 'a:running'; });
  }, 180_000);
});
