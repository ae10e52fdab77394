// plan: desired (manifests) × actual (records refreshed with what the host runs) → Plan.
// Deciding lives here and only here; apply executes `action`, `after` and `diff` and never reads
// the reasons. Every reason has exactly one code (./reasons.ts) beside its words: whatever decides
// something from a reason reads the code. Pure: no clock of its own (options.now), no host access.

import { diagnostic, type Diagnostic } from '../../errors.js';
import { BIND_REFERENCE, FILE_REFERENCE, type ContainerSpec } from '../../manifest/spec.js';
import { nextBackoff, type ContainerRecord } from '../../state/record.js';
import { describeDiff, describeExit, exitReasonCode } from './describe.js';
import { diffSpecs, strongestEffect } from './field-effects.js';
import { planNetworks } from './networks.js';
import { startOrder } from './order.js';
import { reason, type Reason } from './reasons.js';
import { plannedPulls } from './pulls.js';
import { policyWantsRestart, refresh } from './refresh.js';
import { userMapProblems } from '../user-ranges.js';
import { settleUserNamespace } from './user-default.js';
import {
  PLAN_FORMAT_VERSION, type Action, type Actual, type ActualContainer, type Change, type Desired, type DesiredContainer,
  type FieldDiff, type Plan, type PlanOptions,
} from './types.js';

interface Draft {
  readonly action: Action;
  readonly reasons: Reason[];
  readonly diff?: readonly FieldDiff[];
  readonly notBefore?: string | null;
}

