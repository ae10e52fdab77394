// apply: executes a plan against the host through the ports, in dependency order, with bounded
// parallelism; one container's failure does not stop the others. It reads each change's
// `action`, `after` and `before`, never its reasons (those only explain).
//
// Crash safety: before a step creates or destroys anything, the record says so (status
// `creating`, `stopping`, `removing`): that record is the intent journal. Every step below is
// idempotent and works by container name, so if corral is SIGKILLed anywhere, the next run's plan
// sees the intent (or an orphan) and finishes or undoes the job.

import { CorralError, diagnostic, environmentCode, isCorralError, type Diagnostic } from '../errors.js';
import type { ContainerSpec } from '../manifest/spec.js';
import type { ContainerRecord, Json } from '../state/record.js';
import { nextBackoff, RECORD_FORMAT, transition } from '../state/record.js';
import { describeDiff } from './plan/describe.js';
import { dependenciesOf } from './plan/order.js';
import type { Action, Change, Orphan, Plan } from './plan/types.js';
import type { Ports, PreparedRootfs } from './ports.js';
import { withTimeout } from './timeout.js';
import { allocateRange } from './user-ranges.js';

/** Where records are kept; the real one is StateStore. */
export interface RecordSink {
  readonly currentSerial: number;
  put(record: ContainerRecord): Promise<ContainerRecord>;
  remove(name: string): Promise<void>;
}

export interface ChangeResult {
  readonly name: string;
  readonly action: Action;
  readonly ok: boolean;
  readonly error?: Diagnostic;
  readonly durationMs: number;
}

export interface ApplyHooks {
  preApply?(change: Change): void;
  postApply?(change: Change, result: ChangeResult): void;
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
  readonly diagnostics: readonly Diagnostic[];
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
  const worker = new Worker(new Map(records), ports, store, options);
  const diagnostics: Diagnostic[] = [];

  for (const orphan of plan.orphans) {
    try {
      await worker.cleanOrphan(orphan);
      hooks.orphan?.(orphan, true);
    } catch (err) {
      hooks.orphan?.(orphan, false);
      diagnostics.push(toDiagnostic(err, orphan.name, `clean up orphan ${orphan.kind} \`${orphan.name}\``));
    }
  }

  const pending = plan.changes.filter((c) => c.action !== 'none');
  const results = await schedule(pending, options.parallelism, signal, async (change, blockedBy) => {
    hooks.preApply?.(change);
    const started = Date.now();
    let result: ChangeResult;
    if (blockedBy) {
      const error = diagnostic('error', 'APPLY_FAILED', `not started: dependency \`${blockedBy}\` failed`, { container: change.name });
      result = { name: change.name, action: change.action, ok: false, error, durationMs: 0 };
    } else {
      try {
        await worker.run(change);
        result = { name: change.name, action: change.action, ok: true, durationMs: Date.now() - started };
      } catch (err) {
        const error = toDiagnostic(err, change.name, `${change.action} \`${change.name}\``);
        await worker.recordFailure(change, error).catch(() => undefined);
        result = { name: change.name, action: change.action, ok: false, error, durationMs: Date.now() - started };
      }
    }
    hooks.postApply?.(change, result);
    return result;
  });
  diagnostics.push(...results.filter((r) => r.error).map((r) => r.error!));
  return { records: worker.records, results, diagnostics };
}

function toDiagnostic(err: unknown, container: string, what: string): Diagnostic {
  // A full, read-only or refusing filesystem is the host's doing: say so by code.
  const environmental = environmentCode(err);
  if (environmental) return diagnostic('error', environmental, `${what}: ${(err as Error).message}`, { container });
  if (isCorralError(err)) {
    return diagnostic('error', err.code === 'TIMEOUT' || err.code.startsWith('CONTAINER_') || err.code.startsWith('CGROUP_') || err.code.startsWith('IMAGE_') || err.code.startsWith('OVERLAY_') || err.code === 'SYSCALL_FAILED' || err.code === 'ROOTFS_PATH_MISSING' ? err.code : 'APPLY_FAILED',
      `${what}: ${err.summary}`, { container, ...(err.hint ? { hint: err.hint } : {}), ...(err.detail ? { detail: err.detail } : {}) });
  }
  return diagnostic('error', 'APPLY_FAILED', `${what}: ${(err as Error)?.message ?? String(err)}`, { container });
}

