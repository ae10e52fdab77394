// Events and metrics: kinds are chosen by reason code (rewording a reason changes no event kind and
// no counter), and an exit is one event, at the pass that recorded it. Plans are built by hand.

import { describe, expect, test } from '@jest/globals';
import { eventsFromPass, OncePerFact } from '../../src/agent/events.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import type { ChangeResult } from '../../src/reconciler/apply.js';
import { REASON_CODES } from '../../src/reconciler/plan/reasons.js';
import { change, NOW, planOf } from '../support/plan-values.js';
import { desiredOne, recordFor } from '../support/plan-fixtures.js';



const ok = (name: string): ChangeResult => ({ name, ok: true, durationMs: 1 } as ChangeResult);

async function counter(metrics: AgentMetrics, name: string): Promise<Record<string, number>> {
  const values = (await metrics.registry.getSingleMetric(name)!.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels['container']), v.value]));
}

describe('events', () => {
  test('an exit is one event, at the pass that recorded it; later passes that still show it add none', () => {
    const plan = planOf(
      change('a', 'none', [{ code: 'oom-killed', text: 'was OOM-killed; restart backoff: next start in 9s' }], '2026-11-29T10:00:09.000Z'),
      change('b', 'start', [{ code: 'exited', text: 'stopped existing with status 3; restartPolicy Always' }]),
      change('c', 'start', [{ code: 'killed', text: 'SIGKILL got it; restartPolicy Always' }]),
    );
    const at = NOW.toISOString();
    const exits = [
      { name: 'a', exit: { code: null, signal: 'SIGKILL', oomKilled: true, at } },
      { name: 'b', exit: { code: 3, signal: null, oomKilled: false, at } },
      { name: 'c', exit: { code: null, signal: 'SIGKILL', oomKilled: false, at } },
    ];
    const events = eventsFromPass(plan, [ok('b'), ok('c')], [], NOW, exits);
    expect(events.map((e) => [e.kind, e.container, e.message])).toEqual([
      ['oom-killed', 'a', 'was OOM-killed'], ['exited', 'b', 'exited with code 3'], ['started', 'b', 'start: stopped existing with status 3; restartPolicy Always'],
      ['exited', 'c', 'was killed by SIGKILL'], ['started', 'c', 'start: SIGKILL got it; restartPolicy Always'],
    ]);
    // The started event carries the reasons, with their codes.
    expect(events[2]!.reasons).toEqual([{ code: 'exited', text: 'stopped existing with status 3; restartPolicy Always' }]);
    // The next pass, still waiting out a's backoff, sees the same exit in its plan: no second event.
    expect(eventsFromPass(planOf(plan.changes[0]!), [], [], NOW, [])).toEqual([]);
    // An exit nobody saw (the monitor was gone) is no event.
    expect(eventsFromPass(planOf(), [], [], NOW, [{ name: 'x', exit: { code: null, signal: null, oomKilled: false, at, unknown: true } }])).toEqual([]);
  });

  test('words that look like an exit, drift or OOM make no such event without the code', () => {
    const plan = planOf(
      change('a', 'none', [{ code: 'up-to-date', text: 'was OOM-killed once, long ago' }]),
      change('b', 'update', [{ code: 'manifest-changed', text: 'drift: resources.memoryBytes: 64Mi → 128Mi' }]),
      change('c', 'start', [{ code: 'exit-unknown', text: 'exited while nobody watched' }]),
    );
    const events = eventsFromPass(plan, [ok('b'), ok('c')], [], NOW);
    expect(events.map((e) => [e.kind, e.container])).toEqual([['updated', 'b'], ['started', 'c']]);
  });

  test('drift is corrected by code, whatever the words', () => {
    const plan = planOf(change('a', 'update', [{ code: 'drift', text: 'someone edited memory.max' }]));
    expect(eventsFromPass(plan, [ok('a')], [], NOW)).toMatchObject([{ kind: 'drift-corrected', container: 'a', message: 'update: someone edited memory.max' }]);
  });

  test('a failed action is an action-failed event with its reasons', () => {
    const plan = planOf(change('a', 'start', [{ code: 'start-failed', text: 'the last start failed; retrying' }]));
    const failed = { name: 'a', ok: false, durationMs: 1, error: { summary: 'exec /bin/nope: ENOENT' } } as ChangeResult;
    expect(eventsFromPass(plan, [failed], [], NOW)).toMatchObject([
      { kind: 'action-failed', container: 'a', message: 'start failed: exec /bin/nope: ENOENT', reasons: [{ code: 'start-failed' }] },
    ]);
  });
});

