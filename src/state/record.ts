// The state record of one container: what corral last applied and what it owns on the host.
// Records are the reconciler's memory across runs and crashes. Part of the pure core (types and
// the status transition table only; reading and writing them is store.ts).

import { CorralError } from '../errors.js';
import type { ContainerSpec, SpecOrigin } from '../manifest/spec.js';

export const RECORD_FORMAT = 1;

/** Opaque JSON a driver hands back and gets back later (cgroup paths, shim identity...). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type ContainerStatus =
  /** Intent written, resources being created; a crash here is finished or undone by the next run. */
  | 'creating'
  | 'running'
  | 'stopping'
  /** Stopped on purpose (by a stop action or `corral stop`). */
  | 'stopped'
  /** The process ended on its own; the restart policy decides what comes next. */
  | 'exited'
  /** Exited again and again; restarts wait for an exponential backoff. */
  | 'crashloop'
  /** Setup failed (the command never ran); retried with backoff. */
  | 'failed'
  /** Being removed; a crash here is finished by the next run. */
  | 'removing';

export interface ExitRecord {
  readonly code: number | null;
  readonly signal: string | null;
  readonly oomKilled: boolean;
  readonly at: string;
  /**
   * The process ended while no monitor watched it (its monitor was killed, the host went down):
   * how it ended is not known. `at` is when corral noticed. Absent in records of known exits.
   */
  readonly unknown?: true;
}

/** An exit nobody could record, noticed at `at`. */
export function unknownExit(at: string): ExitRecord {
  return { code: null, signal: null, oomKilled: false, at, unknown: true };
}

export interface HealthRecord {
  readonly status: 'starting' | 'healthy' | 'unhealthy';
  readonly failures: number;
  readonly checkedAt: string | null;
  readonly output: string;
}

export interface UserRange {
  readonly hostId: number;
  readonly size: number;
}

export interface ContainerRecord {
  readonly format: typeof RECORD_FORMAT;
  readonly name: string;
  readonly status: ContainerStatus;
  /** `stopped` after `corral stop`: it stays stopped until its manifest changes or `corral start`. */
  readonly desiredState: 'running' | 'stopped';
  /** The last applied spec and its hash (with referenced digests). */
  readonly spec: ContainerSpec;
  readonly hash: string;
  /** Digests of referenced content (image config, seccomp profile) that went into the hash. */
  readonly references: Readonly<Record<string, string>>;
  readonly origin: SpecOrigin | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly cgroup: Json | null;
  readonly rootfs: Json | null;
  /** The network driver's handle (addresses, forwarded ports); null: nothing to undo. */
  readonly network: Json | null;
  readonly runtime: Json | null;
  readonly userRange: UserRange | null;
  readonly restarts: number;
  /**
   * CPU seconds the container's cgroup had used when this run started (the cgroup outlives a stop
   * and a start): `ps` shows this run's time, usage minus this. Absent in records of older corral.
   */
  readonly cpuBaselineSeconds?: number | null;
  readonly lastExit: ExitRecord | null;
  /** Restart backoff: 10 s doubling to 5 min, reset after 10 min of running. */
  readonly backoff: { readonly delayMs: number; readonly nextStartAt: string | null };
  readonly health: HealthRecord | null;
  /** The last failure, for `ps` and `inspect`. */
  readonly error: string | null;
  /** Bumped on every write; the store's serial is the largest of them. */
  readonly serial: number;
  /**
   * Rebuilt by `corral state repair` from what the host shows: the spec the process runs is not
   * known, so the next reconcile restarts it with its manifest's. Absent otherwise.
   */
  readonly specUnknown?: true;
  /**
   * Set by the store on a record read from its kept previous version (the current file was
   * damaged): one write older than the truth. Never written to disk.
   */
  readonly recovered?: true;
}

/**
 * The status machine. Every status change goes through transition(), and the store checks every
 * write against this table (store.ts): a move not listed here is a bug, and fails loudly.
 * A status may always be rewritten as itself (other fields change).
 */
export const TRANSITIONS: Readonly<Record<ContainerStatus, readonly ContainerStatus[]>> = {
  // Started; setup failed; removed before it ran.
  creating: ['running', 'failed', 'removing'],
  // Being stopped; found exited (refresh); rebuilt (recreate); removed.
  running: ['stopping', 'exited', 'crashloop', 'creating', 'removing'],
  // Stopped; the stop never sent its signal (corral was killed first, refresh); removed.
  stopping: ['stopped', 'running', 'removing'],
  // Started again (or found running: a start the record missed); rebuilt; its start failed; removed.
  stopped: ['running', 'creating', 'failed', 'removing'],
  exited: ['running', 'creating', 'failed', 'stopped', 'removing'],
  crashloop: ['running', 'creating', 'failed', 'stopped', 'removing'],
  failed: ['running', 'creating', 'stopped', 'removing'],
  // The manifest came back before the removal finished: rebuilt.
  removing: ['creating'],
};

/** Whether a record in status `from` (null: no record yet) may be written with status `to`. */
export function canTransition(from: ContainerStatus | null, to: ContainerStatus): boolean {
  if (from === null) return to === 'creating';
  return from === to || TRANSITIONS[from].includes(to);
}

/** Returns the record with its new status, or throws STATE_TRANSITION for an impossible move. */
export function transition(record: ContainerRecord, to: ContainerStatus, changes: Partial<ContainerRecord> = {}): ContainerRecord {
  assertTransition(record.name, record.status, to);
  return { ...record, ...changes, status: to };
}

export function assertTransition(name: string, from: ContainerStatus | null, to: ContainerStatus): void {
  if (!canTransition(from, to)) {
    throw new CorralError('STATE_TRANSITION', `container \`${name}\`: cannot go from \`${from ?? '(no record)'}\` to \`${to}\``);
  }
}

export const BACKOFF = {
  initialMs: 10_000,
  maxMs: 5 * 60_000,
  /** Running this long resets the backoff. */
  resetAfterMs: 10 * 60_000,
} as const;

/** The delay before the next restart, doubling from 10 s up to 5 min. */
export function nextBackoff(previousMs: number): number {
  return previousMs <= 0 ? BACKOFF.initialMs : Math.min(previousMs * 2, BACKOFF.maxMs);
}