/**
 * Runs changes with at most `parallelism` at once. A start-type change waits for the changes of
 * the containers it depends on; a removal or stop waits for those of its dependents. When a
 * dependency failed, the dependent is reported as blocked instead of run.
 */
async function schedule(
  changes: readonly Change[],
  parallelism: number,
  signal: AbortSignal,
  run: (change: Change, blockedBy: string | null) => Promise<ChangeResult>,
): Promise<ChangeResult[]> {
  const going = (c: Change) => c.action === 'remove' || c.action === 'stop';
  const byName = new Map(changes.map((c) => [c.name, c]));
  const waitsFor = new Map<string, string[]>();
  for (const c of changes) {
    if (going(c)) {
      waitsFor.set(c.name, changes.filter((o) => going(o) && o.before && dependenciesOf(o.before).includes(c.name)).map((o) => o.name));
    } else {
      const spec = c.after ?? c.before;
      waitsFor.set(c.name, spec ? dependenciesOf(spec).filter((d) => byName.has(d) && !going(byName.get(d)!)) : []);
    }
  }
  const done = new Map<string, ChangeResult>();
  const running = new Map<string, Promise<void>>();
  const queue = [...changes];
  while (queue.length > 0 || running.size > 0) {
    if (signal.aborted) {
      // Finish what is in flight (a half-done step is worse than a late exit), start nothing new.
      await Promise.all(running.values());
      break;
    }
    let started = false;
    for (const c of [...queue]) {
      if (running.size >= parallelism) break;
      const deps = waitsFor.get(c.name)!;
      if (!deps.every((d) => done.has(d))) continue;
      const failed = going(c) ? null : deps.find((d) => !done.get(d)!.ok) ?? null;
      queue.splice(queue.indexOf(c), 1);
      started = true;
      running.set(c.name, run(c, failed).then((r) => {
        done.set(c.name, r);
        running.delete(c.name);
      }));
    }
    if (!started) {
      if (running.size === 0) {
        // Only a dependency cycle can leave work that never becomes ready; run it anyway, in order.
        const c = queue.shift()!;
        done.set(c.name, await run(c, null));
      } else {
        await Promise.race(running.values());
      }
    }
  }
  return changes.filter((c) => done.has(c.name)).map((c) => done.get(c.name)!);
}

class Worker {
  readonly records: Map<string, ContainerRecord | null>;

  constructor(
    initial: Map<string, ContainerRecord>,
    private readonly ports: Ports,
    private readonly store: RecordSink,
    private readonly options: ApplyOptions,
  ) {
    this.records = initial;
  }

  private now(): string {
    return this.options.now().toISOString();
  }

  private async save(record: ContainerRecord): Promise<ContainerRecord> {
    const written = await this.store.put(record);
    this.records.set(record.name, written);
    return written;
  }

  private step<T>(work: Promise<T>, what: string, name: string, extraMs = 0): Promise<T> {
    return withTimeout(work, this.options.stepTimeoutMs + extraMs, what, name);
  }

  async run(change: Change): Promise<void> {
    const record = this.records.get(change.name) ?? null;
    switch (change.action) {
      case 'create':
        return this.create(change, null);
      case 'recreate':
        return this.create(change, record);
      case 'start':
        return this.start(change, record!);
      case 'restart':
        await this.stop(record!, false);
        return this.start(change, this.records.get(change.name)!, record!);
      case 'update':
        return this.update(change, record!);
      case 'stop':
        await this.stop(record!, true);
        return;
      case 'remove':
        return this.remove(record!);
      case 'none':
        return;
    }
  }

