// The plan's actions as sequences of record writes and host steps. Crash safety: before a step
// creates or destroys anything, the record says so (status `creating`, `stopping`, `removing`):
// that record is the intent journal. If corral is SIGKILLed anywhere, the next run's plan sees
// the intent (or an orphan) and finishes or undoes the job. Every status change goes through
// transition() (src/state/record.ts), whose table the store enforces on every write.

import { CorralError, diagnostic, type Diagnostic } from '../../errors.js';
import { sameJsonValue, specHash } from '../../manifest/hash.js';
import { FILE_REFERENCE, fileReferenceKey, filesOf } from '../../manifest/spec.js';
import { nextBackoff, RECORD_FORMAT, transition, type ContainerRecord, type ContainerStatus, type UserRange } from '../../state/record.js';
import type { Change } from '../plan/types.js';
import type { UserRangeAllocator } from '../user-ranges.js';
import { refreshFiles, signalContainer, startContainer, stopProcess, teardown, updateLimits, type StepContext, type Stopped } from './steps.js';

/** Where records are kept; the real one is StateStore. */
export interface RecordSink {
  readonly currentSerial: number;
  put(record: ContainerRecord): Promise<ContainerRecord>;
  remove(name: string): Promise<void>;
}

export class Actions {
  readonly records: Map<string, ContainerRecord | null>;
  /** Warnings of steps that succeeded (a container killed after its stopTimeout). */
  readonly warnings: Diagnostic[] = [];

  constructor(
    initial: ReadonlyMap<string, ContainerRecord>,
    private readonly ctx: StepContext,
    private readonly store: RecordSink,
    private readonly now: () => Date,
    /** Hands out `auto` user-namespace ranges (src/state/subid-pool.ts); null: `auto` is refused. */
    private readonly userRanges: UserRangeAllocator | null = null,
  ) {
    this.records = new Map(initial);
  }

