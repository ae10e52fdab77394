// apply: executes a plan against the host through the ports. Orphans first (in teardown order),
// then the changes in dependency order with bounded parallelism (apply/schedule.ts); one
// container's failure does not stop the others. It reads each change's `action`, `after` and
// `before`, never its reasons (those only explain).
//
//   apply/schedule.ts  the pure dependency scheduler
//   apply/actions.ts   each action as record writes (the intent journal) and host steps
//   apply/steps.ts     the host steps, in start order and its reverse
//   apply/deadline.ts  one AbortSignal per step: the pass's, bounded by the step's deadline
//   apply/errors.ts    a failed step as a diagnostic, its error code untouched

import { CorralError, diagnostic, type Diagnostic } from '../errors.js';
import type { ContainerRecord } from '../state/record.js';
import { Actions, type RecordSink } from './apply/actions.js';
import { stepDiagnostic } from './apply/errors.js';
import { schedule } from './apply/schedule.js';
import { removeOrphan } from './apply/steps.js';
import { dependenciesOf } from './plan/order.js';
import { networkOfSpec } from '../manifest/network.js';
import type { Action, Change, NetworkAction, NetworkChange, Orphan, Plan } from './plan/types.js';
import type { Ports } from './ports.js';

export type { RecordSink } from './apply/actions.js';

export interface ChangeResult {
  readonly name: string;
  readonly action: Action;
  readonly ok: boolean;
  readonly error?: Diagnostic;
  readonly durationMs: number;
}

export interface NetworkResult {
  readonly name: string;
  readonly action: NetworkAction;
  readonly ok: boolean;
  readonly error?: Diagnostic;
  readonly durationMs: number;
}

export interface ApplyHooks {
  preApply?(change: Change): void;
  postApply?(change: Change, result: ChangeResult): void;
  /** After each network change (made before the containers, removed after them). */
  network?(change: NetworkChange, result: NetworkResult): void;
  orphan?(orphan: Orphan, ok: boolean): void;
}

export interface ApplyOptions {
  /** How many containers are worked on at once. Default: 2 × cores (set by the caller). */
  readonly parallelism: number;
  /** Deadline for one driver step (stop gets the container's stopTimeout on top). */
  readonly stepTimeoutMs: number;
  readonly now: () => Date;
}

export interface ApplyResult {
  /** Records after apply, by name; a removed container maps to null. */
  readonly records: ReadonlyMap<string, ContainerRecord | null>;
  readonly results: readonly ChangeResult[];
  readonly networks: readonly NetworkResult[];
  /** Errors of failed changes and orphans, and warnings of steps that succeeded. */
  readonly diagnostics: readonly Diagnostic[];
  /** What the network's pass-wide sync restored (a firewall reload had removed corral's table...). */
  readonly repaired: readonly string[];
}

/** The network's pass-wide state (its nftables table) is checked after every pass, changed or not. */
async function syncNetwork(ports: Ports, signal: AbortSignal, diagnostics: Diagnostic[]): Promise<string[]> {
  try {
    const repaired = await ports.network.sync(signal);
    diagnostics.push(...repaired.map((r) => diagnostic('warning', 'NETWORK_DRIFT', r)));
    return repaired;
  } catch (err) {
    diagnostics.push(stepDiagnostic(err, '', 'restore the network rules'));
    return [];
  }
}

/** One network change, its failure a result (the containers that join it are then not started). */
async function applyNetwork(change: NetworkChange, ports: Ports, signal: AbortSignal, hooks: ApplyHooks): Promise<NetworkResult> {
  const started = Date.now();
  let result: NetworkResult;
  try {
    if (change.action === 'remove') await ports.network.removeNetwork(change.name, signal);
    else await ports.network.ensureNetwork(change.after!, change.afterHash!, change.origin, signal);
    result = { name: change.name, action: change.action, ok: true, durationMs: Date.now() - started };
  } catch (err) {
    const error = { ...stepDiagnostic(err, '', `${change.action} network \`${change.name}\``), network: change.name };
    result = { name: change.name, action: change.action, ok: false, error, durationMs: Date.now() - started };
  }
  hooks.network?.(change, result);
  return result;
}