  /** Fresh record for a new container, or the intent to rebuild an existing one. */
  private intent(change: Change, existing: ContainerRecord | null): ContainerRecord {
    const spec = change.after!;
    const userRange = spec.namespaces.user?.kind === 'auto'
      ? existing?.userRange?.size === spec.namespaces.user.size ? existing.userRange
        : allocateRange(spec.namespaces.user.size, [...this.records.values()].filter((r): r is ContainerRecord => r !== null && r.name !== change.name))
      : null;
    const base: ContainerRecord = existing ?? {
      format: RECORD_FORMAT, name: change.name, status: 'creating', desiredState: 'running', spec, hash: change.afterHash!,
      references: change.afterReferences, origin: change.origin, createdAt: this.now(), startedAt: null, cgroup: null,
      rootfs: null, runtime: null, userRange, restarts: 0, lastExit: null, backoff: { delayMs: 0, nextStartAt: null },
      health: null, error: null, serial: 0,
    };
    return { ...base, status: 'creating', desiredState: 'running', spec, hash: change.afterHash!, references: change.afterReferences, origin: change.origin, userRange };
  }

  private async create(change: Change, existing: ContainerRecord | null): Promise<void> {
    // The intent is on disk before anything exists on the host.
    const record = await this.save(this.intent(change, existing));
    if (existing) await this.teardown(record);
    await this.launch(change, record, existing?.restarts ?? 0);
  }

  private async start(change: Change, record: ContainerRecord, previous: ContainerRecord = record): Promise<void> {
    // An unhealthy container being replaced counts as a crash: its restarts and backoff grow.
    const unhealthy = previous.health?.status === 'unhealthy';
    const crashed = ['exited', 'crashloop', 'failed'].includes(record.status) || unhealthy;
    const next = {
      ...record, spec: change.after!, hash: change.afterHash!, references: change.afterReferences, origin: change.origin, desiredState: 'running' as const,
      ...(unhealthy ? { backoff: { delayMs: nextBackoff(previous.backoff.delayMs), nextStartAt: null } } : {}),
    };
    await this.launch(change, next, record.restarts + (crashed ? 1 : 0));
  }

  /** overlay → cgroup → shim → record: the one order every start follows. */
  private async launch(change: Change, record: ContainerRecord, restarts: number): Promise<void> {
    const spec = change.after!;
    const name = change.name;
    const prepared: PreparedRootfs = await this.step(this.ports.rootfs.prepare(name, spec), 'prepare the root filesystem', name);
    const cgroup = await this.step(this.ports.cgroups.create(name, spec.resources, spec.devices), 'create the cgroups', name);
    const joinNetworkOf = spec.namespaces.network.kind === 'container' ? this.records.get(spec.namespaces.network.container)?.runtime ?? null : null;
    if (spec.namespaces.network.kind === 'container' && joinNetworkOf === null) {
      throw new CorralError('CONTAINER_NOT_RUNNING', `\`${spec.namespaces.network.container}\` is not running, so its network cannot be joined`, { container: name });
    }
    const started = await this.step(this.ports.runtime.start({
      name, spec, rootfs: prepared, cgroupHandle: cgroup, cgroupProcs: this.ports.cgroups.procsFiles(cgroup), userRange: record.userRange, joinNetworkOf,
    }, AbortSignal.timeout(this.options.stepTimeoutMs)), 'start the container', name);
    await this.verifyLimits(name, cgroup, spec);
    await this.save({
      ...record,
      status: record.status === 'creating' ? transition(record, 'running').status : 'running',
      cgroup,
      rootfs: prepared.layout as unknown as Json,
      runtime: started.runtime,
      startedAt: started.startedAt,
      restarts,
      error: null,
      health: spec.healthcheck ? { status: 'starting', failures: 0, checkedAt: null, output: '' } : null,
      // Started with this spec: what it runs is known again.
      specUnknown: undefined,
    });
  }