export function plan(desired: Desired, actual: Actual, options: PlanOptions): Plan {
  const now = options.now;
  const diagnostics: Diagnostic[] = [];
  let complete = true;
  let errored = false;

  const current = new Map<string, { record: ContainerRecord; live: ActualContainer['live'] }>();
  for (const a of actual.containers) current.set(a.record.name, { record: refresh(a, now), live: a.live });
  const wanted = new Map(desired.containers.map((d) => [d.spec.name, d]));
  const invalid = new Set(desired.invalidNames);
  const broken = new Set(desired.brokenFiles);
  const elsewhere = new Set(desired.elsewhere);

  // Pruning everything because a directory vanished or a checkout emptied it is never what the
  // user meant; it takes --allow-empty.
  const nothingDesired = desired.containers.length === 0 && invalid.size === 0 && broken.size === 0 && elsewhere.size === 0
    && (desired.networks ?? []).length === 0 && (desired.invalidNetworks ?? []).length === 0;
  const pruneGuard = (desired.missing || nothingDesired) && !options.allowEmpty;

  const changes = new Map<string, Change>();
  const add = (name: string, d: DesiredContainer | undefined, record: ContainerRecord | undefined, draft: Draft): void => {
    const after = d && (draft.action !== 'stop' && draft.action !== 'remove') ? d.spec : null;
    changes.set(name, {
      name,
      action: draft.action,
      reasons: draft.reasons,
      diff: draft.diff ?? [],
      before: record?.spec ?? null,
      after: after ?? (draft.action === 'none' || draft.action === 'stop' ? record?.spec ?? null : null),
      afterHash: after ? d!.hash : draft.action === 'none' || draft.action === 'stop' ? record?.hash ?? null : null,
      afterReferences: after ? d!.references : {},
      origin: d?.origin ?? record?.origin ?? null,
      requiresReplace: (draft.diff ?? []).filter((x) => x.effect === 'restart' || x.effect === 'recreate').map((x) => x.path),
      notBefore: draft.notBefore ?? null,
      warnings: after ? desired.diagnostics.filter((x) => x.severity === 'warning' && x.container === name).map((x) => x.summary) : [],
    });
  };

  const unknown = new Set(actual.unknown ?? []);
  for (const name of unknown) {
    complete = false;
    add(name, wanted.get(name), undefined, { action: 'none', reasons: [reason('record-unknown', `record-unknown: its state record is unreadable; nothing of it is touched until \`corral state repair ${name}\``)] });
  }

  // Explicit user-namespace maps that overlap another container's or corral's pool: such a
  // container is not created or changed (it keeps its last applied spec), like a host error. One
  // already running with its maps is not held back by a newcomer whose maps overlap it.
  const sameMaps = (d: DesiredContainer): boolean => {
    const had = current.get(d.spec.name)?.record.spec.namespaces.user;
    return had?.kind === 'manual' && JSON.stringify(had) === JSON.stringify(d.spec.namespaces.user);
  };
  const mapProblems = userMapProblems(desired.containers.map((d) => d.spec), options.userIdPool ?? null, new Set(desired.containers.filter(sameMaps).map((d) => d.spec.name)));

  for (const d of desired.containers) {
    const name = d.spec.name;
    if (unknown.has(name)) continue;
    const existing = current.get(name);
    const mapErrors = mapProblems.get(name) ?? [];
    if (mapErrors.length > 0) {
      complete = false;
      diagnostics.push(...d.hostDiagnostics, ...mapErrors);
      add(name, undefined, existing?.record, {
        action: 'none',
        reasons: [
          reason('manifest-invalid', `its user-namespace maps cannot be applied: ${mapErrors[0]!.summary}`),
          ...(existing ? [reason('manifest-invalid', 'keeping the last applied spec')] : []),
        ],
      });
      continue;
    }
    const hostErrors = d.hostDiagnostics.filter((x) => x.severity === 'error');
    if (hostErrors.length > 0) {
      complete = false;
      diagnostics.push(...d.hostDiagnostics);
      add(name, undefined, existing?.record, {
        action: 'none',
        reasons: [
          reason('host-unsupported', `cannot apply on this host: ${hostErrors[0]!.summary}`),
          ...(existing ? [reason('host-unsupported', 'keeping the last applied spec')] : []),
        ],
      });
      continue;
    }
    diagnostics.push(...d.hostDiagnostics);
    const hostUser = options.hostUserNamespace ?? null;
    if (!existing) {
      add(name, settleUserNamespace(d, undefined, hostUser, true), undefined, { action: 'create', reasons: [reason('new-manifest', 'new manifest')] });
      continue;
    }
    // Kept as built, unless it is rebuilt anyway: then it takes the host's default.
    let settled = settleUserNamespace(d, existing.record, hostUser, false);
    let draft = decideExisting(existing.record, existing.live, settled, now);
    if (draft.action === 'recreate') {
      settled = settleUserNamespace(d, existing.record, hostUser, true);
      draft = decideExisting(existing.record, existing.live, settled, now);
    }
    add(name, settled, existing.record, draft);
  }

  let guardReported = false;
  for (const [name, { record }] of current) {
    if (wanted.has(name)) continue;
    if (record.status === 'removing') {
      add(name, undefined, record, { action: 'remove', reasons: [reason('removal-interrupted', 'finish a removal that was interrupted')] });
    } else if (invalid.has(name) || (record.origin && broken.has(record.origin.file))) {
      complete = false;
      add(name, undefined, record, { action: 'none', reasons: [reason('manifest-invalid', 'its manifest has errors: keeping the last applied spec')] });
    } else if (pruneGuard) {
      errored = true;
      if (!guardReported) {
        guardReported = true;
        diagnostics.push(diagnostic('error', 'PRUNE_REFUSED', desired.missing
          ? 'the manifest directory is missing while containers run: nothing is pruned'
          : 'the manifest set is empty while containers run: nothing is pruned', {
          hint: 'if removing every container is what you want, run again with --allow-empty',
        }));
      }
      add(name, undefined, record, { action: 'none', reasons: [reason('prune-refused', 'not pruned: the manifest set is empty or missing (use --allow-empty)')] });
    } else {
      add(name, undefined, record, { action: 'remove', reasons: [elsewhere.has(name)
        ? reason('selects-other-hosts', 'its manifest now selects other hosts')
        : reason('manifest-removed', 'its manifest was removed')] });
    }
  }

  const networks = planNetworks(desired, actual, changes, pruneGuard, (name) => current.get(name)?.live.process === 'running');
  diagnostics.push(...networks.diagnostics);
  const changeList = ordered(networks.changes, current, wanted);
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    createdAt: now.toISOString(),
    stateSerial: actual.serial,
    changes: changeList,
    networks: networks.networks,
    orphans: actual.orphans,
    pulls: plannedPulls(changeList),
    diagnostics,
    complete: complete && networks.complete,
    errored,
  };
}

