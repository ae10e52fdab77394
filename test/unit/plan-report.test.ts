// What `plan` and `reconcile --once` print and exit with, from hand-built plans: a container that
// fails to start or crash-loops is never "No changes" nor a clean exit under --detailed-exitcode.

import { describe, expect, test } from '@jest/globals';
import { EXIT, exitCodeFor } from '../../src/cli/exit-codes.js';
import type { Styler } from '../../src/cli/style.js';
import { renderReport } from '../../src/cli/views/plan-human.js';
import { buildReport, REPORT_FORMAT_VERSION } from '../../src/cli/views/plan-json.js';
import type { ChangeResult } from '../../src/reconciler/apply.js';
import { change, planOf } from '../support/plan-values.js';

const plain = ((_color: string, text: string) => text) as Styler;


const upToDate = (name: string) => change(name, 'none', [{ code: 'up-to-date', text: 'up to date' }]);
const startFailed = change('web', 'none', [{ code: 'start-failed', text: 'the last start failed: exec /bin/nope: ENOENT; retry in 8s' }], '2026-11-29T10:00:08.000Z');
const crashLoop = change('worker', 'none', [{ code: 'exited', text: 'exited with code 1; restart backoff: next start in 160s' }], '2026-11-29T10:02:40.000Z');

describe('a plan with a failing container', () => {
  const report = buildReport('plan', planOf(upToDate('db'), startFailed), [], null);

  test('JSON: unchanged, but the container is named as failing; reasons are {code, text}', () => {
    expect(report).toMatchObject({ formatVersion: REPORT_FORMAT_VERSION, changed: false, failing: ['web'] });
    expect(REPORT_FORMAT_VERSION).toBe(2);
    expect(report.actions.find((a) => a.name === 'web')).toMatchObject({
      action: 'none', notBefore: '2026-11-29T10:00:08.000Z',
      reasons: [{ code: 'start-failed', text: 'the last start failed: exec /bin/nope: ENOENT; retry in 8s' }],
    });
    expect(JSON.parse(JSON.stringify(report)).actions[0].reasons).toEqual([{ code: 'up-to-date', text: 'up to date' }]);
  });

  test('human: never "No changes." alone; the failing container and why', () => {
    const text = renderReport(report, plain);
    expect(text).not.toMatch(/The host matches the manifests/);
    expect(text).toContain('No changes; 1 container failing: web (the last start failed: exec /bin/nope: ENOENT; retry in 8s).');
    // The container is listed with its reason, as any container with something to say.
    expect(text).toMatch(/none\s+web\n\s+the last start failed/);
  });

  test('exit status: not 0 under --detailed-exitcode; plain `plan` still reports 0', () => {
    const outcome = { error: false, changed: report.changed, failures: false, failing: report.failing.length > 0 };
    expect(exitCodeFor(outcome, true, 'plan')).toBe(EXIT.FAILURES);
    expect(exitCodeFor(outcome, false, 'plan')).toBe(EXIT.OK);
  });

  test('a crash loop waiting for its backoff is failing too, beside pending changes', () => {
    const mixed = buildReport('plan', planOf(change('new', 'create', [{ code: 'new-manifest', text: 'new manifest' }]), crashLoop), [], null);
    expect(mixed).toMatchObject({ changed: true, failing: ['worker'] });
    const text = renderReport(mixed, plain);
    expect(text).toContain('Plan: 1 to create, 0 to start');
    expect(text).toContain('1 container failing: worker (exited with code 1; restart backoff: next start in 160s).');
    expect(exitCodeFor({ error: false, changed: true, failures: false, failing: true }, true, 'plan')).toBe(EXIT.CHANGES_AND_FAILURES);
  });
});

