// `corral status --output json`: one object a fleet view can merge across hosts, versioned
// (`format`) and documented field by field in docs/status-format.md. A new field may be added in
// the same format; a field renamed, removed or given another meaning is a new format number.

import type { AgentRepository, AgentStatus } from '../../agent/status-file.js';
import type { Diagnostic } from '../../errors.js';
import type { HostFacts } from '../../manifest/host-selector.js';
import type { ContainerStatus } from '../../state/record.js';

export const STATUS_FORMAT = 1;

/** Every status a record can have, in a fixed order: each is a key of `containers.byStatus`, 0 when none. */
export const CONTAINER_STATUSES: readonly ContainerStatus[] = ['creating', 'running', 'stopping', 'stopped', 'exited', 'crashloop', 'failed', 'removing'];

export interface StatusContainer {
  readonly name: string;
  /** The record's status; `unknown` for a record that cannot be read (`corral state check`). */
  readonly status: ContainerStatus | 'unknown';
  readonly restarts: number | null;
  readonly health: 'starting' | 'healthy' | 'unhealthy' | null;
}

export interface StatusReport {
  readonly format: typeof STATUS_FORMAT;
  /** When this report was made (ISO 8601, UTC). */
  readonly generatedAt: string;
  readonly host: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  readonly running: boolean;
  readonly state: 'ok' | 'degraded' | 'not-running';
  readonly agent: {
    readonly pid: number;
    readonly version: string;
    readonly startedAt: string;
    readonly uptimeSeconds: number | null;
    readonly manifestDir: string;
    readonly reconciles: number;
  } | null;
  readonly lastReconcile: {
    readonly at: string;
    readonly durationMs: number;
    readonly result: 'ok' | 'failed' | 'error';
    readonly changed: boolean;
    readonly summary: string;
    readonly failing: readonly string[];
    /** The commit the pass read its manifests at; null outside a git checkout or from an older agent. */
    readonly commit: string | null;
  } | null;
  readonly containers: {
    readonly total: number;
    readonly byStatus: Readonly<Record<ContainerStatus | 'unknown', number>>;
    readonly items: readonly StatusContainer[];
  };
  readonly pendingErrors: readonly Diagnostic[];
  /** The checkout holding the manifest directory now; null when it is not in a git work tree. */
  readonly repository: AgentRepository | null;
}

export interface StatusInputs {
  readonly now: Date;
  readonly found: { readonly status: AgentStatus; readonly alive: boolean } | null;
  readonly state: StatusReport['state'];
  /** This command's own view of the host, for when no agent has said how it sees it. */
  readonly host: HostFacts;
  readonly containers: readonly StatusContainer[];
  readonly repository: AgentRepository | null;
}

export function statusReport(input: StatusInputs): StatusReport {
  const s = input.found?.status ?? null;
  const running = input.found?.alive ?? false;
  const byStatus = Object.fromEntries([...CONTAINER_STATUSES, 'unknown'].map((k) => [k, 0])) as Record<ContainerStatus | 'unknown', number>;
  for (const c of input.containers) byStatus[c.status]++;
  const last = s?.lastReconcile ?? null;
  return {
    format: STATUS_FORMAT,
    generatedAt: input.now.toISOString(),
    host: s?.host ?? { name: input.host.hostname, labels: input.host.labels },
    running,
    state: input.state,
    agent: s && {
      pid: s.pid,
      version: s.version,
      startedAt: s.startedAt,
      uptimeSeconds: running ? Math.max(0, Math.floor((input.now.getTime() - Date.parse(s.startedAt)) / 1000)) : null,
      manifestDir: s.manifestDir,
      reconciles: s.reconciles,
    },
    lastReconcile: last && {
      at: last.at, durationMs: last.durationMs, result: last.result, changed: last.changed, summary: last.summary,
      failing: last.failing ?? [], commit: s?.repository?.commit ?? null,
    },
    containers: { total: input.containers.length, byStatus, items: [...input.containers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) },
    // The last pass's, like lastReconcile: `running` says whether an agent still looks.
    pendingErrors: s?.pendingErrors ?? [],
    repository: input.repository,
  };
}