describe('metrics', () => {
  test('say what ps says: restarts as the record counts them (an edit is none), the last exit, health, up', async () => {
    const d = await desiredOne('web');
    const at = NOW.toISOString();
    const records = [
      recordFor(d, { name: 'crashy', restarts: 3, lastExit: { code: 2, signal: null, oomKilled: false, at } }),
      recordFor(d, { name: 'edited', restarts: 0 }),
      recordFor(d, { name: 'killed', status: 'exited', restarts: 1, lastExit: { code: null, signal: 'SIGKILL', oomKilled: true, at } }),
      recordFor(d, { name: 'checked', health: { status: 'unhealthy', failures: 3, checkedAt: at, output: '' } }),
    ].map((r) => ({ ...r, cgroup: { dir: r.name }, network: r.name === 'crashy' ? { veth: 'cv0123456789' } : null }));
    const metrics = new AgentMetrics();
    metrics.readStatsWith({ cgroup: async () => ({ memoryBytes: 4096, cpuSeconds: 1.5, pids: 2, oomKills: 0 }), network: async () => ({ receiveBytes: 10, transmitBytes: 20 }) });
    metrics.observePass(12, 'ok', records);
    expect(await counter(metrics, 'corral_container_restarts_total')).toEqual({ crashy: 3, edited: 0, killed: 1, checked: 0 });
    expect(await counter(metrics, 'corral_container_last_exit_code')).toEqual({ crashy: 2, killed: 137 });
    expect(await counter(metrics, 'corral_container_up')).toEqual({ crashy: 1, edited: 1, killed: 0, checked: 1 });
    expect(await counter(metrics, 'corral_container_memory_bytes')).toEqual({ crashy: 4096, edited: 4096, checked: 4096 });
    // Only a container with a network of its own has network counters.
    expect(await counter(metrics, 'corral_container_network_receive_bytes_total')).toEqual({ crashy: 10 });
    const health = (await metrics.registry.getSingleMetric('corral_container_health')!.get()).values;
    expect(health.filter((v) => v.value === 1).map((v) => v.labels)).toEqual([{ container: 'checked', state: 'unhealthy' }]);
    expect((await metrics.registry.metrics())).toMatch(/corral_reconcile_total\{result="ok"\} 1/);
  });
});

describe('reason codes', () => {
  test('are one closed list, without duplicates', () => {
    expect(new Set(REASON_CODES).size).toBe(REASON_CODES.length);
    for (const code of REASON_CODES) expect(code).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });

  test('a container killed after its stopTimeout, a manifest refused as NOT_SUPPORTED, and a restored network each leave an event', () => {
    const events = eventsFromPass(planOf(), [], [
      { severity: 'warning', code: 'STOP_TIMEOUT', summary: '`web` did not stop within its stopTimeout and was killed', container: 'web' },
      { severity: 'error', code: 'NOT_SUPPORTED', summary: 'publishing on the IPv6 address ::1 is not built', container: 'api', source: { file: '/m/api.yaml', line: 9, column: 11 } },
      { severity: 'warning', code: 'NETWORK_DRIFT', summary: 'the nftables table `inet corral` was missing: restored' },
    ], NOW);
    expect(events.map((e) => [e.kind, e.container])).toEqual([['stop-timeout', 'web'], ['invalid-manifest', 'api'], ['drift-corrected', undefined]]);
    expect(events[2]!.message).toBe('network: the nftables table `inet corral` was missing: restored');
  });
});

describe('one event per fact', () => {
  test('a manifest still invalid at the next pass is not reported again; fixed and broken again, it is', () => {
    const facts = new OncePerFact();
    const bad = { severity: 'error' as const, code: 'MANIFEST_YAML_SYNTAX' as const, summary: 'not YAML', source: { file: '/m/a.yaml', line: 1, column: 1 } };
    const pass = (diagnostics: typeof bad[]): string[] => facts.filter(eventsFromPass(planOf(), [], diagnostics, NOW)).map((e) => e.kind);
    expect(pass([bad])).toEqual(['invalid-manifest']);
    expect(pass([bad])).toEqual([]);
    expect(pass([])).toEqual([]);
    expect(pass([bad])).toEqual(['invalid-manifest']);
  });
});
