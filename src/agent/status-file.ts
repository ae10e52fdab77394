// The agent's status, written atomically after every pass to <root>/agent.json so that
// `corral status` can answer without talking to the agent.

import { readFile } from 'node:fs/promises';
import type { Diagnostic } from '../errors.js';
import type { Layout } from '../state/layout.js';
import { writeFileAtomic } from '../state/atomic-write.js';
import { procStat } from '../sys/proc.js';

/** Where the agent writes its status: <root>/agent.json. */
export function agentStatusPath(layout: Layout): string {
  return `${layout.root}/agent.json`;
}

export interface AgentStatus {
  readonly pid: number;
  /** /proc/<pid>/stat start time: tells this agent from a later process with the same pid. */
  readonly pidStartTime: number | null;
  readonly version: string;
  readonly startedAt: string;
  readonly manifestDir: string;
  readonly lastReconcile: {
    readonly at: string;
    readonly durationMs: number;
    readonly result: 'ok' | 'failed' | 'error';
    readonly changed: boolean;
    readonly summary: string;
    readonly reasons: readonly string[];
    /** Containers that should run but wait for a retry (absent in files of older agents). */
    readonly failing?: readonly string[];
  } | null;
  readonly pendingErrors: readonly Diagnostic[];
  readonly reconciles: number;
  /** This host as selectors see it: name (`--host-name` or the kernel's) and labels (absent in files of older agents). */
  readonly host?: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  /** The git checkout the last pass read its manifests from; null when not in one (absent in older files). */
  readonly repository?: AgentRepository | null;
  /** Containers by status after the last pass (absent in older files). */
  readonly containers?: Readonly<Record<string, number>>;
}

export interface AgentRepository {
  readonly commit: string | null;
  readonly ref: string | null;
  readonly dirty: boolean | null;
  readonly workTree: string;
  readonly path: string;
}

export async function writeAgentStatus(path: string, status: AgentStatus): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(status, null, 2)}\n`, 0o644);
}

export async function readAgentStatus(path: string): Promise<{ status: AgentStatus; alive: boolean } | null> {
  let status: AgentStatus;
  try {
    status = JSON.parse(await readFile(path, 'utf8')) as AgentStatus;
  } catch {
    return null;
  }
  const start = procStat(status.pid)?.startTime ?? null;
  return { status, alive: start !== null && (status.pidStartTime === null || start === status.pidStartTime) };
}

/**
 * One word for the agent's state, as `corral status` and fleet views show it: `degraded` while a
 * manifest has errors, the last pass did not succeed, or a container waits for a retry; a pass
 * with nothing to change is not `ok` then.
 */
export function agentHealth(status: AgentStatus, alive: boolean): 'ok' | 'degraded' | 'not-running' {
  if (!alive) return 'not-running';
  const last = status.lastReconcile;
  const failing = last?.failing ?? [];
  return status.pendingErrors.length > 0 || (last !== null && last.result !== 'ok') || failing.length > 0 ? 'degraded' : 'ok';
}
