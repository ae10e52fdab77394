// corral plan: what `reconcile --once` would do, and why. Changes nothing, takes no lock.

import { Command } from 'commander';
import { reconcileOnce } from '../../reconciler/reconcile.js';
import { contextFrom, outputFormat } from '../context.js';
import { exitCodeFor } from '../exit-codes.js';
import { DEFAULT_PARALLELISM, DEFAULT_STEP_TIMEOUT_MS, loadDesired, openHost } from '../host.js';
import { renderReport } from '../views/plan-human.js';
import { buildReport } from '../views/plan-json.js';

export function planCommand(): Command {
  return new Command('plan')
    .description('show what reconcile would change on this host, and why; changes nothing')
    .option('-o, --output <format>', 'text or json', 'text')
    .option('--detailed-exitcode', 'exit 0 when nothing would change, 2 when something would, 1 on errors')
    .option('--allow-empty', 'plan to remove every container when the manifest set is empty or missing')
    .option('-v, --verbose', 'also list containers with nothing to do')
    .addHelpText('after', '\nExit status: 0 success (no changes with --detailed-exitcode), 2 changes pending (--detailed-exitcode), 1 error.')
    .action(async (opts: { output?: string; detailedExitcode?: boolean; allowEmpty?: boolean; verbose?: boolean }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const host = await openHost(ctx);
      const set = await loadDesired(ctx);
      const outcome = await reconcileOnce(set, host.ports, host.store, {
        dryRun: true, allowEmpty: opts.allowEmpty ?? false, parallelism: DEFAULT_PARALLELISM, stepTimeoutMs: DEFAULT_STEP_TIMEOUT_MS,
      });
      const report = buildReport('plan', outcome.plan, outcome.diagnostics, null);
      ctx.out(format === 'json' ? JSON.stringify(report, null, 2) : renderReport(report, ctx.style, opts.verbose ?? false));
      process.exitCode = exitCodeFor({ error: outcome.inputErrors, changed: report.changed, failures: false }, opts.detailedExitcode ?? false);
    });
}
