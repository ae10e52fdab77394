// corral status: is an agent running for this state root, and how did its last pass go.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { agentHealth, agentStatusPath, readAgentStatus, type AgentStatus } from '../../agent/status-file.js';
import { gitCheckout } from '../../inputs/git-checkout.js';
import { formatDuration } from '../../manifest/duration.js';
import { layout, type Layout } from '../../state/layout.js';
import { decodeRecord } from '../../state/record-file.js';
import { contextFrom, outputFormat } from '../context.js';
import { renderDiagnostic } from '../views/diagnostics.js';
import { statusReport, type StatusContainer } from '../views/status-json.js';

/** LSB's "program is not running", as `systemctl status` uses it. */
export const EXIT_NOT_RUNNING = 3;

export function statusCommand(): Command {
  return new Command('status')
    .description('show the agent: pid, uptime, last reconcile time and result, pending errors')
    .option('-o, --output <format>', 'text or json (format 1, docs/status-format.md: host, agent, last reconcile, containers by status, pending errors, git commit)', 'text')
    .addHelpText('after', '\nExit status: 0 when an agent runs, 3 when none does.')
    .action(async (opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const where = layout(ctx.root);
      const found = await readAgentStatus(agentStatusPath(where));
      const running = found?.alive ?? false;
      const state = found ? agentHealth(found.status, running) : 'not-running';
      if (format === 'json') {
        const checkout = await gitCheckout(found?.status.manifestDir ?? ctx.manifestDir).catch(() => null);
        ctx.out(JSON.stringify(statusReport({
          now: new Date(), found, state,
          // The agent's own view of the host when one said it; a command-line --host-name otherwise.
          host: ctx.host(),
          containers: readContainers(where),
          repository: checkout && { commit: checkout.commit, ref: checkout.ref, dirty: checkout.dirty, workTree: checkout.workTree, path: checkout.path },
        }), null, 2));
      } else if (!found || !running) {
        ctx.out(found ? `agent: not running (last seen as pid ${found.status.pid}, started ${found.status.startedAt})` : 'agent: not running (never started for this state root)');
      } else {
        const s = found.status;
        const uptime = formatDuration(Math.floor((Date.now() - Date.parse(s.startedAt)) / 1000) * 1000);
        const last = s.lastReconcile;
        const repo = s.repository;
        ctx.out([
          `agent: running, pid ${s.pid}, up ${uptime}, version ${s.version}`,
          ...(s.host ? [`host: ${s.host.name}${Object.keys(s.host.labels).length ? ` (${Object.entries(s.host.labels).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`] : []),
          `state: ${state === 'ok' ? ctx.style('green', 'ok') : ctx.style('yellow', `degraded (${degradedWhy(s)})`)}`,
          `manifests: ${s.manifestDir}${repo ? ` (git ${repo.commit?.slice(0, 12) ?? 'no commit'}${repo.ref ? ` on ${repo.ref.replace(/^refs\/heads\//, '')}` : ', detached'}${repo.dirty ? ', uncommitted changes' : ''})` : ''}`,
          last ? `last reconcile: ${last.at} (${last.durationMs} ms): ${last.result}; ${last.summary}` : 'last reconcile: none yet',
          `reconciles: ${s.reconciles}`,
          s.pendingErrors.length ? `pending errors: ${s.pendingErrors.length}` : 'pending errors: none',
          ...s.pendingErrors.map((d) => renderDiagnostic(d, ctx.style)),
        ].join('\n'));
      }
      process.exitCode = running ? 0 : EXIT_NOT_RUNNING;
    });
}

/**
 * The containers of the state root as their records say, read without the lock and without
 * writing anything (a record being replaced is read whole or not at all: writes are renames).
 */
function readContainers(where: Layout): StatusContainer[] {
  let files: string[];
  try {
    files = readdirSync(where.stateDir);
  } catch {
    return [];
  }
  const out: StatusContainer[] = [];
  for (const file of files) {
    if (!file.endsWith('.json') || file === 'meta.json' || file.startsWith('.')) continue;
    const name = file.slice(0, -'.json'.length);
    let text: string;
    try {
      text = readFileSync(join(where.stateDir, file), 'utf8');
    } catch {
      continue; // removed meanwhile
    }
    const read = decodeRecord(text, name);
    out.push(read.ok
      ? { name, status: read.record.status, restarts: read.record.restarts, health: read.record.health?.status ?? null }
      : { name, status: 'unknown', restarts: null, health: null });
  }
  return out;
}

function degradedWhy(s: AgentStatus): string {
  const why: string[] = [];
  if (s.pendingErrors.length > 0) why.push(`${s.pendingErrors.length} pending error${s.pendingErrors.length === 1 ? '' : 's'}`);
  if (s.lastReconcile && s.lastReconcile.result !== 'ok') why.push(`last pass ${s.lastReconcile.result}`);
  const failing = s.lastReconcile?.failing ?? [];
  if (failing.length > 0) why.push(`failing: ${failing.join(', ')}`);
  return why.join('; ');
}