  /** Compares what the kernel enforces with what was asked (Terraform's AssertObjectCompatible). */
  private async verifyLimits(name: string, cgroup: Json, spec: ContainerSpec): Promise<void> {
    const drift = await this.step(this.ports.cgroups.drift(cgroup, spec.resources, spec.devices), 'read back the limits', name);
    if (drift === null) throw new CorralError('APPLY_FAILED', 'the cgroup vanished right after it was set up', { container: name });
    if (drift.length > 0) {
      throw new CorralError('APPLY_FAILED', `the kernel does not enforce what was asked: ${drift.map(describeDiff).join('; ')}`, { container: name });
    }
  }

  private async update(change: Change, record: ContainerRecord): Promise<void> {
    const spec = change.after!;
    let cgroup = record.cgroup;
    if (record.status === 'running' && cgroup !== null) {
      cgroup = await this.step(this.ports.cgroups.update(cgroup, spec.resources, spec.devices), 'update the limits', change.name);
      await this.verifyLimits(change.name, cgroup, spec);
    }
    await this.save({ ...record, cgroup, spec, hash: change.afterHash!, references: change.afterReferences, origin: change.origin });
  }

  private async stop(record: ContainerRecord, byHand: boolean): Promise<void> {
    const stopping = await this.save(transition(record, 'stopping', byHand ? { desiredState: 'stopped' } : {}));
    const exit = await this.step(
      this.ports.runtime.stop(record.name, record.runtime, record.spec, () => this.ports.cgroups.kill(record.name)),
      'stop the container', record.name, record.spec.stopTimeoutMs,
    );
    await this.save(transition(stopping, 'stopped', { lastExit: exit ?? stopping.lastExit }));
  }

  /** Stops and removes everything a container has on the host, by name. Idempotent. */
  private async teardown(record: ContainerRecord): Promise<void> {
    const name = record.name;
    await this.step(this.ports.runtime.stop(name, record.runtime, record.spec, () => this.ports.cgroups.kill(name)), 'stop the container', name, record.spec.stopTimeoutMs);
    await this.step(this.ports.cgroups.destroy(name), 'remove the cgroups', name);
    await this.step(this.ports.runtime.cleanup(name), 'clean up the monitor', name);
    await this.step(this.ports.rootfs.remove(name), 'remove the writable layer', name);
  }

  private async remove(record: ContainerRecord): Promise<void> {
    const removing = record.status === 'removing' ? record : await this.save(transition(record, 'removing'));
    await this.teardown(removing);
    await this.store.remove(record.name);
    this.records.set(record.name, null);
  }

  /** A failed create or start stays visible, with a backoff before it is tried again. */
  async recordFailure(change: Change, error: Diagnostic): Promise<void> {
    const record = this.records.get(change.name);
    if (!record || record.status === 'removing') return;
    if (['create', 'recreate', 'start', 'restart'].includes(change.action)) {
      const delayMs = nextBackoff(record.backoff.delayMs);
      await this.save({
        ...record,
        status: record.status === 'creating' ? 'failed' : record.status === 'running' ? 'running' : 'failed',
        error: error.summary,
        backoff: { delayMs, nextStartAt: new Date(this.options.now().getTime() + delayMs).toISOString() },
      });
    } else {
      await this.save({ ...record, error: error.summary });
    }
  }

  async cleanOrphan(orphan: Orphan): Promise<void> {
    const name = orphan.name;
    if (orphan.kind === 'cgroup') await this.step(this.ports.cgroups.destroy(name), 'remove an orphan cgroup', name);
    if (orphan.kind === 'shim') await this.step(this.ports.runtime.cleanup(name), 'stop an orphan monitor', name);
    if (orphan.kind === 'rootfs') await this.step(this.ports.rootfs.remove(name), 'remove an orphan container directory', name);
  }
}

