// corral reconcile --once: converge this host to the manifests, once, and report. What config
// management tools run (exit codes and JSON per docs/architecture.md, "Exit codes and output for
// config management").

import { Command } from 'commander';
import { EventLog, eventLogPath, eventsFromPass } from '../../agent/events.js';
import { waitForHealth } from '../../agent/health.js';
import { CorralError, type Disposable } from '../../errors.js';
import { sameJsonValue } from '../../manifest/hash.js';
import type { ApplyResult } from '../../reconciler/apply.js';
import type { Change } from '../../reconciler/plan/types.js';
import { reconcileOnce } from '../../reconciler/reconcile.js';
import type { ContainerRecord } from '../../state/record.js';
import { contextFrom, outputFormat } from '../context.js';
import { filesystemOf, HOST_FAILURE_HINTS } from '../environment.js';
import { exitCodeFor } from '../exit-codes.js';
import { defaultParallelism, durationOption, loadDesired, lock, lockTimeoutOption, openHost, positiveInt, type OpenHost } from '../open-host.js';
import type { Styler } from '../style.js';
import { renderReport } from '../views/plan-human.js';
import { buildReport } from '../views/plan-json.js';
import { progressHooks } from '../views/progress.js';

export function reconcileCommand(): Command {
  return new Command('reconcile')
    .description('converge this host to the manifests: create, update, restart, remove containers')
    .option('--once', 'run one pass and exit (continuous reconciling is `corral agent`)')
    .option('--dry-run', 'plan only: report what would change, change nothing')
    .option('-o, --output <format>', 'text or json', 'text')
    .option('--detailed-exitcode', 'exit 0: no changes and nothing failing, 2: changes applied, 4: failures, 6: changes and failures, 1: error')
    .option('--allow-empty', 'remove every container when the manifest set is empty or missing')
    .addOption(lockTimeoutOption())
    .option('--parallel <n>', 'containers worked on at once (default: twice the number of CPUs)')
    .option('--step-timeout <duration>', 'deadline of one driver step', '120s')
    .option('--wait', 'after starting containers that have a healthcheck, run it until each is healthy or unhealthy (no agent needed); unhealthy or still starting at --wait-timeout is a failure')
    .option('--wait-timeout <duration>', 'how long --wait waits for health', '5m')
    .addHelpText('after', [
      '',
      'Failures are failed actions and failing containers: one that should run but waits for a retry (a failed',
      'start, a crash loop, failed health checks in backoff) is no change, but the host is not converged.',
      'Exit status without --detailed-exitcode: 0 success, 1 error or failures (--dry-run: 1 on errors only).',
      'JSON (format 2): {changed, failing, actions: [{name, action, reasons: [{code, text}], diff, result}], networks: [{name, action, reasons, result}], pulls, errors, warnings},',
      'and with --wait `health: [{name, status, failures, output}]`;',
      'use `changed` for Ansible\'s changed_when, and a non-empty `failing` (or exit 4/6) for failed_when.',
    ].join('\n'))
    .action(async (opts: {
      once?: boolean; dryRun?: boolean; output?: string; detailedExitcode?: boolean; allowEmpty?: boolean;
      lockTimeout?: string; parallel?: string; stepTimeout?: string; wait?: boolean; waitTimeout?: string;
    }, command: Command) => {
      if (!opts.once) throw new CorralError('CLI_USAGE', '`corral reconcile` needs --once', { hint: 'for continuous reconciling run `corral agent`' });
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      // Parsed before anything changes: a typo must not be found after the apply.
      const waitMs = opts.wait ? durationOption('--wait-timeout', opts.waitTimeout ?? '5m') : null;
      const host = await openHost(ctx);
      let held = opts.dryRun ? null : await lock(ctx, 'corral reconcile --once', opts.lockTimeout);
      try {
        const set = await loadDesired(ctx, undefined, host.layout);
        const outcome = await reconcileOnce(set, host.ports, host.store, {
          dryRun: opts.dryRun ?? false,
          allowEmpty: opts.allowEmpty ?? false,
          parallelism: positiveInt('--parallel', opts.parallel, defaultParallelism()),
          stepTimeoutMs: durationOption('--step-timeout', opts.stepTimeout ?? '120s'),
        }, format === 'text' ? progressHooks(process.stderr, ctx.logger) : {});
        if (!opts.dryRun) {
          await new EventLog(eventLogPath(host.layout)).append(eventsFromPass(outcome.plan, outcome.applied?.results ?? null, outcome.diagnostics, new Date(), outcome.exits, outcome.applied?.networks ?? []));
        }
        // Every container's files and records live on the state root's filesystem: name it.
        const diagnostics = outcome.diagnostics.map((d) => (d.code === 'NO_SPACE' || d.code === 'READ_ONLY_FILESYSTEM') && !d.detail
          ? { ...d, detail: `state root \`${ctx.root}\` on ${filesystemOf(ctx.root)}`, hint: HOST_FAILURE_HINTS[d.code] } : d);
        // Waiting for health holds no lock: the agent and `corral stop` may run meanwhile.
        held?.dispose();
        held = null;
        const waited = waitMs !== null && outcome.applied ? await waitForStarted(host, outcome.plan.changes, outcome.applied, waitMs, () => lock(ctx, 'corral reconcile --once --wait', opts.lockTimeout)) : null;
        const report = {
          ...buildReport(opts.dryRun ? 'plan' : 'reconcile', outcome.plan, diagnostics, outcome.applied?.results ?? null, outcome.changed, outcome.applied?.networks ?? []),
          ...(waited ? { health: waited } : {}),
        };
        ctx.out(format === 'json' ? JSON.stringify(report, null, 2) : [renderReport(report, ctx.style), ...(waited ? [renderHealth(waited, ctx.style)] : [])].join('\n'));
        const unhealthy = (waited ?? []).some((h) => h.status !== 'healthy');
        process.exitCode = exitCodeFor(
          { error: outcome.inputErrors, changed: outcome.changed, failures: outcome.failures || unhealthy, failing: report.failing.length > 0 },
          opts.detailedExitcode ?? false,
          opts.dryRun ? 'plan' : 'apply',
        );
      } finally {
        held?.dispose();
      }
    });
}