  private async save(record: ContainerRecord): Promise<ContainerRecord> {
    const written = await this.store.put(record);
    this.records.set(record.name, written);
    return written;
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
      case 'restart': {
        const stopped = await this.stop(record!, false);
        return this.start(change, stopped, record!);
      }
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

  /**
   * The host ids of an `auto` user namespace: the container's slot in corral's pool, kept across
   * restarts and recreates (the slot file, not the record, is what is kept). Others' recorded
   * ranges are avoided too (ranges from before the pool). Not `auto`: a slot it had is freed.
   */
  private async userRange(name: string, spec: NonNullable<Change['after']>): Promise<UserRange | null> {
    const user = spec.namespaces.user;
    if (user?.kind !== 'auto') {
      await this.userRanges?.release(name);
      return null;
    }
    if (!this.userRanges) {
      throw new CorralError('HOST_UNSUPPORTED', 'user namespace `auto` needs corral\'s subordinate id pool, and none is configured', { container: name });
    }
    const others = [...this.records.values()].flatMap((r) => r !== null && r.name !== name && r.userRange ? [r.userRange] : []);
    return this.userRanges.allocate(name, user.size, others);
  }

  /** The intent to build a container: a fresh record, or the existing one back to `creating`. */
  private intent(change: Change, existing: ContainerRecord | null, userRange: UserRange | null): ContainerRecord {
    const spec = change.after!;
    const fields = { desiredState: 'running' as const, spec, hash: change.afterHash!, references: change.afterReferences, origin: change.origin, userRange };
    if (existing) return transition(existing, 'creating', fields);
    return {
      format: RECORD_FORMAT, name: change.name, status: 'creating', createdAt: this.now().toISOString(), startedAt: null, cgroup: null,
      rootfs: null, network: null, runtime: null, restarts: 0, lastExit: null, backoff: { delayMs: 0, nextStartAt: null },
      health: null, error: null, serial: 0, ...fields,
    };
  }

  private async create(change: Change, existing: ContainerRecord | null): Promise<void> {
    // The intent is on disk before anything exists on the host.
    const record = await this.save(this.intent(change, existing, await this.userRange(change.name, change.after!)));
    if (existing) this.noteStop(record.name, await teardown(this.ctx, record));
    await this.launch(change, record, existing?.restarts ?? 0);
  }

  private async start(change: Change, record: ContainerRecord, previous: ContainerRecord = record): Promise<void> {
    // An unhealthy container being replaced counts as a crash: its restarts and backoff grow.
    const unhealthy = previous.health?.status === 'unhealthy';
    const crashed = ['exited', 'crashloop', 'failed'].includes(record.status) || unhealthy;
    const next: ContainerRecord = {
      ...record, spec: change.after!, hash: change.afterHash!, references: change.afterReferences, origin: change.origin, desiredState: 'running',
      ...(unhealthy ? { backoff: { delayMs: nextBackoff(previous.backoff.delayMs), nextStartAt: null } } : {}),
    };
    await this.launch(change, next, record.restarts + (crashed ? 1 : 0));
  }

  private async launch(change: Change, record: ContainerRecord, restarts: number): Promise<void> {
    const spec = change.after!;
    const joinNetworkOf = spec.namespaces.network.kind === 'container' ? this.records.get(spec.namespaces.network.container)?.runtime ?? null : null;
    const started = await startContainer(this.ctx, { name: change.name, spec, userRange: record.userRange, joinNetworkOf });
    // An image pulled at start has a digest the plan did not know: the record gets the one used,
    // so the next plan compares against what runs (and does not take it for a change).
    const references = started.references ? { ...record.references, ...started.references } : record.references;
    const pulled = sameJsonValue(references, record.references) ? {} : { references, hash: specHash(spec, references) };
    await this.save(transition(record, 'running', {
      ...pulled,
      cgroup: started.cgroup,
      rootfs: started.rootfs,
      network: started.network,
      runtime: started.runtime,
      startedAt: started.startedAt,
      cpuBaselineSeconds: started.cpuBaselineSeconds,
      restarts,
      error: null,
      health: spec.healthcheck ? { status: 'starting', failures: 0, checkedAt: null, output: '' } : null,
      // Started with this spec: what it runs is known again.
      specUnknown: undefined,
    }));
  }

  private async update(change: Change, record: ContainerRecord): Promise<void> {
    const spec = change.after!;
    const running = record.status === 'running';
    const cgroup = running && record.cgroup !== null ? await updateLimits(this.ctx, change.name, record.cgroup, spec) : record.cgroup;
    // New content of secrets or config files whose onChange is not a restart: swapped in, then
    // each signal asked for goes to PID 1 once. Stopped, the next start writes them anyway.
    const changedFiles = change.diff.filter((d) => d.path.startsWith(`references.${FILE_REFERENCE}`)).map((d) => d.path.slice('references.'.length));
    let references = change.afterReferences;
    if (running && changedFiles.length > 0) {
      const written = await refreshFiles(this.ctx, change.name, spec);
      references = { ...references, ...written };
      const signals = new Set(filesOf(spec).filter((f) => changedFiles.includes(fileReferenceKey(f)) && f.onChange.kind === 'signal').map((f) => (f.onChange.kind === 'signal' ? f.onChange.signal.number : 0)));
      for (const signal of signals) await signalContainer(this.ctx, change.name, record.runtime, signal);
    }
    // The digests written, which may be newer than the plan's: the hash follows them.
    await this.save({ ...record, cgroup, spec, hash: references === change.afterReferences ? change.afterHash! : specHash(spec, references), references, origin: change.origin });
  }

  private async stop(record: ContainerRecord, byHand: boolean): Promise<ContainerRecord> {
    const stopping = await this.save(transition(record, 'stopping', byHand ? { desiredState: 'stopped' } : {}));
    const stopped = await stopProcess(this.ctx, stopping);
    this.noteStop(record.name, stopped);
    return this.save(transition(stopping, 'stopped', { lastExit: stopped.exit ?? stopping.lastExit }));
  }

  private noteStop(name: string, stopped: Stopped): void {
    if (!stopped.killedAfterTimeout) return;
    this.warnings.push(diagnostic('warning', 'STOP_TIMEOUT', `\`${name}\` did not stop within its stopTimeout and was killed`, {
      container: name, hint: 'make the command exit on its stopSignal, or raise `stopTimeout`',
    }));
  }

  private async remove(record: ContainerRecord): Promise<void> {
    const removing = record.status === 'removing' ? record : await this.save(transition(record, 'removing'));
    this.noteStop(record.name, await teardown(this.ctx, removing));
    await this.store.remove(record.name);
    await this.userRanges?.release(record.name);
    this.records.set(record.name, null);
  }

  /** A failed create or start stays visible, with a backoff before it is tried again. */
  async recordFailure(change: Change, error: Diagnostic): Promise<void> {
    const record = this.records.get(change.name);
    if (!record || record.status === 'removing') return;
    if (!['create', 'recreate', 'start', 'restart'].includes(change.action)) {
      await this.save({ ...record, error: error.summary });
      return;
    }
    const delayMs = nextBackoff(record.backoff.delayMs);
    // A start that failed after its process ran (the limits read back wrong) leaves it running.
    const to: ContainerStatus = record.status === 'running' ? 'running' : 'failed';
    await this.save(transition(record, to, {
      error: error.summary,
      backoff: { delayMs, nextStartAt: new Date(this.now().getTime() + delayMs).toISOString() },
    }));
  }
}