const going = (c: Change): boolean => c.action === 'remove' || c.action === 'stop';

/** A start waits for what it depends on; a removal or stop waits for its dependents to go first. */
function waitsFor(change: Change, changes: readonly Change[]): string[] {
  if (going(change)) return changes.filter((o) => going(o) && o.before !== null && dependenciesOf(o.before).includes(change.name)).map((o) => o.name);
  const spec = change.after ?? change.before;
  const starting = new Set(changes.filter((c) => !going(c)).map((c) => c.name));
  return spec ? dependenciesOf(spec).filter((d) => starting.has(d)) : [];
}

export async function apply(
  plan: Plan,
  records: ReadonlyMap<string, ContainerRecord>,
  ports: Ports,
  store: RecordSink,
  hooks: ApplyHooks,
  options: ApplyOptions,
  signal: AbortSignal,
): Promise<ApplyResult> {
  if (plan.errored) throw new CorralError('PLAN_ERRORED', 'the plan has errors and is not applied', { diagnostics: plan.diagnostics.filter((d) => d.severity === 'error') });
  if (plan.stateSerial !== store.currentSerial) {
    throw new CorralError('PLAN_STALE', `the state changed since the plan was made (serial ${plan.stateSerial}, now ${store.currentSerial})`, { hint: 'plan again' });
  }
  const ctx = { ports, signal, stepTimeoutMs: options.stepTimeoutMs };
  ports.userRanges?.beginPass?.();
  const actions = new Actions(records, ctx, store, options.now, ports.userRanges);
  const diagnostics: Diagnostic[] = [];

  for (const orphan of plan.orphans) {
    try {
      await removeOrphan(ctx, orphan.kind, orphan.name);
      hooks.orphan?.(orphan, true);
    } catch (err) {
      hooks.orphan?.(orphan, false);
      diagnostics.push(stepDiagnostic(err, orphan.name, `clean up orphan ${orphan.kind} \`${orphan.name}\``));
    }
  }

  // Networks first (a container's start attaches to its network), removals after the containers left.
  const networkResults: NetworkResult[] = [];
  for (const change of plan.networks.filter((n) => n.action !== 'none' && n.action !== 'remove')) networkResults.push(await applyNetwork(change, ports, signal, hooks));
  const failedNetworks = new Set(networkResults.filter((r) => !r.ok).map((r) => r.name));

  const pending = plan.changes.filter((c) => c.action !== 'none');
  const jobs = pending.map((change) => ({ name: change.name, change, waitsFor: waitsFor(change, pending), needsSuccess: !going(change) }));
  const results = await schedule(jobs, options.parallelism, signal, async ({ change }, blockedBy) => {
    hooks.preApply?.(change);
    const started = Date.now();
    let result: ChangeResult;
    const joins = change.after && !going(change) ? networkOfSpec(change.after) : null;
    if (blockedBy || (joins !== null && failedNetworks.has(joins))) {
      const error = diagnostic('error', 'APPLY_FAILED', blockedBy ? `not started: dependency \`${blockedBy}\` failed` : `not started: network \`${joins}\` could not be made`, { container: change.name });
      result = { name: change.name, action: change.action, ok: false, error, durationMs: 0 };
    } else {
      try {
        await actions.run(change);
        result = { name: change.name, action: change.action, ok: true, durationMs: Date.now() - started };
      } catch (err) {
        const error = stepDiagnostic(err, change.name, `${change.action} \`${change.name}\``);
        await actions.recordFailure(change, error).catch(() => undefined);
        result = { name: change.name, action: change.action, ok: false, error, durationMs: Date.now() - started };
      }
    }
    hooks.postApply?.(change, result);
    return result;
  });
  for (const change of plan.networks.filter((n) => n.action === 'remove')) networkResults.push(await applyNetwork(change, ports, signal, hooks));
  diagnostics.push(...networkResults.filter((r) => r.error).map((r) => r.error!), ...results.filter((r) => r.error).map((r) => r.error!), ...actions.warnings);
  const repaired = await syncNetwork(ports, signal, diagnostics);
  return { records: actions.records, results, networks: networkResults, diagnostics, repaired };
}
