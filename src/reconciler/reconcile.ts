// reconcile: one pass of the loop every mode shares (`plan`, `reconcile --once`, the agent):
// manifests → desired; records + host → actual; refresh; plan; apply (unless planning only).

import { diagnostic, environmentCode, isCorralError, type Diagnostic } from '../errors.js';
import { sameJsonValue, specHash } from '../manifest/hash.js';
import type { ManifestSet } from '../manifest/manifest-set.js';
import { poolSpec } from '../manifest/spec-pool.js';
import type { StateStore } from '../state/store.js';
import type { ContainerRecord, ExitRecord } from '../state/record.js';
import { apply, type ApplyHooks, type ApplyResult } from './apply.js';
import { inspect, type InspectScope } from './inspect.js';
import type { HostCheckMemo, HostCheckReuse } from './host-checks.js';
import { hasChanges, plan as makePlan } from './plan/plan.js';
import { refresh } from './plan/refresh.js';
import type { Desired, DesiredContainer, DesiredNetwork, Plan } from './plan/types.js';
import type { Ports } from './ports.js';

export interface ReconcileOptions {
  /** Plan only: no lock needed, nothing written, nothing applied. */
  readonly dryRun: boolean;
  readonly allowEmpty: boolean;
  readonly parallelism: number;
  readonly stepTimeoutMs: number;
  readonly now?: () => Date;
  /** How much of the host to look at (inspect.ts); `full` unless the agent knows what changed. */
  readonly inspection?: InspectScope;
  /** The agent's host checks of earlier passes (host-checks.ts): reused outside the cgroups the inspection reads. */
  readonly hostChecks?: HostCheckMemo;
}

/** An exit this pass was the first to record (refresh): the one moment it is an event. */
export interface ObservedExit {
  readonly name: string;
  readonly exit: ExitRecord;
}

export interface ReconcileOutcome {
  readonly plan: Plan;
  /** Exits first recorded by this pass; later passes that still see them do not report them again. */
  readonly exits: readonly ObservedExit[];
  readonly applied: ApplyResult | null;
  /** Something on the host changed (dry run: would change). */
  readonly changed: boolean;
  /** Some container actions failed. */
  readonly failures: boolean;
  /** The input had errors (invalid manifests, a refused prune, host checks, corrupt state). */
  readonly inputErrors: boolean;
  readonly diagnostics: readonly Diagnostic[];
}

/** Manifest set → Desired: referenced digests into the hash, every port's host checks as plan-time errors. */
export async function desiredFrom(set: ManifestSet, ports: Ports, reuse?: HostCheckReuse): Promise<Desired> {
  const checkers = [ports.rootfs, ports.cgroups, ports.network, ports.runtime];
  reuse?.memo.keepOnly(new Set(set.containers.map((c) => c.spec.name)));
  const containers = await Promise.all(set.containers.map(async (entry): Promise<DesiredContainer> => {
    const hostDiagnostics: Diagnostic[] = [];
    const references: Record<string, string> = {};
    for (const port of [ports.rootfs, ports.runtime]) {
      try {
        Object.assign(references, await port.references(entry.spec));
      } catch (err) {
        hostDiagnostics.push(isCorralError(err)
          ? diagnostic('error', err.code, err.summary, { container: entry.spec.name, ...(err.hint ? { hint: err.hint } : {}) })
          : diagnostic('error', 'INTERNAL', `digest of what \`${entry.spec.name}\` references: ${String(err)}`, { container: entry.spec.name }));
      }
    }
    const name = entry.spec.name;
    const reused = reuse && !reuse.fresh(name) ? reuse.memo.reusable(name, entry.hash) : null;
    if (reused) hostDiagnostics.push(...reused);
    else {
      const found: Diagnostic[] = [];
      for (const port of checkers) found.push(...(await port.check(entry.spec)).map((d) => ({ ...d, container: name })));
      reuse?.memo.remember(name, entry.hash, found);
      hostDiagnostics.push(...found);
    }
    // The manifest's own hash already covers a spec without references (host and path roots).
    const hash = Object.keys(references).length === 0 ? entry.hash : specHash(entry.spec, references);
    return { spec: poolSpec(hash, entry.spec), hash, references, origin: entry.origin, hostDiagnostics, userNamespaceByDefault: entry.userNamespaceByDefault };
  }));
  const networks = await Promise.all(set.networks.map(async (entry): Promise<DesiredNetwork> => ({
    ...entry,
    hostDiagnostics: (await ports.network.checkNetwork(entry.definition)).map((d) => ({ ...d, network: entry.definition.name })),
  })));
  return {
    containers,
    networks,
    invalidNetworks: set.invalidNetworks,
    elsewhere: set.elsewhere.map((e) => e.spec.name),
    invalidNames: set.invalidNames,
    brokenFiles: set.brokenFiles,
    missing: set.missing,
    diagnostics: set.diagnostics,
  };
}

