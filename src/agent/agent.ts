// The agent: one level-triggered loop. File changes (settled), container exits (from the
// monitors, no polling), health changes, SIGHUP and a resync timer all add the same key to the
// queue; a pass re-reads the manifests, inspects the host, plans and applies. Passes never
// overlap, and each holds the state lock only while it runs, so `corral reconcile --once` and the
// imperative commands slip in between passes instead of racing them.
//
// Stopping the agent (SIGTERM/SIGINT) finishes the step in flight, releases the lock and leaves
// the containers running: they belong to their monitors, not to the agent.

import type { Disposable } from '../errors.js';
import type { HostFacts } from '../manifest/host-selector.js';
import type { GitCheckout } from '../inputs/git-checkout.js';
import type { ManifestSet } from '../manifest/manifest-set.js';
import type { Logger } from '../logger.js';
import { reconcileOnce, type ReconcileOutcome } from '../reconciler/reconcile.js';
import type { InspectScope } from '../reconciler/inspect.js';
import { HostCheckMemo } from '../reconciler/host-checks.js';
import { resyncBatch } from './resync-batches.js';
import type { Ports } from '../reconciler/ports.js';
import { WorkQueue, type HandlerResult } from '../reconciler/queue.js';
import { countActions, failingChanges } from '../reconciler/plan/plan.js';
import { acquireLock } from '../state/lock.js';
import type { Layout } from '../state/layout.js';
import { procStat } from '../sys/proc.js';
import { transition, type ContainerRecord, type HealthRecord } from '../state/record.js';
import { StateStore } from '../state/store.js';
import { ManifestWatcher } from '../watch/watcher.js';
import { DEFAULT_MAX_HOLD_MS, type SettleOptions } from '../watch/settle.js';
import { EventLog, eventLogPath, eventsFromPass, OncePerFact, type CorralEvent } from './events.js';

export { eventLogPath } from './events.js';
import { HealthChecker } from './health.js';
import type { AgentMetrics } from './metrics.js';
import { agentStatusPath, writeAgentStatus, type AgentStatus } from './status-file.js';

export const KEY = 'host';
/** How long the first pass waits for the manifest watcher's initial scan before converging without it. */
const WATCH_START_WAIT_MS = 5000;

export interface AgentOptions {
  /** The store the ports were opened with (src/cli/open-host.ts); a new one when absent. */
  readonly store?: StateStore;
  readonly manifestDir: string;
  readonly loadManifests: () => Promise<ManifestSet>;
  readonly resyncMs: number;
  readonly settle: SettleOptions;
  readonly allowEmpty: boolean;
  readonly parallelism: number;
  readonly stepTimeoutMs: number;
  readonly lockTimeoutMs: number;
  readonly passTimeoutMs: number;
  readonly stopContainersOnExit: boolean;
  readonly version: string;
  readonly metrics: AgentMetrics | null;
  /** Work done once before the first pass (GC of unreferenced layers and writable layers). */
  readonly startup?: (records: readonly ContainerRecord[]) => Promise<void>;
  /** This host as `spec.hosts` selectors see it: written to the status file for fleet views. */
  readonly host?: HostFacts;
  /** The git checkout holding the manifests, read at each pass (null: not in a work tree). */
  readonly checkout?: () => Promise<GitCheckout | null>;
  /** True while a git command rewrites the manifest directory: passes and notifications wait. */
  readonly checkoutBusy?: () => boolean;
}

/** How often a pass that found a checkout in progress looks again. */
const CHECKOUT_RECHECK_MS = 100;

export { agentStatusPath } from './status-file.js';

export class Agent {
  private readonly queue: WorkQueue;
  private readonly events: EventLog;
  private readonly facts: OncePerFact;
  private readonly store: StateStore;
  private readonly exitWatches = new Map<string, ExitWatch>();
  private readonly health: HealthChecker;
  private readonly pendingHealth = new Map<string, HealthRecord>();
  private readonly hostChecks = new HostCheckMemo();
  private status: AgentStatus;
  /**
   * The next pass looks at everything (src/reconciler/inspect.ts): at start, at each resync, on
   * SIGHUP and after a failed pass. Passes for events (an edit, an exit, a health change) read no
   * cgroup knobs (inspection()).
   */
  private fullPassDue = true;
  /** The next pass is a resync's: it reads one batch of containers in full (inspection()). */
  private resyncDue = false;
  private resyncs = 0;
  /** Containers the last pass left, to size the resync batches. */
  private lastCount = 0;
  /** When a pass first found a git checkout in progress (null: it did not). */
  private busySince: number | null = null;
  private watcher: ManifestWatcher | null = null;
  /** The last manifest set read, and the watch's generation just before it was read. */
  private lastSet: { readonly generation: number; readonly set: ManifestSet } | null = null;

