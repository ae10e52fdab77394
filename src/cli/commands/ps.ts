// corral ps: the containers corral manages on this host, as the records and the kernel say.

import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { formatDuration } from '../../manifest/duration.js';
import { hostAddressText } from '../../manifest/ports.js';
import { refresh } from '../../reconciler/plan/refresh.js';
import type { PortMapping } from '../../manifest/spec.js';
import { layout } from '../../state/layout.js';
import type { ContainerRecord, ExitRecord } from '../../state/record.js';
import { agentStatusPath, readAgentStatus } from '../../agent/status-file.js';
import { contextFrom, outputFormat } from '../context.js';
import { observe, openHost } from '../open-host.js';
import type { Styler } from '../style.js';
import { humanBytes } from '../views/table.js';

export interface PsRow {
  readonly name: string;
  readonly status: string;
  readonly pid: number | null;
  readonly uptimeSeconds: number | null;
  readonly restarts: number;
  readonly lastExit: ExitRecord | null;
  readonly memoryBytes: number | null;
  readonly cpuSeconds: number | null;
  readonly image: string;
  /** Published ports, `127.0.0.1:8080->80/tcp`, consecutive ones as a range. */
  readonly ports: readonly string[];
  readonly health: string | null;
  /** Seconds since the last health check; null: never checked. */
  readonly healthAgeSeconds: number | null;
  /** No agent runs to check it: the health shown is the last one found, and will not change. */
  readonly healthStale: boolean;
  /** Seconds until a restart waiting for its backoff; null: none waits. */
  readonly restartInSeconds: number | null;
  readonly error: string | null;
}

export function imageOf(r: ContainerRecord): string {
  const root = r.spec.rootfs;
  return root.kind === 'image' ? `${root.name}:${root.tag}` : root.kind === 'path' ? root.path : 'host';
}

/** The manifest's published ports as `docker ps` shows them, a run of consecutive ports as one range. */
export function describePorts(ports: readonly PortMapping[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ports.length;) {
    const p = ports[i]!;
    let j = i;
    while (j + 1 < ports.length) {
      const n = ports[j + 1]!;
      const q = ports[j]!;
      if (n.hostIP !== p.hostIP || n.protocol !== p.protocol || n.hostPort !== q.hostPort + 1 || n.containerPort !== q.containerPort + 1) break;
      j++;
    }
    const last = ports[j]!;
    const span = (a: number, b: number): string => (a === b ? String(a) : `${a}-${b}`);
    out.push(`${hostAddressText(p.hostIP, span(p.hostPort, last.hostPort))}->${span(p.containerPort, last.containerPort)}/${p.protocol}`);
    i = j + 1;
  }
  return out;
}

/** CPU time of the current run: the cgroup's usage minus what it had used when this run started. */
export function cpuOfThisRun(usage: number | null, baseline: number | null): number | null {
  if (usage === null) return null;
  return baseline === null || baseline > usage ? usage : usage - baseline;
}

export function pidOf(runtime: unknown): number | null {
  const init = (runtime as { init?: { pid?: number } } | null)?.init?.pid ?? (runtime as { initPid?: number; pid?: number } | null)?.initPid ?? (runtime as { pid?: number } | null)?.pid;
  return typeof init === 'number' ? init : null;
}