/** What `--wait` found: each container started in this pass that has a healthcheck. */
export interface WaitedHealth {
  readonly name: string;
  /** `starting`: neither healthy nor unhealthy when --wait-timeout passed. */
  readonly status: 'healthy' | 'unhealthy' | 'starting';
  readonly failures: number;
  readonly output: string;
}

const STARTS = new Set(['create', 'start', 'restart', 'recreate']);

/** Runs the health checks of what this pass started, all at once, and records what they found. */
async function waitForStarted(host: OpenHost, changes: readonly Change[], applied: ApplyResult, timeoutMs: number, relock: () => Promise<Disposable>): Promise<WaitedHealth[]> {
  const deadline = Date.now() + timeoutMs;
  const ok = new Set(applied.results.filter((r) => r.ok).map((r) => r.name));
  const started = changes.filter((c) => STARTS.has(c.action) && ok.has(c.name))
    .map((c) => applied.records.get(c.name))
    .filter((r): r is ContainerRecord => r !== null && r !== undefined && r.status === 'running' && r.spec.healthcheck !== null && r.runtime !== null);
  const found = await Promise.all(started.map(async (r) => ({ r, health: await waitForHealth(host.ports.runtime, r, deadline) })));
  // What was found is what `ps` shows (an agent, if one runs, takes over from there), for the run
  // that was checked: not for a process started since by someone else.
  const held = await relock();
  try {
    for (const { r, health } of found) {
      const now = await host.store.get(r.name);
      if (health && now && now.startedAt === r.startedAt && sameJsonValue(now.runtime, r.runtime)) await host.store.put({ ...now, health });
    }
  } finally {
    held.dispose();
  }
  return found.map(({ r, health }) => ({ name: r.name, status: health?.status ?? 'starting', failures: health?.failures ?? 0, output: health?.output ?? '' }));
}

function renderHealth(waited: readonly WaitedHealth[], style: Styler): string {
  if (waited.length === 0) return style('dim', 'Health: nothing started has a healthcheck.');
  const each = waited.map((h) => (h.status === 'healthy' ? style('green', `${h.name} healthy`)
    : h.status === 'unhealthy' ? style('red', `${h.name} unhealthy (${h.failures} failures${h.output ? `: ${h.output.trim().split('\n').pop()}` : ''})`)
      : style('yellow', `${h.name} still starting at --wait-timeout`)));
  return `Health: ${each.join(', ')}.`;
}