function decideExisting(record: ContainerRecord, live: ActualContainer['live'], d: DesiredContainer, now: Date): Draft {
  if (record.status === 'creating') return { action: 'recreate', reasons: [reason('create-interrupted', 'a create was interrupted (crash recovery): rebuild it')] };
  if (record.status === 'removing') return { action: 'recreate', reasons: [reason('removal-interrupted', 'a removal was interrupted and the manifest is back')] };

  // Equal hashes mean equal specs and references: skip the field walk (the common case).
  const diff = record.hash === d.hash ? [] : diffSpecs(record.spec, d.spec, record.references, d.references);
  const effect = strongestEffect(diff);
  const running = live.process === 'running';
  const described = diff.map((x) => reason('manifest-changed', describeDiff(x)));

  if (effect === 'recreate') return { action: 'recreate', reasons: described, diff };
  if (record.specUnknown && record.desiredState === 'running') {
    const alive = live.process === 'running' || live.process === 'unmonitored';
    return { action: alive ? 'restart' : 'start', reasons: [reason('record-repaired', `record-repaired: its record was rebuilt from the host, so the spec it runs is unknown: ${alive ? 'restart' : 'start'} it with its manifest's`)] };
  }
  if (live.process === 'unmonitored') {
    if (record.desiredState === 'stopped' && effect === null) return { action: 'stop', reasons: [reason('monitor-lost', 'monitor-lost; stopped by hand (`corral stop`) but running')] };
    return { action: 'restart', reasons: [reason('monitor-lost', 'monitor-lost: its monitor died while it kept running, so its exit and output would be lost; restart it under a new monitor'), ...described], diff };
  }
  // New content of a secret, a config file or a bind's source is no manifest change: a container
  // stopped by hand stays stopped, one in its backoff keeps it; the record learns the new digests.
  const contentOnly = diff.length > 0 && diff.every((x) => x.path.startsWith(`references.${FILE_REFERENCE}`) || x.path.startsWith(`references.${BIND_REFERENCE}`));
  if (contentOnly && !running) {
    const start = startDecision(record, live, now, false);
    return start.action === 'start' ? { ...start, reasons: [...start.reasons, ...described], diff } : { action: 'update', reasons: [...start.reasons, ...described], diff };
  }
  if (effect === 'restart') return { action: running ? 'restart' : 'start', reasons: described, diff };
  if (effect !== null) {
    // A manifest change also ends a manual stop: the edited spec is what should run.
    if (running) return { action: 'update', reasons: [...described, ...driftReasons(live.drift)], diff: [...diff, ...live.drift] };
    const start = startDecision(record, live, now, true);
    return start.action === 'start' ? { ...start, reasons: [...described, ...start.reasons], diff } : { action: 'update', reasons: described, diff };
  }
  if (record.hash !== d.hash) return { action: 'update', reasons: [reason('record-outdated', 'the record predates this corral version: rewrite it')] };

  if (running) {
    if (record.desiredState === 'stopped') return { action: 'stop', reasons: [reason('stopped-by-hand', 'stopped by hand (`corral stop`) but running')] };
    if (!live.cgroupPresent) return { action: 'restart', reasons: [reason('cgroup-missing', 'its cgroup disappeared: limits are not enforced')] };
    if (live.drift.length > 0) return { action: 'update', reasons: driftReasons(live.drift), diff: live.drift };
    const health = record.health;
    if (health?.status === 'unhealthy' && record.spec.healthcheck?.onFailure === 'restart') {
      // An unhealthy restart backs off like a crash, or a container that is never healthy would
      // be restarted at every check.
      const why = `unhealthy: ${health.failures} health checks failed in a row`;
      const earliest = Date.parse(record.startedAt ?? now.toISOString()) + nextBackoff(record.backoff.delayMs);
      if (earliest > now.getTime()) {
        const next = new Date(earliest).toISOString();
        return { action: 'none', reasons: [reason('health-failed', `${why}; restart backoff: next start in ${Math.ceil((earliest - now.getTime()) / 1000)}s`)], notBefore: next };
      }
      return { action: 'restart', reasons: [reason('health-failed', why)] };
    }
    return { action: 'none', reasons: [reason('up-to-date', 'up to date')] };
  }
  return startDecision(record, live, now, false);
}