export function psCommand(): Command {
  return new Command('ps')
    .description('list the containers corral manages: status, pid, uptime, restarts, last exit, memory, CPU, image, published ports')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      // A state root never used holds no container: said without making it (opening the host
      // would create the root, its id and the state directory's disk reserve), since ps only reads.
      if (!existsSync(layout(ctx.root).stateDir)) {
        ctx.out(format === 'json' ? '[]' : renderPs([], ctx.style));
        return;
      }
      const host = await openHost(ctx, { observeOnly: true });
      const { loaded, actual } = await observe(host, 'light');
      const now = new Date();
      const agentRuns = (await readAgentStatus(agentStatusPath(host.layout)))?.alive ?? false;
      const rows: PsRow[] = await Promise.all(actual.containers.map(async (a): Promise<PsRow> => {
        const r = refresh(a, now);
        const running = a.live.process === 'running' || a.live.process === 'unmonitored';
        const stats = running && r.cgroup !== null ? await host.ports.cgroups.stats(r.cgroup, 'usage').catch(() => ({} as Record<string, number | null>)) : {};
        const started = a.live.startedAt ?? r.startedAt;
        return {
          name: r.name,
          status: a.live.process === 'unmonitored' ? 'unmonitored' : r.status === 'running' && !running ? 'exited' : r.status,
          pid: running ? pidOf(a.live.runtime ?? r.runtime) : null,
          uptimeSeconds: running && started ? Math.max(0, Math.round((now.getTime() - Date.parse(started)) / 1000)) : null,
          restarts: r.restarts,
          lastExit: r.lastExit,
          memoryBytes: stats['memoryBytes'] ?? null,
          cpuSeconds: cpuOfThisRun(stats['cpuSeconds'] ?? null, r.cpuBaselineSeconds ?? null),
          image: imageOf(r),
          ports: describePorts(r.spec.network.ports),
          health: r.health?.status ?? null,
          healthAgeSeconds: r.health?.checkedAt ? Math.max(0, Math.round((now.getTime() - Date.parse(r.health.checkedAt)) / 1000)) : null,
          healthStale: r.health !== null && !agentRuns,
          restartInSeconds: !running && r.backoff.nextStartAt && r.desiredState === 'running' ? Math.max(0, Math.ceil((Date.parse(r.backoff.nextStartAt) - now.getTime()) / 1000)) : null,
          error: r.error,
        };
      }));
      // A container with an unreadable record is still listed: never silently dropped.
      for (const u of loaded.unknown) {
        rows.push({
          name: u.name, status: 'unknown', pid: null, uptimeSeconds: null, restarts: 0, lastExit: null, memoryBytes: null, cpuSeconds: null, image: '?', ports: [],
          health: null, healthAgeSeconds: null, healthStale: false, restartInSeconds: null, error: `state record unreadable: ${u.reason}`,
        });
      }
      rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const d of loaded.diagnostics) ctx.logger.log(d.severity === 'error' ? 'error' : 'warn', `${d.code} ${d.summary}`, { container: d.container });
      ctx.out(format === 'json' ? JSON.stringify(rows, null, 2) : renderPs(rows, ctx.style));
    });
}

function describeExit(e: PsRow['lastExit']): string {
  if (!e) return '-';
  if (e.unknown) return 'unknown';
  if (e.oomKilled) return 'OOM-killed';
  if (e.signal) return e.signal;
  return `code ${e.code ?? '?'}`;
}

const ordinal = (n: number): string => {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
};

/** `running (healthy, 12s ago)`, `running (starting; stale: no agent checks it)`, `exited, restarting in 18s (3rd)`. */
export function statusText(r: PsRow): string {
  if (r.status === 'running' && r.health) {
    const age = r.healthAgeSeconds === null ? '' : `, ${formatDuration(r.healthAgeSeconds * 1000)} ago`;
    return `running (${r.health}${age}${r.healthStale ? '; stale: no agent checks it' : ''})`;
  }
  if (r.restartInSeconds !== null) return `${r.status}, restarting in ${formatDuration(r.restartInSeconds * 1000)} (${ordinal(r.restarts + 1)})`;
  return r.status;
}

export function renderPs(rows: readonly PsRow[], style: Styler): string {
  if (rows.length === 0) return 'no containers';
  // PORTS only when something is published, so the usual table stays narrow.
  const withPorts = rows.some((r) => r.ports.length > 0);
  const table = [['NAME', 'STATUS', 'PID', 'UPTIME', 'RESTARTS', 'LAST EXIT', 'MEMORY', 'CPU', 'IMAGE', ...(withPorts ? ['PORTS'] : [])]];
  for (const r of rows) {
    table.push([
      r.name,
      statusText(r),
      r.pid === null ? '-' : String(r.pid),
      r.uptimeSeconds === null ? '-' : formatDuration(r.uptimeSeconds * 1000),
      String(r.restarts),
      describeExit(r.lastExit),
      r.memoryBytes === null ? '-' : humanBytes(r.memoryBytes),
      r.cpuSeconds === null ? '-' : `${r.cpuSeconds.toFixed(2)}s`,
      r.image,
      ...(withPorts ? [r.ports.join(', ') || '-'] : []),
    ]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row, n) => {
    const line = row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
    if (n === 0) return style('bold', line);
    const status = rows[n - 1]!.status;
    return status === 'running' ? line : style(status === 'stopped' ? 'dim' : 'yellow', line);
  }).join('\n');
}
