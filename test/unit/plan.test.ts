import { describe, expect, test } from '@jest/globals';
import { plan, countActions, failingChanges, hasChanges } from '../../src/reconciler/plan/plan.js';
import { effectOf } from '../../src/reconciler/plan/field-effects.js';
import { REASON_CODES } from '../../src/reconciler/plan/reasons.js';
import { refresh } from '../../src/reconciler/plan/refresh.js';
import type { Actual, ActualContainer, Desired } from '../../src/reconciler/plan/types.js';
import { manifest } from '../support/memory-source.js';
import { desiredOf, desiredOne, exited, recordFor, RUNNING, T0 } from '../support/plan-fixtures.js';

const opts = (now = T0) => ({ now, allowEmpty: false });
const actualOf = (...containers: ActualContainer[]): Actual => ({ containers, orphans: [], serial: 7 });
const desiredWith = (...containers: Desired['containers'][number][]): Desired => ({ containers, elsewhere: [], invalidNames: [], brokenFiles: [], missing: false, diagnostics: [] });
const only = (p: ReturnType<typeof plan>) => { expect(p.changes).toHaveLength(1); return p.changes[0]!; };

describe('plan', () => {
  test('a container whose monitor died is restarted under a new one; stopped by hand, it is stopped', async () => {
    const d = await desiredOne('web');
    const unmonitored = { ...RUNNING, process: 'unmonitored' as const };
    expect(only(plan(desiredWith(d), actualOf({ record: recordFor(d), live: unmonitored }), opts()))).toMatchObject({ action: 'restart', reasons: [{ code: 'monitor-lost', text: expect.stringMatching(/^monitor-lost: /) }] });
    const byHand = recordFor(d, { desiredState: 'stopped' });
    expect(only(plan(desiredWith(d), actualOf({ record: byHand, live: unmonitored }), opts()))).toMatchObject({ action: 'stop', reasons: [{ code: 'monitor-lost' }] });
  });

  test('a container found gone with no exit recorded gets an unknown last exit, not the previous one', async () => {
    const d = await desiredOne('web');
    const earlier = { code: 3, signal: null, oomKilled: false, at: T0.toISOString() };
    const missing = { ...RUNNING, process: 'missing' as const };
    const later = new Date(T0.getTime() + 60_000);
    const r = refresh({ record: recordFor(d, { lastExit: earlier }), live: missing }, later);
    expect(r).toMatchObject({ status: 'exited', lastExit: { code: null, signal: null, unknown: true, at: later.toISOString() } });
  });

  test('a running process found for a crashed or failed record is adopted as its restart; for a stopped one, not', async () => {
    const d = await desiredOne('web');
    for (const status of ['exited', 'crashloop', 'failed'] as const) {
      expect(refresh({ record: recordFor(d, { status, restarts: 2 }), live: RUNNING }, T0)).toMatchObject({ status: 'running', restarts: 3 });
    }
    expect(refresh({ record: recordFor(d, { status: 'stopped', restarts: 2 }), live: RUNNING }, T0)).toMatchObject({ status: 'running', restarts: 2 });
  });

  test('a new manifest is created', async () => {
    const d = await desiredOne('web');
    const c = only(plan(desiredWith(d), actualOf(), opts()));
    expect(c).toMatchObject({ name: 'web', action: 'create', reasons: [{ code: 'new-manifest', text: 'new manifest' }], before: null, afterHash: d.hash });
  });

  test('nothing to do when the record matches and the process runs', async () => {
    const d = await desiredOne('web');
    const p = plan(desiredWith(d), actualOf({ record: recordFor(d), live: RUNNING }), opts());
    expect(only(p)).toMatchObject({ action: 'none', reasons: [{ code: 'up-to-date', text: 'up to date' }] });
    expect(hasChanges(p)).toBe(false);
    expect(p.stateSerial).toBe(7);
  });

  test('a memory change is an update applied live', async () => {
    const before = await desiredOne('web', 'resources: {memory: 64Mi}');
    const after = await desiredOne('web', 'resources: {memory: 128Mi}');
    const c = only(plan(desiredWith(after), actualOf({ record: recordFor(before), live: RUNNING }), opts()));
    expect(c.action).toBe('update');
    expect(c.diff).toEqual(expect.arrayContaining([
      { path: 'resources.memoryBytes', before: 64 * 2 ** 20, after: 128 * 2 ** 20, effect: 'live' },
    ]));
    expect(c.reasons).toContainEqual({ code: 'manifest-changed', text: 'resources.memoryBytes: 64Mi → 128Mi' });
    expect(c.requiresReplace).toEqual([]);
  });

  test('an env change restarts, a rootfs change recreates', async () => {
    const base = await desiredOne('web', 'env: {A: "1"}');
    const env = await desiredOne('web', 'env: {A: "2"}');
    expect(only(plan(desiredWith(env), actualOf({ record: recordFor(base), live: RUNNING }), opts()))).toMatchObject({ action: 'restart', requiresReplace: ['process.env'] });
    const rootfs = (await desiredOf({ '/m/web.yaml': manifest('web', 'env: {A: "1"}').replace('{host: {}}', '{path: /srv/r}') })).containers[0]!;
    expect(only(plan(desiredWith(rootfs), actualOf({ record: recordFor(base), live: RUNNING }), opts()))).toMatchObject({ action: 'recreate', requiresReplace: ['rootfs.kind', 'rootfs.path'] });
  });

  test('a label change only rewrites the record', async () => {
    const before = await desiredOne('web');
    const text = manifest('web').replace('  name: web', '  name: web\n  labels: {team: a}');
    const after = (await desiredOf({ '/m/web.yaml': text })).containers[0]!;
    const c = only(plan(desiredWith(after), actualOf({ record: recordFor(before), live: RUNNING }), opts()));
    expect(c.action).toBe('update');
    expect(c.diff.map((x) => x.effect)).toEqual(['record']);
  });

  test('drift in the host cgroup is corrected by a live update', async () => {
    const d = await desiredOne('web', 'resources: {memory: 64Mi}');
    const drift = [{ path: 'resources.memoryBytes', before: 999, after: 64 * 2 ** 20, effect: 'live' as const }];
    const c = only(plan(desiredWith(d), actualOf({ record: recordFor(d), live: { ...RUNNING, drift } }), opts()));
    expect(c.action).toBe('update');
    expect(c.reasons[0]).toMatchObject({ code: 'drift', text: expect.stringMatching(/^drift: resources.memoryBytes/) });
  });

  test('a removed manifest prunes its container', async () => {
    const keep = await desiredOne('keep');
    const gone = await desiredOne('gone');
    const p = plan(desiredWith(keep), actualOf({ record: recordFor(keep), live: RUNNING }, { record: recordFor(gone), live: RUNNING }), opts());
    expect(p.changes.map((c) => [c.name, c.action])).toEqual([['gone', 'remove'], ['keep', 'none']]);
  });

  test('an empty or missing manifest set prunes nothing without --allow-empty', async () => {
    const gone = await desiredOne('gone');
    const empty: Desired = { ...desiredWith(), missing: true };
    const p = plan(empty, actualOf({ record: recordFor(gone), live: RUNNING }), opts());
    expect(p.errored).toBe(true);
    expect(only(p).action).toBe('none');
    expect(p.diagnostics.map((d) => d.code)).toEqual(['PRUNE_REFUSED']);
    const allowed = plan(desiredWith(), actualOf({ record: recordFor(gone), live: RUNNING }), { now: T0, allowEmpty: true });
    expect(only(allowed).action).toBe('remove');
  });

  test('an invalid manifest keeps its container on the last applied spec', async () => {
    const web = await desiredOne('web');
    const broken = await desiredOf({ '/m/web.yaml': manifest('web', 'resources: {memroy: 1Gi}'), '/m/other.yaml': manifest('other') });
    const p = plan(broken, actualOf({ record: recordFor(web), live: RUNNING }), opts());
    const c = p.changes.find((x) => x.name === 'web')!;
    expect(c.action).toBe('none');
    expect(c.reasons[0]).toMatchObject({ code: 'manifest-invalid', text: expect.stringMatching(/manifest has errors/) });
    expect(p.complete).toBe(false);
    // A file that does not even parse protects what it defined before, by origin.
    const garbled = await desiredOf({ '/m/web.yaml': 'apiVersion: [', '/m/other.yaml': manifest('other') });
    expect(plan(garbled, actualOf({ record: recordFor(web), live: RUNNING }), opts()).changes.find((x) => x.name === 'web')!.action).toBe('none');
  });

  test('a manifest that now selects other hosts removes the container here', async () => {
    const web = await desiredOne('web');
    const desired: Desired = { ...desiredWith(), elsewhere: ['web'] };
    expect(only(plan(desired, actualOf({ record: recordFor(web), live: RUNNING }), opts()))).toMatchObject({ action: 'remove', reasons: [{ code: 'selects-other-hosts' }] });
  });

  describe('restart policy and backoff', () => {
    test('Always: an exit is restarted after the backoff, not before', async () => {
      const d = await desiredOne('web');
      const exitAt = new Date(T0.getTime() + 5_000);
      const live = exited(1, exitAt);
      const soon = only(plan(desiredWith(d), actualOf({ record: recordFor(d), live }), opts(new Date(exitAt.getTime() + 3_000))));
      expect(soon).toMatchObject({ action: 'none', notBefore: new Date(exitAt.getTime() + 10_000).toISOString() });
      expect(soon.reasons).toEqual([{ code: 'exited', text: 'exited with code 1; restart backoff: next start in 7s' }]);
      const later = only(plan(desiredWith(d), actualOf({ record: recordFor(d), live }), opts(new Date(exitAt.getTime() + 10_000))));
      expect(later).toMatchObject({ action: 'start', reasons: [{ code: 'exited', text: 'exited with code 1; restartPolicy Always' }] });
    });

    test('the backoff doubles, caps at 5 minutes, and the record shows a crash loop', async () => {
      const d = await desiredOne('web');
      const record = recordFor(d, { restarts: 6, backoff: { delayMs: 160_000, nextStartAt: null } });
      const c = only(plan(desiredWith(d), actualOf({ record, live: exited(1) }), opts(new Date(T0.getTime() + 1000))));
      expect(c.notBefore).toBe(new Date(T0.getTime() + 300_000).toISOString());
    });

    test('OnFailure restarts failures only; Never restarts nothing', async () => {
      const onFailure = await desiredOne('job', 'restartPolicy: OnFailure');
      const late = new Date(T0.getTime() + 3_600_000);
      expect(only(plan(desiredWith(onFailure), actualOf({ record: recordFor(onFailure), live: exited(0) }), opts(late))).action).toBe('none');
      expect(only(plan(desiredWith(onFailure), actualOf({ record: recordFor(onFailure), live: exited(2) }), opts(late))).action).toBe('start');
      const never = await desiredOne('job', 'restartPolicy: Never');
      expect(only(plan(desiredWith(never), actualOf({ record: recordFor(never), live: exited(2) }), opts(late))).action).toBe('none');
    });

    test('a process gone without an exit record (reboot) starts at once', async () => {
      const d = await desiredOne('web');
      const live = { ...RUNNING, process: 'missing' as const, cgroupPresent: false };
      expect(only(plan(desiredWith(d), actualOf({ record: recordFor(d), live }), opts())).action).toBe('start');
    });

    test('a container stopped by hand stays stopped until its manifest changes', async () => {
      const d = await desiredOne('web', 'env: {A: "1"}');
      const record = recordFor(d, { status: 'stopped', desiredState: 'stopped' });
      const stopped = { ...exited(143), exit: null, process: 'exited' as const };
      expect(only(plan(desiredWith(d), actualOf({ record, live: stopped }), opts())).action).toBe('none');
      const edited = await desiredOne('web', 'env: {A: "2"}');
      expect(only(plan(desiredWith(edited), actualOf({ record, live: stopped }), opts())).action).toBe('start');
    });
  });

  test('an interrupted create is rebuilt, an interrupted removal finished', async () => {
    const d = await desiredOne('web');
    expect(only(plan(desiredWith(d), actualOf({ record: recordFor(d, { status: 'creating' }), live: { ...RUNNING, process: 'missing' } }), opts())).action).toBe('recreate');
    expect(only(plan(desiredWith(), actualOf({ record: recordFor(d, { status: 'removing' }), live: RUNNING }), { now: T0, allowEmpty: true })).action).toBe('remove');
  });

  test('dependsOn orders starts, and removals come first in reverse', async () => {
    const files = {
      '/m/a.yaml': manifest('app', 'dependsOn: [db]'),
      '/m/b.yaml': manifest('db', 'dependsOn: [volume-init]'),
      '/m/c.yaml': manifest('volume-init'),
    };
    const desired = await desiredOf(files);
    expect(plan(desired, actualOf(), opts()).changes.map((c) => c.name)).toEqual(['volume-init', 'db', 'app']);
    const running = desired.containers.map((d) => ({ record: recordFor(d), live: RUNNING }));
    const p = plan({ ...desiredWith(), diagnostics: [] }, actualOf(...running), { now: T0, allowEmpty: true });
    expect(p.changes.map((c) => [c.name, c.action])).toEqual([['app', 'remove'], ['db', 'remove'], ['volume-init', 'remove']]);
    expect(countActions(p).remove).toBe(3);
  });

  test('a host check error keeps the container as it is and marks the plan incomplete', async () => {
    const d = { ...(await desiredOne('web', 'resources: {io: {weight: 100}}')), hostDiagnostics: [{ severity: 'error' as const, code: 'CGROUP_KNOB_UNAVAILABLE' as const, summary: 'this host has no io weight knob' }] };
    const p = plan(desiredWith(d), actualOf(), opts());
    expect(only(p).action).toBe('none');
    expect(p.complete).toBe(false);
    expect(p.diagnostics[0]!.code).toBe('CGROUP_KNOB_UNAVAILABLE');
  });

  test('every ContainerSpec field has an effect in the table', async () => {
    const d = await desiredOne('web');
    const leafPaths: string[] = [];
    const walk = (v: unknown, p: string) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
      else leafPaths.push(p);
    };
    walk(d.spec, '');
    const recreateOnly = ['version', 'name'];
    for (const path of leafPaths) {
      if (!recreateOnly.includes(path) && !path.startsWith('rootfs') && !path.startsWith('namespaces')) expect([path, effectOf(path)]).not.toEqual([path, 'recreate']);
    }
  });
});