describe('reconcile --once with a failing container', () => {
  test('nothing applied: "No changes; … failing", exit 4 detailed and 1 without', () => {
    const report = buildReport('reconcile', planOf(upToDate('db'), startFailed, crashLoop), [], [], false);
    expect(report).toMatchObject({ applied: true, changed: false, failing: ['web', 'worker'] });
    expect(renderReport(report, plain)).toContain('No changes; 2 containers failing: web (the last start failed: exec /bin/nope: ENOENT; retry in 8s), worker (exited with code 1; restart backoff: next start in 160s).');
    const outcome = { error: false, changed: false, failures: false, failing: true };
    expect(exitCodeFor(outcome, true)).toBe(EXIT.FAILURES);
    expect(exitCodeFor(outcome, false)).toBe(EXIT.ERROR);
    // --dry-run only reports, like plan.
    expect(exitCodeFor(outcome, false, 'plan')).toBe(EXIT.OK);
  });

  test('changes applied beside it: exit 6 detailed, and the summary still names it', () => {
    const applied = change('new', 'create', [{ code: 'new-manifest', text: 'new manifest' }]);
    const results = [{ name: 'new', ok: true, durationMs: 5 } as ChangeResult];
    const report = buildReport('reconcile', planOf(applied, startFailed), [], results, true);
    const text = renderReport(report, plain);
    expect(text).toContain('Applied: 1 to create');
    expect(text).toContain('1 container failing: web (');
    expect(exitCodeFor({ error: false, changed: true, failures: false, failing: true }, true)).toBe(EXIT.CHANGES_AND_FAILURES);
  });
});

describe('a converged host', () => {
  test('"No changes." and exit 0', () => {
    const report = buildReport('plan', planOf(upToDate('db'), change('job', 'none', [{ code: 'exited', text: 'exited with code 0; restartPolicy OnFailure: left as is' }])), [], null);
    expect(report).toMatchObject({ changed: false, failing: [] });
    expect(renderReport(report, plain)).toContain('No changes. The host matches the manifests.');
    expect(exitCodeFor({ error: false, changed: false, failures: false, failing: false }, true, 'plan')).toBe(EXIT.OK);
    expect(exitCodeFor({ error: false, changed: false, failures: false, failing: false }, false)).toBe(EXIT.OK);
  });

  test('up-to-date containers are listed only with --verbose', () => {
    const report = buildReport('plan', planOf(upToDate('db')), [], null);
    expect(renderReport(report, plain)).not.toContain('db');
    expect(renderReport(report, plain, true)).toMatch(/none\s+db\n\s+up to date/);
  });
});

describe('a plan with networks', () => {
  const back = { name: 'back', labels: {}, bridge: 'cn-back', subnet: '10.90.0.0/24', gateway: '10.90.0.1', ipv6: null, masquerade: true, isolated: true, mtu: 1500 };
  const plan = {
    ...planOf(upToDate('db')),
    networks: [{ name: 'back', action: 'create' as const, reasons: [{ code: 'new-manifest' as const, text: 'new manifest' }], before: null, after: back, afterHash: 'sha256:x', origin: null }],
  };

  test('a network to create is a change, listed in JSON with its bridge and subnet, and in the human view and summary', () => {
    const report = buildReport('plan', plan, [], null);
    expect(report.changed).toBe(true);
    expect(report.networks).toEqual([{ name: 'back', action: 'create', reasons: [{ code: 'new-manifest', text: 'new manifest' }], bridge: 'cn-back', subnet: '10.90.0.0/24' }]);
    const text = renderReport(report, plain);
    expect(text).toContain('+ create   back (network: bridge cn-back, 10.90.0.0/24)');
    expect(text).toContain('Plan: 0 to create, 0 to start, 0 to update, 0 to restart, 0 to recreate, 0 to stop, 0 to remove; 1 network: 1 to create.');
  });

  test('after apply, a network that failed is shown with its error', () => {
    const report = buildReport('reconcile', plan, [], [], true, [{ name: 'back', action: 'create', ok: false, durationMs: 3, error: { severity: 'error', code: 'NETWORK_SETUP_FAILED', summary: 'ip failed' } }]);
    expect(report.networks[0]!.result).toEqual({ ok: false, error: 'ip failed', durationMs: 3 });
    expect(renderReport(report, plain)).toContain('back (network: bridge cn-back, 10.90.0.0/24) ✗ ip failed');
  });
});
