// The namespaces runtime: start a container through the shim, and later — from this agent or
// from a new one after a crash — inspect it, wait for it, stop it and read how it ended. Every
// question is answered from the persisted record (pids with their start times), the shim's files
// and pidfds; nothing here depends on being the process that started the container.

import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { CorralError, isSyscallError } from '../../errors.js';
import { closeFd, pidfdOpen, pidfdSendSignal } from '../../sys/pidfd.js';
import { isRunningNotExiting, procStat, sameProcess } from '../../sys/proc.js';
import { readShimExitRecord, readShimState, type ShimExitRecord } from './records.js';
import { runShim, type ShimOptions } from './shim.js';
import type { ProcessUser } from '../../reconciler/ports.js';
import type { RunSpawnSpec } from './spawn-spec.js';
import { onMonitorEnd, watchMonitor } from './wait.js';

/** A process named for its whole life: pid plus start time (clock ticks since boot). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: number;
}

/** What the reconciler persists after a start; enough to find the container again after a restart. */
export interface RuntimeRecord {
  readonly name: string;
  readonly monitor: ProcessIdentity;
  readonly init: ProcessIdentity;
  readonly startedAtMs: number;
  readonly shimDir: string;
  readonly logDir: string;
  readonly stopSignal: number;
  /** Who its process runs as, resolved at start: the default user of `exec` and health checks. Absent in older handles. */
  readonly user?: ProcessUser;
}

export type RuntimeStatus =
  | { readonly state: 'running'; readonly record: RuntimeRecord }
  /** The command runs but its monitor is gone (killed): nothing would record its exit or read its output. */
  | { readonly state: 'unmonitored'; readonly record: RuntimeRecord }
  /** The command ended; the monitor may still be draining logs. */
  | { readonly state: 'exited'; readonly record: RuntimeRecord; readonly exit: ShimExitRecord }
  /** Neither running nor recorded as exited: the monitor itself died (killed, host crash). */
  | { readonly state: 'lost'; readonly record: RuntimeRecord };

export async function start(spec: RunSpawnSpec, opts: ShimOptions = {}, user?: ProcessUser): Promise<RuntimeRecord> {
  const ready = await runShim(spec, opts);
  return {
    ...(user ? { user } : {}),
    name: spec.name,
    monitor: { pid: ready.monitorPid, startTime: ready.monitorStartTime },
    init: { pid: ready.initPid, startTime: ready.initStartTime },
    startedAtMs: ready.startedAtMs,
    shimDir: spec.shimDir,
    logDir: spec.logDir,
    stopSignal: spec.stopSignal,
  };
}

/**
 * Rebuilds a record from the shim's own state.json (written before `start` returned), for an
 * agent that crashed between starting a container and saving its record.
 */
export function rediscover(name: string, shimDir: string, logDir: string, stopSignal: number): RuntimeRecord | null {
  const s = readShimState(shimDir);
  if (!s) return null;
  return {
    name, shimDir, logDir, stopSignal, startedAtMs: s.startedAtMs,
    monitor: { pid: s.monitorPid, startTime: s.monitorStartTime },
    init: { pid: s.initPid, startTime: s.initStartTime },
  };
}

export function isAlive(p: ProcessIdentity): boolean {
  return sameProcess(p.pid, p.startTime);
}

/** `monitorAlive`: the caller has just seen the monitor alive (its /proc entry is not read again). */
export function status(record: RuntimeRecord, monitorAlive?: true): RuntimeStatus {
  const exit = readShimExitRecord(record.shimDir);
  if (exit && exit.initPid === record.init.pid && exit.startedAtMs === record.startedAtMs) return { state: 'exited', record, exit };
  // A live monitor means running, whether the init is (it may have ended a moment ago, with
  // exit.json on its way: the monitor decides).
  if (monitorAlive || isAlive(record.monitor)) return { state: 'running', record };
  return { state: isAlive(record.init) ? 'unmonitored' : 'lost', record };
}

/**
 * Without a monitor nobody reaps the init or writes its exit, and no FIFO tells when it ends: poll
 * its identity (a zombie counts as gone). Only for the rare container whose monitor was killed.
 */