export async function reconcileOnce(
  set: ManifestSet,
  ports: Ports,
  store: StateStore,
  options: ReconcileOptions,
  hooks: ApplyHooks = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<ReconcileOutcome> {
  const now = options.now ?? (() => new Date());
  const inspection = options.inspection ?? 'full';
  const fresh = inspection === 'full' ? () => true : inspection === 'light' ? () => false : inspection.drift;
  const desired = await desiredFrom(set, ports, options.hostChecks ? { memo: options.hostChecks, fresh } : undefined);
  const loaded = await store.load();
  const first = await inspect(loaded.records, loaded.serial, ports, loaded.unknown.map((u) => u.name), inspection);

  // Fold observed exits and adoptions into the records before planning (written unless dry run).
  const refreshed: ContainerRecord[] = [];
  const unwritten: Diagnostic[] = [];
  const exits: ObservedExit[] = [];
  for (const a of first.containers) {
    const r = refresh(a, now());
    // refresh returns the record itself when nothing was observed: no serialization of 500
    // records on every resync of an idle agent.
    if (r === a.record) {
      refreshed.push(r);
      continue;
    }
    if (r.lastExit !== null && !sameJsonValue(r.lastExit, a.record.lastExit)) exits.push({ name: r.name, exit: r.lastExit });
    if (options.dryRun || sameJsonValue(r, a.record)) {
      refreshed.push(r);
      continue;
    }
    try {
      refreshed.push(await store.put(r));
    } catch (err) {
      // A full or read-only state root must not keep the plan (its removals free space) from
      // running: the observation is planned on as seen, and recorded at the next pass.
      const code = environmentCode(err);
      if (code === null) throw err;
      refreshed.push(r);
      unwritten.push(diagnostic('warning', code, `could not record what was observed of \`${r.name}\`: ${(err as Error).message}`, { container: r.name }));
    }
  }
  const actual = {
    ...first,
    containers: first.containers.map((a, i) => ({ record: refreshed[i]!, live: a.live })),
    serial: options.dryRun ? first.serial : store.currentSerial,
  };
  const userIdPool = (await ports.userRanges?.existingPool?.()) ?? null;
  const hostUserNamespace = ports.userRanges && desired.containers.some((d) => d.userNamespaceByDefault) ? (await ports.runtime.defaultUserNamespace?.()) ?? null : null;
  const plan = makePlan(desired, actual, { now: now(), allowEmpty: options.allowEmpty, userIdPool, hostUserNamespace });
  const diagnostics: Diagnostic[] = [...loaded.diagnostics, ...unwritten, ...set.diagnostics, ...plan.diagnostics.filter((d) => !set.diagnostics.includes(d))];
  const inputErrors = plan.errored || diagnostics.some((d) => d.severity === 'error');
  if (options.dryRun || plan.errored) {
    return { plan, exits, applied: null, changed: hasChanges(plan), failures: false, inputErrors, diagnostics };
  }
  const records = new Map(refreshed.map((r) => [r.name, r]));
  const applied = await apply(plan, records, ports, store, hooks, { parallelism: options.parallelism, stepTimeoutMs: options.stepTimeoutMs, now }, signal);
  // A warning of a step that succeeded (STOP_TIMEOUT) is reported, not a failure.
  const failures = applied.results.some((r) => !r.ok) || applied.networks.some((r) => !r.ok) || applied.diagnostics.some((d) => d.severity === 'error');
  return {
    plan,
    exits,
    applied,
    changed: applied.results.some((r) => r.ok) || applied.networks.some((r) => r.ok) || plan.orphans.length > 0 || applied.repaired.length > 0,
    failures,
    inputErrors,
    diagnostics: [...diagnostics, ...applied.diagnostics],
  };
}
