// The versioned JSON form of a plan (and, after apply, of what happened). Both `--output json`
// and the human view are rendered from this one object (Terraform's jsonplan → jsonformat).
//
// Format 2: each action's `reasons` are `{code, text}` objects (code: one of a closed set, see
// src/reconciler/plan/reasons.ts; text: the words format 1 gave as bare strings), and `failing`
// names the containers that should run but wait for a retry (a failed start, a crash loop,
// failed health checks in backoff): no change, but not a converged host either. `networks` (added
// within format 2) lists each network (`kind: Network`) with its action, reasons and result;
// `withoutUserNamespace` (added within format 2) names the containers whose root is host root;
// `pulls` (added within format 2) lists the images the starts pull from a registry.

import type { Diagnostic } from '../../errors.js';
import type { ChangeResult, NetworkResult } from '../../reconciler/apply.js';
import { countActions, failingChanges, hasChanges } from '../../reconciler/plan/plan.js';
import type { Action, NetworkAction, Plan, Reason } from '../../reconciler/plan/types.js';

export const REPORT_FORMAT_VERSION = 2;

export interface ReportAction {
  readonly name: string;
  readonly action: Action;
  readonly reasons: readonly Reason[];
  readonly diff: ReadonlyArray<{ readonly path: string; readonly before: unknown; readonly after: unknown; readonly effect: string }>;
  readonly warnings: readonly string[];
  readonly notBefore: string | null;
  /** After apply only. */
  readonly result?: { readonly ok: boolean; readonly error?: string; readonly durationMs: number };
}

export interface ReportNetwork {
  readonly name: string;
  readonly action: NetworkAction;
  readonly reasons: readonly Reason[];
  /** The bridge and subnet it has (or gets): `cn-back 10.90.0.0/24`; null once removed. */
  readonly bridge: string | null;
  readonly subnet: string | null;
  /** After apply only. */
  readonly result?: { readonly ok: boolean; readonly error?: string; readonly durationMs: number };
}

export interface Report {
  readonly formatVersion: typeof REPORT_FORMAT_VERSION;
  readonly kind: 'plan' | 'reconcile';
  readonly createdAt: string;
  readonly stateSerial: number;
  /** Ansible's `changed_when`: the host changed (reconcile) or would change (plan, dry run). */
  readonly changed: boolean;
  readonly applied: boolean;
  readonly summary: Record<Action, number>;
  readonly actions: readonly ReportAction[];
  readonly networks: readonly ReportNetwork[];
  /** Containers that should run but wait for a retry, in plan order. */
  readonly failing: readonly string[];
  readonly orphans: Plan['orphans'];
  /** Images pulled from a registry by the starts (src/reconciler/plan/pulls.ts). */
  readonly pulls: Plan['pulls'];
  /** Containers that run (or will) without a user namespace: their root is root on the host. */
  readonly withoutUserNamespace: readonly string[];
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
  readonly complete: boolean;
}

export function buildReport(
  kind: Report['kind'],
  plan: Plan,
  diagnostics: readonly Diagnostic[],
  results: readonly ChangeResult[] | null,
  changed?: boolean,
  networkResults: readonly NetworkResult[] = [],
): Report {
  const byName = new Map((results ?? []).map((r) => [r.name, r]));
  const networkByName = new Map(networkResults.map((r) => [r.name, r]));
  return {
    formatVersion: REPORT_FORMAT_VERSION,
    kind,
    createdAt: plan.createdAt,
    stateSerial: plan.stateSerial,
    changed: changed ?? hasChanges(plan),
    applied: results !== null,
    summary: countActions(plan),
    actions: plan.changes.map((c) => {
      const r = byName.get(c.name);
      return {
        name: c.name,
        action: c.action,
        reasons: c.reasons.map((x) => ({ code: x.code, text: x.text })),
        diff: c.diff.map((d) => ({ path: d.path, before: d.before, after: d.after, effect: d.effect })),
        warnings: c.warnings,
        notBefore: c.notBefore,
        ...(r ? { result: { ok: r.ok, ...(r.error ? { error: r.error.summary } : {}), durationMs: r.durationMs } } : {}),
      };
    }),
    networks: plan.networks.map((n) => {
      const r = networkByName.get(n.name);
      const def = n.after ?? (n.action === 'remove' ? null : n.before);
      return {
        name: n.name,
        action: n.action,
        reasons: n.reasons.map((x) => ({ code: x.code, text: x.text })),
        bridge: def?.bridge ?? null,
        subnet: def?.subnet ?? null,
        ...(r ? { result: { ok: r.ok, ...(r.error ? { error: r.error.summary } : {}), durationMs: r.durationMs } } : {}),
      };
    }),
    failing: failingChanges(plan).map((c) => c.name),
    orphans: plan.orphans,
    pulls: plan.pulls,
    withoutUserNamespace: plan.changes.filter((c) => c.action !== 'remove' && c.action !== 'stop' && (c.after ?? c.before)?.namespaces.user === null).map((c) => c.name),
    errors: dedupe(diagnostics.filter((d) => d.severity === 'error')),
    warnings: dedupe(diagnostics.filter((d) => d.severity === 'warning')),
    complete: plan.complete,
  };
}

function dedupe(list: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = JSON.stringify(d);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