describe('plan: failures and finished jobs', () => {
  test('a failed start is retried after its backoff, with the error as the reason', async () => {
    const d = await desiredOne('web');
    const record = recordFor(d, { status: 'failed', error: 'exec /bin/nope: ENOENT', backoff: { delayMs: 10_000, nextStartAt: new Date(T0.getTime() + 10_000).toISOString() } });
    const missing = { ...RUNNING, process: 'missing' as const };
    const soon = only(plan(desiredWith(d), actualOf({ record, live: missing }), opts()));
    expect(soon).toMatchObject({ action: 'none', reasons: [{ code: 'start-failed', text: 'the last start failed: exec /bin/nope: ENOENT; retry in 10s' }] });
    expect(only(plan(desiredWith(d), actualOf({ record, live: missing }), opts(new Date(T0.getTime() + 10_000)))).action).toBe('start');
  });

  test('a job that finished under OnFailure is exited, not crash-looping, whatever its earlier backoff', async () => {
    const { refresh } = await import('../../src/reconciler/plan/refresh.js');
    const d = await desiredOne('job', 'restartPolicy: OnFailure');
    const r = refresh({ record: recordFor(d, { backoff: { delayMs: 20_000, nextStartAt: null } }), live: exited(0) }, T0);
    expect(r).toMatchObject({ status: 'exited', backoff: { delayMs: 0, nextStartAt: null } });
  });
});

