// Events: what corral did and saw, as JSON lines in <root>/events.jsonl (`corral events [-f]`).
// Written by every run that changes something (`reconcile --once` and the agent alike), kept
// to a few MiB by rotation. Readers get whole lines: each event is one write(2) of one line.
// Kinds are chosen by reason code, never by the reasons' words (./event-text.ts copies those).

import { appendFile, rename, stat } from 'node:fs/promises';
import { environmentCode, type Diagnostic } from '../errors.js';
import type { ChangeResult, NetworkResult } from '../reconciler/apply.js';
import type { Plan, Reason } from '../reconciler/plan/types.js';
import { describeExit } from '../reconciler/plan/describe.js';
import type { ObservedExit } from '../reconciler/reconcile.js';
import { actionMessage, networkMessage } from './event-text.js';
import type { Layout } from '../state/layout.js';

/** The state root's event log (`corral events` reads it; the agent and one-shot commands append). */
export function eventLogPath(layout: Layout): string {
  return `${layout.root}/events.jsonl`;
}

export type EventKind =
  | 'created' | 'started' | 'updated' | 'restarted' | 'recreated' | 'stopped' | 'removed'
  | 'exited' | 'oom-killed' | 'drift-corrected' | 'invalid-manifest' | 'action-failed'
  | 'orphan-cleaned' | 'prune-refused' | 'unhealthy' | 'healthy' | 'stop-timeout' | 'signaled' | 'agent-started' | 'agent-stopped';

export interface CorralEvent {
  readonly time: string;
  readonly kind: EventKind;
  readonly container?: string;
  /** For what happened to a network (`kind: Network`). */
  readonly network?: string;
  readonly message: string;
  readonly reasons?: readonly Reason[];
}

const MAX_BYTES = 4 * 1024 * 1024;

export class EventLog {
  constructor(readonly path: string) {}

  async append(events: readonly CorralEvent[]): Promise<void> {
    if (events.length === 0) return;
    const size = await stat(this.path).then((s) => s.size).catch(() => 0);
    if (size > MAX_BYTES) await rename(this.path, `${this.path}.1`).catch(() => undefined);
    try {
      await appendFile(this.path, events.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
    } catch (err) {
      // The log of what happened must not stop what happens: on a full or read-only state root
      // the events are lost, the containers are not.
      if (environmentCode(err) === null) throw err;
    }
  }
}

/** An exit the monitor saw is an event; one nobody saw (the monitor was gone) has none. */
function exitEvent(observed: ObservedExit, time: string): CorralEvent | null {
  const { exit } = observed;
  if (exit.unknown) return null;
  return { time, kind: exit.oomKilled ? 'oom-killed' : 'exited', container: observed.name, message: describeExit(exit) };
}

const DONE: Record<string, EventKind> = {
  create: 'created', start: 'started', update: 'updated', restart: 'restarted', recreate: 'recreated', stop: 'stopped', remove: 'removed',
};

/** Events for one reconcile pass: what was observed (exits, drift), then what was done. */
export function eventsFromPass(
  plan: Plan, results: readonly ChangeResult[] | null, diagnostics: readonly Diagnostic[], now: Date, exits: readonly ObservedExit[] = [],
  networkResults: readonly NetworkResult[] = [],
): CorralEvent[] {
  const time = now.toISOString();
  const out: CorralEvent[] = [];
  const results_ = new Map((results ?? []).map((r) => [r.name, r]));
  // Each exit once: when the pass that recorded it runs, not at every pass that still shows it.
  const exitsOf = new Map(exits.map((e) => [e.name, e]));
  const observe = (name: string): void => {
    const e = exitsOf.get(name);
    exitsOf.delete(name);
    const event = e ? exitEvent(e, time) : null;
    if (event) out.push(event);
  };
  for (const c of plan.changes) {
    const r = results_.get(c.name);
    observe(c.name);
    if (c.action === 'none' || !r) continue;
    if (!r.ok) {
      out.push({ time, kind: 'action-failed', container: c.name, message: `${c.action} failed: ${r.error?.summary ?? 'unknown error'}`, reasons: c.reasons });
      continue;
    }
    const drift = c.reasons.some((x) => x.code === 'drift');
    out.push({ time, kind: drift ? 'drift-corrected' : DONE[c.action]!, container: c.name, message: actionMessage(c), reasons: c.reasons });
  }
  for (const name of [...exitsOf.keys()]) observe(name);
  const networkResult = new Map(networkResults.map((r) => [r.name, r]));
  for (const n of plan.networks) {
    const r = networkResult.get(n.name);
    if (n.action === 'none' || !r) continue;
    out.push(r.ok
      ? { time, kind: DONE[n.action]!, network: n.name, message: networkMessage(n), reasons: n.reasons }
      : { time, kind: 'action-failed', network: n.name, message: `${n.action} failed: ${r.error?.summary ?? 'unknown error'}`, reasons: n.reasons });
  }
  for (const o of plan.orphans) out.push({ time, kind: 'orphan-cleaned', container: o.name, message: `${o.kind}: ${o.detail}` });
  const invalid = new Set<string>();
  for (const d of diagnostics) {
    if (d.code === 'PRUNE_REFUSED') out.push({ time, kind: 'prune-refused', message: d.summary });
    if (d.code === 'STOP_TIMEOUT') out.push({ time, kind: 'stop-timeout', ...(d.container ? { container: d.container } : {}), message: d.summary });
    // The network's own state (its nftables table, bridge, veths) restored by the pass.
    if (d.code === 'NETWORK_DRIFT') out.push({ time, kind: 'drift-corrected', message: `network: ${d.summary}` });
    // A field the format reserves but corral has not built makes the manifest as unusable as an error in it.
    if (d.severity === 'error' && (d.code.startsWith('MANIFEST_') || d.code === 'NOT_SUPPORTED')) {
      const key = `${d.source?.file}:${d.container ?? ''}:${d.network ?? ''}`;
      if (invalid.has(key)) continue;
      invalid.add(key);
      out.push({ time, kind: 'invalid-manifest', ...(d.container ? { container: d.container } : {}), ...(d.network ? { network: d.network } : {}), message: `${d.source ? `${d.source.file}:${d.source.line}:${d.source.column}: ` : ''}${d.summary}` });
    }
  }
  return out;
}

/**
 * Facts that stay true from one pass to the next are one event, not one per pass: a manifest that
 * is still invalid at the resync was reported when it became so. A fact that goes away and comes
 * back is an event again.
 */
export class OncePerFact {
  private invalid = new Set<string>();

  filter(events: readonly CorralEvent[]): CorralEvent[] {
    const now = new Set<string>();
    const out = events.filter((e) => {
      if (e.kind !== 'invalid-manifest') return true;
      const key = `${e.container ?? ''}\u0000${e.network ?? ''}\u0000${e.message}`;
      now.add(key);
      return !this.invalid.has(key);
    });
    this.invalid = now;
    return out;
  }
}
