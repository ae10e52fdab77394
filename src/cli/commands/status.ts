// corral status: is an agent running for this state root, and how did its last pass go.

import { Command } from 'commander';
import { agentHealth, agentStatusPath, readAgentStatus, type AgentStatus } from '../../agent/status-file.js';
import { formatDuration } from '../../manifest/duration.js';
import { layout } from '../../state/layout.js';
import { contextFrom, outputFormat } from '../context.js';
import { renderDiagnostic } from '../views/diagnostics.js';

/** LSB's "program is not running", as `systemctl status` uses it. */
export const EXIT_NOT_RUNNING = 3;

export function statusCommand(): Command {
  return new Command('status')
    .description('show the agent: pid, uptime, last reconcile time and result, pending errors')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText('after', '\nExit status: 0 when an agent runs, 3 when none does.')
    .action(async (opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const found = await readAgentStatus(agentStatusPath(layout(ctx.root)));
      const running = found?.alive ?? false;
      const state = found ? agentHealth(found.status, running) : 'not-running';
      if (format === 'json') {
        ctx.out(JSON.stringify({ running, state, ...(found ? { agent: found.status } : {}) }, null, 2));
      } else if (!found || !running) {
        ctx.out(found ? `agent: not running (last seen as pid ${found.status.pid}, started ${found.status.startedAt})` : 'agent: not running (never started for this state root)');
      } else {
        const s = found.status;
        const uptime = formatDuration(Math.floor((Date.now() - Date.parse(s.startedAt)) / 1000) * 1000);
        const last = s.lastReconcile;
        ctx.out([
          `agent: running, pid ${s.pid}, up ${uptime}, version ${s.version}`,
          `state: ${state === 'ok' ? ctx.style('green', 'ok') : ctx.style('yellow', `degraded (${degradedWhy(s)})`)}`,
          `manifests: ${s.manifestDir}`,
          last ? `last reconcile: ${last.at} (${last.durationMs} ms): ${last.result}; ${last.summary}` : 'last reconcile: none yet',
          `reconciles: ${s.reconciles}`,
          s.pendingErrors.length ? `pending errors: ${s.pendingErrors.length}` : 'pending errors: none',
          ...s.pendingErrors.map((d) => renderDiagnostic(d, ctx.style)),
        ].join('\n'));
      }
      process.exitCode = running ? 0 : EXIT_NOT_RUNNING;
    });
}

function degradedWhy(s: AgentStatus): string {
  const why: string[] = [];
  if (s.pendingErrors.length > 0) why.push(`${s.pendingErrors.length} pending error${s.pendingErrors.length === 1 ? '' : 's'}`);
  if (s.lastReconcile && s.lastReconcile.result !== 'ok') why.push(`last pass ${s.lastReconcile.result}`);
  const failing = s.lastReconcile?.failing ?? [];
  if (failing.length > 0) why.push(`failing: ${failing.join(', ')}`);
  return why.join('; ');
}