describe('plan: reason codes', () => {
  test('an exit is coded by how the process ended, whatever is decided', async () => {
    const d = await desiredOne('web');
    const late = new Date(T0.getTime() + 3_600_000);
    const codeOf = (live: ActualContainer['live']) => only(plan(desiredWith(d), actualOf({ record: recordFor(d), live }), opts(late))).reasons.map((r) => r.code);
    expect(codeOf(exited(1))).toEqual(['exited']);
    expect(codeOf(exited(null, T0, 'SIGKILL'))).toEqual(['killed']);
    expect(codeOf({ ...exited(null, T0, 'SIGKILL'), exit: { code: null, signal: 'SIGKILL', oomKilled: true, at: T0.toISOString() } })).toEqual(['oom-killed']);
    const never = await desiredOne('job', 'restartPolicy: Never');
    expect(only(plan(desiredWith(never), actualOf({ record: recordFor(never), live: exited(0) }), opts(late)))).toMatchObject({ action: 'none', reasons: [{ code: 'exited' }] });
  });

  test('every reason of a varied plan has a code from the closed set', async () => {
    const keep = await desiredOne('keep', 'resources: {memory: 64Mi}');
    const edited = await desiredOne('edited', 'env: {A: "2"}');
    const editedBefore = await desiredOne('edited', 'env: {A: "1"}');
    const gone = await desiredOne('gone');
    const fresh = await desiredOne('fresh');
    const drift = [{ path: 'resources.memoryBytes', before: 999, after: 64 * 2 ** 20, effect: 'live' as const }];
    const p = plan(desiredWith(keep, edited, fresh), actualOf(
      { record: recordFor(keep), live: { ...RUNNING, drift } },
      { record: recordFor(editedBefore), live: RUNNING },
      { record: recordFor(gone), live: RUNNING },
    ), opts());
    expect(p.changes.map((c) => [c.name, c.reasons.map((r) => r.code)])).toEqual([
      ['gone', ['manifest-removed']], ['edited', ['manifest-changed']], ['fresh', ['new-manifest']], ['keep', ['drift']],
    ]);
    for (const c of p.changes) for (const r of c.reasons) expect(REASON_CODES).toContain(r.code);
  });
});