async function waitForInit(record: RuntimeRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(record.init)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

/**
 * Resolves when the monitor is gone (the exit is then recorded, or the monitor was killed), or
 * with null on timeout or abort. Event-driven: the FIFO's EOF, never a /proc loop.
 */
export async function waitForExit(record: RuntimeRecord, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RuntimeStatus | null> {
  const watch = watchMonitor(record.shimDir);
  // A FIFO reader opened after the last writer left never sees EOF. The monitor keeps its end
  // until the kernel closes it during exit, after PF_EXITING is set: a monitor alive and not
  // exiting now held the FIFO when it was opened above, so its EOF will come.
  if (!isRunningNotExiting(record.monitor)) {
    watch.close();
    return status(record);
  }
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const waits: Promise<'ended' | 'timeout'>[] = [watch.ended.then(() => 'ended' as const)];
    if (opts.timeoutMs !== undefined) waits.push(sleep(opts.timeoutMs, 'timeout' as const, { signal: ac.signal }).catch(() => 'timeout' as const));
    if (opts.signal) waits.push(new Promise((resolve) => ac.signal.addEventListener('abort', () => resolve('timeout'), { once: true })));
    const r = await Promise.race(waits);
    return r === 'ended' ? status(record) : null;
  } finally {
    ac.abort();
    watch.close();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Calls `onExit` once when the container's monitor has exited (at once, asynchronously, if it
 * already has), unless the returned function ran first. What waitForExit does, for a watch that
 * lasts as long as the container.
 */
export function onContainerExit(record: RuntimeRecord, onExit: () => void): () => void {
  let stopped = false;
  const stopWatch = onMonitorEnd(record.shimDir, () => {
    if (!stopped) onExit();
  });
  // As in waitForExit: a reader opened after the monitor left would never see EOF.
  if (!isRunningNotExiting(record.monitor)) {
    stopWatch();
    queueMicrotask(() => {
      if (!stopped) onExit();
    });
  }
  return () => {
    stopped = true;
    stopWatch();
  };
}

/** Sends a signal to the container's init, checked against its start time first. */
export function signalInit(record: RuntimeRecord, signal: number): boolean {
  let fd: number;
  try {
    fd = pidfdOpen(record.init.pid);
  } catch (err) {
    if (isSyscallError(err, 'ESRCH')) return false;
    throw err;
  }
  try {
    // Checked after opening: the pidfd now pins the process the start time names.
    if (!sameProcess(record.init.pid, record.init.startTime)) return false;
    pidfdSendSignal(fd, signal);
    return true;
  } catch (err) {
    if (isSyscallError(err, 'ESRCH')) return false;
    throw err;
  } finally {
    closeFd(fd);
  }
}

export interface StopOptions {
  /** Defaults to the record's stop signal (the manifest's stopSignal). */
  readonly stopSignal?: number;
  readonly timeoutMs: number;
  /** Kills every process of the container's cgroup (the cgroups driver's kill). */
  readonly killAll?: () => Promise<void>;
  /** How long to wait after killAll before giving up. */
  readonly killWaitMs?: number;
  readonly signal?: AbortSignal;
}

export interface StopResult {
  readonly exit: ShimExitRecord | null;
  /** The stop signal was not enough: the cgroup (or init) was killed after the timeout. */
  readonly forced: boolean;
  /** STOP_TIMEOUT when forced: for the reconciler's event log. */
  readonly warning: CorralError | null;
  readonly state: RuntimeStatus['state'];
}

/**
 * stopSignal, then after timeoutMs the whole cgroup. PID 1 of a pid namespace ignores signals it
 * has no handler for, so a forced kill is the normal end of many containers.
 */
export async function stop(record: RuntimeRecord, opts: StopOptions): Promise<StopResult> {
  const initial = status(record);
  if (initial.state === 'unmonitored') return stopUnmonitored(record, opts);
  if (initial.state !== 'running') return { exit: initial.state === 'exited' ? initial.exit : null, forced: false, warning: null, state: initial.state };
  signalInit(record, opts.stopSignal ?? record.stopSignal);
  let after = await waitForExit(record, { timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
  let forced = false;
  if (!after) {
    forced = true;
    if (opts.killAll) await opts.killAll();
    else signalInit(record, constants.signals.SIGKILL);
    after = await waitForExit(record, { timeoutMs: opts.killWaitMs ?? 30_000 });
    if (!after) {
      throw new CorralError('TIMEOUT', `container \`${record.name}\`: still running ${opts.killWaitMs ?? 30_000} ms after it was killed (monitor pid ${record.monitor.pid}, init pid ${record.init.pid})`, { container: record.name });
    }
  }
  const warning = forced
    ? new CorralError('STOP_TIMEOUT', `container \`${record.name}\` did not stop within ${opts.timeoutMs} ms of signal ${opts.stopSignal ?? record.stopSignal} and was killed`, { container: record.name })
    : null;
  return { exit: after.state === 'exited' ? after.exit : null, forced, warning, state: after.state };
}

/** The same escalation as `stop`, watching the init itself: its exit can no longer be known. */
async function stopUnmonitored(record: RuntimeRecord, opts: StopOptions): Promise<StopResult> {
  const stopSignal = opts.stopSignal ?? record.stopSignal;
  signalInit(record, stopSignal);
  let forced = false;
  if (!await waitForInit(record, opts.timeoutMs)) {
    forced = true;
    if (opts.killAll) await opts.killAll();
    else signalInit(record, constants.signals.SIGKILL);
    if (!await waitForInit(record, opts.killWaitMs ?? 30_000)) {
      throw new CorralError('TIMEOUT', `container \`${record.name}\`: still running ${opts.killWaitMs ?? 30_000} ms after it was killed (init pid ${record.init.pid}, no monitor)`, { container: record.name });
    }
  }
  const warning = forced
    ? new CorralError('STOP_TIMEOUT', `container \`${record.name}\` did not stop within ${opts.timeoutMs} ms of signal ${stopSignal} and was killed`, { container: record.name })
    : null;
  return { exit: null, forced, warning, state: 'unmonitored' };
}

/** For `ps`-like views: the monitor's state letter, or null when gone. */
export function monitorState(record: RuntimeRecord): string | null {
  const st = procStat(record.monitor.pid);
  return st && st.startTime === record.monitor.startTime ? st.state : null;
}
