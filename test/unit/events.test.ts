// Events and metrics: kinds are chosen by reason code (rewording a reason changes no event kind and
// no counter), and an exit is one event, at the pass that recorded it. Plans are built by hand.

import { describe, expect, test } from '@jest/globals';
import { eventsFromPass } from '../../src/agent/events.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import type { ChangeResult } from '../../src/reconciler/apply.js';
import { REASON_CODES } from '../../src/reconciler/plan/reasons.js';
import { change, NOW, planOf } from '../support/plan-values.js';



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

describe('metrics by reason code', () => {
  test('restarts and OOM kills are counted from kinds and codes, not words', async () => {
    const plan = planOf(
      change('oom', 'none', [{ code: 'oom-killed', text: 'ran out of room' }], '2026-11-29T10:00:09.000Z'),
      change('crash', 'start', [{ code: 'exited', text: 'fell over; restartPolicy Always' }]),
      change('signal', 'start', [{ code: 'killed', text: 'shot; restartPolicy Always' }]),
      change('edited', 'restart', [{ code: 'manifest-changed', text: 'process.env: … → …' }]),
      // A start after an exit nobody saw (a reboot) is not a restart; nor are words alone.
      change('rebooted', 'start', [{ code: 'exit-unknown', text: 'exited with code 1 (or so)' }]),
      change('fresh', 'start', [{ code: 'not-running', text: 'was OOM-killed, exited, was killed' }]),
    );
    const at = NOW.toISOString();
    const events = eventsFromPass(plan, ['crash', 'signal', 'edited', 'rebooted', 'fresh'].map(ok), [], NOW, [{ name: 'oom', exit: { code: null, signal: 'SIGKILL', oomKilled: true, at } }]);
    const metrics = new AgentMetrics();
    metrics.countEvents(events);
    // The same OOM kill still in the next pass's plan (waiting for its backoff) is not counted again.
    metrics.countEvents(eventsFromPass(planOf(plan.changes[0]!), [], [], NOW, []));
    expect(await counter(metrics, 'corral_container_restarts_total')).toEqual({ crash: 1, signal: 1, edited: 1 });
    expect(await counter(metrics, 'corral_container_oom_kills_total')).toEqual({ oom: 1 });
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