describe('plan: failing containers', () => {
  test('a failed start or a crash waiting for its retry is failing; a running or finished one is not', async () => {
    const d = await desiredOne('web');
    const missing = { ...RUNNING, process: 'missing' as const };
    const failedStart = recordFor(d, { status: 'failed', error: 'exec /bin/nope: ENOENT', backoff: { delayMs: 10_000, nextStartAt: new Date(T0.getTime() + 10_000).toISOString() } });
    expect(failingChanges(plan(desiredWith(d), actualOf({ record: failedStart, live: missing }), opts())).map((c) => c.name)).toEqual(['web']);
    const crashed = plan(desiredWith(d), actualOf({ record: recordFor(d), live: exited(1, T0) }), opts(new Date(T0.getTime() + 1_000)));
    expect(failingChanges(crashed).map((c) => c.name)).toEqual(['web']);
    expect(hasChanges(crashed)).toBe(false);
    expect(failingChanges(plan(desiredWith(d), actualOf({ record: recordFor(d), live: RUNNING }), opts()))).toEqual([]);
    const job = await desiredOne('job', 'restartPolicy: OnFailure');
    expect(failingChanges(plan(desiredWith(job), actualOf({ record: recordFor(job), live: exited(0) }), opts()))).toEqual([]);
  });
});

describe('plan: health', () => {
  test('an unhealthy container restarts only after its backoff', async () => {
    const d = await desiredOne('web', 'healthcheck: {exec: [/bin/true], onFailure: restart}');
    const record = recordFor(d, { health: { status: 'unhealthy', failures: 3, checkedAt: null, output: '' } });
    const early = only(plan(desiredWith(d), actualOf({ record, live: RUNNING }), opts(new Date(T0.getTime() + 2_000))));
    expect(early).toMatchObject({ action: 'none', notBefore: new Date(T0.getTime() + 10_000).toISOString() });
    expect(early.reasons[0]).toMatchObject({ code: 'health-failed', text: expect.stringMatching(/^unhealthy: 3 health checks failed in a row; restart backoff/) });
    expect(only(plan(desiredWith(d), actualOf({ record, live: RUNNING }), opts(new Date(T0.getTime() + 10_000)))).action).toBe('restart');
  });
});