  constructor(private readonly ports: Ports, private readonly layout: Layout, private readonly logger: Logger, private readonly options: AgentOptions) {
    this.store = options.store ?? new StateStore(layout);
    this.events = new EventLog(eventLogPath(layout));
    this.facts = new OncePerFact();
    options.metrics?.readStatsWith({
      cgroup: (handle) => ports.cgroups.stats(handle),
      ...(ports.network.stats ? { network: (handle) => ports.network.stats!(handle) } : {}),
      ...(ports.rootfs.writableBytes ? { writableBytes: (name) => ports.rootfs.writableBytes!(name) } : {}),
    });
    this.health = new HealthChecker(ports.runtime, (name, h) => {
      this.pendingHealth.set(name, h);
      this.logger.info(`container ${name} is ${h.status}`, { container: name, failures: h.failures });
      void this.events.append([{ time: new Date().toISOString(), kind: h.status === 'unhealthy' ? 'unhealthy' : 'healthy', container: name, message: `health: ${h.status}` }]);
      this.queue.add(KEY, `health of ${name}: ${h.status}`);
    });
    this.queue = new WorkQueue((_key, signal) => this.pass(signal), {
      timeoutMs: options.passTimeoutMs,
      baseBackoffMs: 1000,
      maxBackoffMs: 5 * 60_000,
      onResult: (_key, r) => {
        if (r.error) this.logger.error(`reconcile failed: ${(r.error as Error).message}`, { retryInMs: r.retryInMs, reasons: r.reasons });
        else this.logger.debug('reconcile pass done', { durationMs: r.durationMs, reasons: r.reasons });
      },
    });
    this.status = {
      pid: process.pid, pidStartTime: procStat(process.pid)?.startTime ?? null, version: options.version, startedAt: new Date().toISOString(),
      manifestDir: options.manifestDir, lastReconcile: null, pendingErrors: [], reconciles: 0,
      ...(options.host ? { host: { name: options.host.hostname, labels: options.host.labels } } : {}),
      repository: null, containers: {},
    };
  }

  /** Reconcile now (SIGHUP). */
  trigger(reason: string): void {
    this.fullPass(reason);
  }

  /**
   * A resync reads one batch of cgroups and processes in full; a pass for an event reads no
   * cgroup. Either way, a container whose exit watch is armed for its current start and silent
   * is vouched for (src/reconciler/inspect.ts): a resync round still reads each one in turn.
   */
  private inspection(): InspectScope {
    if (this.fullPassDue) return 'full';
    if (!this.resyncDue) return { drift: () => false, orphans: false, vouched: (r) => this.watchedSilent(r) };
    const batch = resyncBatch(this.resyncs++, this.lastCount);
    if (batch === 'full') return batch;
    return { ...batch, vouched: (r) => !batch.drift(r.name) && this.watchedSilent(r) };
  }

  /**
   * The manifest set. While the watch vouches that nothing changed in the tree since the last
   * read, that read stands (no walk and stat of every file); a full pass, and a resync round's
   * first pass (every five minutes at the default resync), read the directory whatever the watch
   * says, the net under an event it could not see (a filesystem that reports none).
   */
  private async manifests(readAnyway: boolean): Promise<ManifestSet> {
    const generation = this.watcher?.generation ?? null;
    if (!readAnyway && generation !== null && this.lastSet?.generation === generation) return this.lastSet.set;
    const set = await this.options.loadManifests();
    this.lastSet = generation === null ? null : { generation, set };
    return set;
  }

  private watchedSilent(record: ContainerRecord): boolean {
    const w = this.exitWatches.get(record.name);
    return w !== undefined && !w.fired && record.status === 'running' && w.key === `${record.startedAt}`;
  }

