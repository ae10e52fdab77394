// refresh: fold what inspect observed into the records before planning (Terraform's refresh).
// An exit the record does not know yet is recorded with its restart backoff. Pure: reconcile
// writes the refreshed records; `plan` only looks at them.

import { BACKOFF, nextBackoff, transition, unknownExit, type ContainerRecord } from '../../state/record.js';
import type { ActualContainer } from './types.js';

/** The record itself, the same object, when nothing observed changes it (reconcile relies on that). */
export function refresh({ record, live: observed }: ActualContainer, now: Date): ContainerRecord {
  // A process without a monitor still runs: nothing about the record changes until it is
  // restarted under a new monitor (plan.ts).
  const live = observed.process === 'unmonitored' ? { ...observed, process: 'running' as const } : observed;
  if (live.process === 'running' && record.status === 'creating' && record.recovered) {
    // The previous version of a damaged record is the intent written before the start: the
    // process that runs is the one that start made. Adopt it; rebuilding would discard its layer.
    return transition(record, 'running', { runtime: live.runtime ?? record.runtime, startedAt: live.startedAt ?? record.startedAt });
  }
  if (live.process === 'running' && record.status === 'stopping') {
    // A stop that never got to send its signal (corral was killed first).
    return transition(record, 'running');
  }
  if (live.process === 'running' && ['exited', 'crashloop', 'failed', 'stopped'].includes(record.status)) {
    // A start that completed on the host but not (yet) in the record (corral was killed in
    // between, or `ps` looks while a start is in flight): adopt the running process rather than
    // start a second one. Started again after a crash or a failed start, it counts as the restart
    // that start would have recorded.
    const restarted = record.status !== 'stopped';
    return transition(record, 'running', {
      runtime: live.runtime ?? record.runtime, startedAt: live.startedAt ?? record.startedAt, restarts: record.restarts + (restarted ? 1 : 0),
    });
  }
  if ((record.status === 'running' || record.status === 'stopping') && live.process !== 'running') {
    if (record.status === 'stopping' || (live.process === 'missing' && live.exit === null)) {
      // A stop in progress, or no process and no exit record (host reboot, monitor killed): this
      // is not the container crashing, so it does not count toward the crash backoff.
      // How it ended was never recorded: say so rather than keep showing the exit before.
      return transition(record, record.status === 'stopping' ? 'stopped' : 'exited', {
        lastExit: live.exit ?? (record.status === 'stopping' ? record.lastExit : unknownExit(now.toISOString())),
        backoff: { delayMs: record.backoff.delayMs, nextStartAt: null },
      });
    }
    const exit = live.exit ?? { code: null, signal: null, oomKilled: false, at: now.toISOString() };
    const exited: ContainerRecord = transition(record, 'exited', { lastExit: exit });
    // A job that finished under OnFailure or Never is done, not crashing: no backoff.
    if (!policyWantsRestart(exited)) return { ...exited, backoff: { delayMs: 0, nextStartAt: null } };
    const ranMs = record.startedAt ? Date.parse(exit.at) - Date.parse(record.startedAt) : 0;
    const delayMs = ranMs >= BACKOFF.resetAfterMs ? BACKOFF.initialMs : nextBackoff(record.backoff.delayMs);
    return transition(record, delayMs > BACKOFF.initialMs ? 'crashloop' : 'exited', {
      lastExit: exit,
      backoff: { delayMs, nextStartAt: new Date(Date.parse(exit.at) + delayMs).toISOString() },
    });
  }
  if (record.status === 'running' && live.process === 'running' && record.backoff.delayMs > 0 && record.startedAt
    && now.getTime() - Date.parse(record.startedAt) >= BACKOFF.resetAfterMs) {
    return { ...record, backoff: { delayMs: 0, nextStartAt: null } };
  }
  return record;
}

/** Whether the exit calls for a restart under the container's policy. */
export function policyWantsRestart(record: ContainerRecord): boolean {
  const policy = record.spec.restartPolicy;
  if (policy === 'Always') return true;
  if (policy === 'Never') return false;
  const exit = record.lastExit;
  return exit === null || exit.code !== 0 || exit.signal !== null;
}