function driftReasons(drift: readonly FieldDiff[]): Reason[] {
  return drift.map((x) => reason('drift', `drift: ${describeDiff(x)} (changed on the host)`));
}

/** A container that is not running: start it now, later (backoff), or leave it. */
function startDecision(record: ContainerRecord, live: ActualContainer['live'], now: Date, manifestChanged: boolean): Draft {
  if (record.desiredState === 'stopped' && !manifestChanged) {
    return { action: 'none', reasons: [reason('stopped-by-hand', 'stopped by hand: `corral start` or a manifest change starts it again')] };
  }
  if (record.status === 'failed' && !manifestChanged) {
    const next = record.backoff.nextStartAt;
    const why = `the last start failed${record.error ? `: ${record.error}` : ''}`;
    if (next !== null && Date.parse(next) > now.getTime()) {
      return { action: 'none', reasons: [reason('start-failed', `${why}; retry in ${Math.ceil((Date.parse(next) - now.getTime()) / 1000)}s`)], notBefore: next };
    }
    return { action: 'start', reasons: [reason('start-failed', `${why}; retrying`)] };
  }
  if (manifestChanged) return { action: 'start', reasons: [reason('manifest-changed', 'apply the new spec')] };
  if (record.status === 'stopped' || live.process === 'missing' && record.lastExit === null) {
    return { action: 'start', reasons: [reason('not-running', record.status === 'stopped' ? 'stopped, but wanted running' : 'not running')] };
  }
  // The exit is the reason whatever is decided: its code says how the process ended.
  const code = exitReasonCode(record.lastExit);
  const exit = describeExit(record.lastExit);
  if (!policyWantsRestart(record)) {
    return { action: 'none', reasons: [reason(code, `${exit}; restartPolicy ${record.spec.restartPolicy}: left as is`)] };
  }
  const next = record.backoff.nextStartAt;
  if (next !== null && Date.parse(next) > now.getTime()) {
    const seconds = Math.ceil((Date.parse(next) - now.getTime()) / 1000);
    return { action: 'none', reasons: [reason(code, `${exit}; restart backoff: next start in ${seconds}s`)], notBefore: next };
  }
  return { action: 'start', reasons: [reason(code, `${exit}; restartPolicy ${record.spec.restartPolicy}`)] };
}

/** Removals and stops first, dependents before dependencies; then the rest in start order. */
function ordered(changes: Map<string, Change>, current: Map<string, { record: ContainerRecord }>, wanted: Map<string, DesiredContainer>): Change[] {
  const specs = new Map<string, ContainerSpec>();
  for (const [name, { record }] of current) specs.set(name, record.spec);
  for (const [name, d] of wanted) specs.set(name, d.spec);
  const order = startOrder(specs);
  const going = order.filter((n) => ['remove', 'stop'].includes(changes.get(n)?.action ?? '')).reverse();
  const coming = order.filter((n) => changes.has(n) && !going.includes(n));
  return [...going, ...coming].map((n) => changes.get(n)!);
}

/** `N to create, N to update, …` counts for summaries and JSON. */
export function countActions(p: Plan): Record<Action, number> {
  const counts = { create: 0, start: 0, update: 0, restart: 0, recreate: 0, stop: 0, remove: 0, none: 0 } as Record<Action, number>;
  for (const c of p.changes) counts[c.action]++;
  return counts;
}

export function hasChanges(p: Plan): boolean {
  return p.changes.some((c) => c.action !== 'none') || p.networks.some((n) => n.action !== 'none') || p.orphans.length > 0;
}

/**
 * Containers that should run but do not run as their manifest says, and wait for a retry: a
 * failed start, a crash or failed health checks in restart backoff. Nothing is to be done now, so
 * they are no change; but a host with one is not converged, and summaries and exit codes say so.
 */
export function failingChanges(p: Plan): Change[] {
  return p.changes.filter((c) => c.action === 'none' && c.notBefore !== null);
}