  private fullPass(reason: string): void {
    this.fullPassDue = true;
    this.queue.add(KEY, reason);
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.store.init();
    if (this.options.startup) {
      const lock = await acquireLock(this.layout.lockFile, 'corral agent (startup)', this.options.lockTimeoutMs, signal);
      try {
        await this.options.startup((await this.store.load()).records);
      } catch (err) {
        this.logger.warn(`startup cleanup failed: ${(err as Error).message}`);
      } finally {
        lock.dispose();
      }
    }
    await writeAgentStatus(agentStatusPath(this.layout), this.status);
    await this.events.append([{ time: new Date().toISOString(), kind: 'agent-started', message: `agent ${process.pid} started, watching ${this.options.manifestDir}` }]);
    const watcher = new ManifestWatcher(this.options.manifestDir, (n) => this.queue.add(KEY, `manifests changed (${n} events)`), {
      settle: this.options.checkoutBusy ? { ...this.options.settle, hold: this.options.checkoutBusy } : this.options.settle,
      onError: (err) => this.logger.warn(`watching ${this.options.manifestDir}: ${err.message}; every pass reads the directory from now on`),
    });
    this.watcher = watcher;
    // The first pass waits for the watcher's initial scan (so no edit falls between the two), but
    // only so long: a slow or failing watch (a huge tree, inotify limits reached) must not keep
    // the host from converging. Then the pass runs at once, and runs again when the watch is ready.
    let watching = false;
    const ready = watcher.start().then(() => {
      watching = true;
    }, (err: Error) => {
      this.logger.warn(`watching ${this.options.manifestDir} failed: ${err.message}; edits are picked up by the resync`);
    });
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise<void>((resolve) => { waited = setTimeout(resolve, WATCH_START_WAIT_MS); })]);
    clearTimeout(waited);
    if (!watching) {
      this.logger.warn(`watching ${this.options.manifestDir} has not started after ${WATCH_START_WAIT_MS / 1000}s; converging without it, edits are picked up by the resync until it does`);
      void ready.then(() => { if (watching) this.fullPass('watching the manifests'); });
    }
    const resync = setInterval(() => {
      this.resyncDue = true;
      this.queue.add(KEY, 'resync');
    }, this.options.resyncMs);
    this.fullPass('agent started');
    this.logger.info('agent started', { manifestDir: this.options.manifestDir, resyncMs: this.options.resyncMs, pid: process.pid });
    try {
      await this.queue.run(signal);
    } finally {
      clearInterval(resync);
      watcher.dispose();
      this.health.dispose();
      for (const w of this.exitWatches.values()) w.watch?.dispose();
      this.options.metrics?.close();
      if (this.options.stopContainersOnExit) await this.stopAll();
      await this.events.append([{ time: new Date().toISOString(), kind: 'agent-stopped', message: `agent ${process.pid} stopped${this.options.stopContainersOnExit ? ' and stopped its containers' : '; containers keep running'}` }]);
      this.logger.info('agent stopped', { containersStopped: this.options.stopContainersOnExit });
    }
  }

  private async pass(signal: AbortSignal): Promise<HandlerResult> {
    // Half of a `git pull` is no state to converge to: wait until git has written the last file
    // (a resync or an exit can come in the middle of one), but not for a lock git left behind.
    if (this.options.checkoutBusy?.()) {
      this.busySince ??= Date.now();
      if (Date.now() - this.busySince < (this.options.settle.maxHoldMs ?? DEFAULT_MAX_HOLD_MS)) return { kind: 'after', ms: CHECKOUT_RECHECK_MS };
      this.logger.warn(`a git command has held the index lock of ${this.options.manifestDir} for ${Math.round((Date.now() - this.busySince) / 1000)}s; reconciling anyway (remove a stale index.lock)`);
    }
    this.busySince = null;
    const started = Date.now();
    const lock = await acquireLock(this.layout.lockFile, 'corral agent', this.options.lockTimeoutMs, signal);
    let outcome: ReconcileOutcome;
    let repository: GitCheckout | null = null;
    try {
      await this.flushHealth();
      // Read before the manifests: a commit that lands in between is seen by the next pass.
      repository = (await this.options.checkout?.().catch(() => null)) ?? null;
      const inspection = this.inspection();
      const set = await this.manifests(inspection === 'full' || (typeof inspection === 'object' && inspection.orphans));
      // Cleared before the pass: a resync arriving during it asks for the next one. A pass that
      // fails asks for a full one (below), whatever it was.
      this.fullPassDue = false;
      this.resyncDue = false;
      outcome = await reconcileOnce(set, this.ports, this.store, {
        dryRun: false, allowEmpty: this.options.allowEmpty, parallelism: this.options.parallelism, stepTimeoutMs: this.options.stepTimeoutMs, inspection,
        hostChecks: this.hostChecks,
      }, {
        postApply: (change, result) => {
          const line = `${change.action} ${change.name}: ${result.ok ? 'ok' : result.error?.summary ?? 'failed'}`;
          if (result.ok) this.logger.info(line, { container: change.name, reasons: change.reasons });
          else this.logger.error(line, { container: change.name, reasons: change.reasons });
        },
      }, signal);
    } catch (err) {
      this.fullPassDue = true;
      throw err;
    } finally {
      lock.dispose();
    }
    // A step that failed may have left something half made that only a full look finds.
    if (outcome.failures || outcome.plan.errored) this.fullPassDue = true;
    const durationMs = Date.now() - started;
    const records = outcome.applied ? [...outcome.applied.records.values()] : (await this.store.load()).records;
    const live = records.filter((r): r is ContainerRecord => r !== null);
    this.lastCount = live.length;
    await this.afterPass(outcome, live, durationMs, repository);
    return nextWake(live, outcome);
  }

  private async afterPass(outcome: ReconcileOutcome, records: ContainerRecord[], durationMs: number, repository: GitCheckout | null): Promise<void> {
    const now = new Date();
    const events: CorralEvent[] = this.facts.filter(eventsFromPass(outcome.plan, outcome.applied?.results ?? null, outcome.diagnostics, now, outcome.exits, outcome.applied?.networks ?? []));
    await this.events.append(events);
    const result = outcome.plan.errored ? 'error' : outcome.failures ? 'failed' : 'ok';
    this.options.metrics?.observePass(durationMs, result, records);
    const counts = countActions(outcome.plan);
    const changes = Object.entries(counts).filter(([a, n]) => a !== 'none' && n > 0).map(([a, n]) => `${n} ${a}`).join(', ');
    // A container waiting for a retry is no change, but the host is not converged: say which.
    const failing = failingChanges(outcome.plan).map((c) => c.name);
    this.status = {
      ...this.status,
      reconciles: this.status.reconciles + 1,
      lastReconcile: {
        at: now.toISOString(), durationMs, result, changed: outcome.changed,
        summary: `${changes || 'no changes'}${failing.length ? `; ${failing.length} failing: ${failing.join(', ')}` : ''}`,
        reasons: [],
        failing,
      },
      pendingErrors: outcome.diagnostics.filter((d) => d.severity === 'error'),
      repository: repository && { commit: repository.commit, ref: repository.ref, dirty: repository.dirty, workTree: repository.workTree, path: repository.path },
      containers: countByStatus(records),
    };
    await writeAgentStatus(agentStatusPath(this.layout), this.status);
    this.watchExits(records);
    this.health.sync(records);
  }

  /** One exit watch per running container, renewed when its process changes. */
  private watchExits(records: ContainerRecord[]): void {
    const running = new Map(records.filter((r) => r.status === 'running' && r.runtime !== null).map((r) => [r.name, r]));
    for (const [name, w] of this.exitWatches) {
      const r = running.get(name);
      if (!r || w.key !== `${r.startedAt}`) {
        w.watch?.dispose();
        this.exitWatches.delete(name);
      }
    }
    for (const [name, r] of running) {
      if (this.exitWatches.has(name)) continue;
      // Marked before the pass it asks for, which must then read this container afresh.
      const entry: ExitWatch = { key: `${r.startedAt}`, fired: false, watch: null };
      try {
        entry.watch = this.ports.runtime.watchExit(name, r.runtime!, () => {
          entry.fired = true;
          this.queue.add(KEY, `container ${name} exited`);
        });
        this.exitWatches.set(name, entry);
      } catch (err) {
        this.logger.warn(`cannot watch ${name} for exits: ${(err as Error).message}; the resync will notice`, { container: name });
      }
    }
  }

  /** Health results are written under the lock, at the start of the next pass. */
  private async flushHealth(): Promise<void> {
    for (const [name, health] of this.pendingHealth) {
      const record = await this.store.get(name);
      if (record && record.status === 'running') await this.store.put({ ...record, health });
    }
    this.pendingHealth.clear();
  }

  private async stopAll(): Promise<void> {
    const lock = await acquireLock(this.layout.lockFile, 'corral agent (stopping containers)', this.options.lockTimeoutMs);
    try {
      const { records } = await this.store.load();
      for (const r of records.filter((x) => x.status === 'running')) {
        try {
          const stopping = await this.store.put(transition(r, 'stopping'));
          // Its own stopTimeout, then the cgroup is killed; a minute more for that, at most.
          const stopped = await this.ports.runtime.stop(r.name, r.runtime, r.spec, () => this.ports.cgroups.kill(r.name), AbortSignal.timeout(r.spec.stopTimeoutMs + 60_000));
          await this.store.put(transition(stopping, 'stopped', { lastExit: stopped.exit ?? r.lastExit }));
        } catch (err) {
          this.logger.error(`stopping ${r.name}: ${(err as Error).message}`, { container: r.name });
        }
      }
    } finally {
      lock.dispose();
    }
  }
}

/** The exit watch of one start of a container (`key`: its startedAt); `fired` once the monitor ended. */
interface ExitWatch {
  readonly key: string;
  fired: boolean;
  watch: Disposable | null;
}

/** How many containers are in each status, as the pass left them. */
function countByStatus(records: readonly ContainerRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** The next time a pass is due by itself: the earliest restart backoff or `notBefore`. */
function nextWake(records: ContainerRecord[], outcome: ReconcileOutcome): HandlerResult {
  const waiting = records.filter((r) => ['exited', 'crashloop', 'failed'].includes(r.status)).map((r) => r.backoff.nextStartAt);
  const times = [...waiting, ...outcome.plan.changes.map((c) => c.notBefore)]
    .filter((t): t is string => t !== null)
    .map((t) => Date.parse(t))
    .filter((t) => Number.isFinite(t));
  if (times.length === 0) return { kind: 'done' };
  return { kind: 'after', ms: Math.max(0, Math.min(...times) - Date.now()) + 50 };
}
