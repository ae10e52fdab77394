// corral plan: what `reconcile --once` would do, and why. Changes nothing, takes no lock.

import { Command } from 'commander';
import { reconcileOnce } from '../../reconciler/reconcile.js';
import { contextFrom, outputFormat } from '../context.js';
import { exitCodeFor } from '../exit-codes.js';
import { defaultParallelism, DEFAULT_STEP_TIMEOUT_MS, loadDesired, openHost } from '../open-host.js';
import { renderReport } from '../views/plan-human.js';
import { buildReport } from '../views/plan-json.js';

export function planCommand(): Command {
  return new Command('plan')
    .description('show what reconcile would change on this host, and why; changes nothing')
    .option('-o, --output <format>', 'text or json', 'text')
    .option('--detailed-exitcode', 'exit 0: nothing would change and every container runs as wanted, 2: changes pending, 4: containers failing, 6: both, 1: error')
    .option('--allow-empty', 'plan to remove every container when the manifest set is empty or missing')
    .option('-v, --verbose', 'also list containers with nothing to do')
    .addHelpText('after', [
      '',
      'Exit status: 0 success, 1 error. With --detailed-exitcode: 0 no changes and nothing failing (a converged host),',
      '2 changes pending, 4 containers failing (a failed start or a crash waiting for its retry backoff: no change to',
      'make now, but not a converged host), 6 both, 1 error.',
      'JSON (format 2): {changed, failing, actions: [{name, action, reasons: [{code, text}], diff, notBefore}], networks: [{name, action, reasons}], errors, warnings}.',
    ].join('\n'))
    .action(async (opts: { output?: string; detailedExitcode?: boolean; allowEmpty?: boolean; verbose?: boolean }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      // Like ps: looking creates nothing on the host (no cgroup parent on a root's first plan).
      const host = await openHost(ctx, { observeOnly: true });
      const set = await loadDesired(ctx, undefined, host.layout);
      const outcome = await reconcileOnce(set, host.ports, host.store, {
        dryRun: true, allowEmpty: opts.allowEmpty ?? false, parallelism: defaultParallelism(), stepTimeoutMs: DEFAULT_STEP_TIMEOUT_MS,
      });
      const report = buildReport('plan', outcome.plan, outcome.diagnostics, null);
      ctx.out(format === 'json' ? JSON.stringify(report, null, 2) : renderReport(report, ctx.style, opts.verbose ?? false));
      process.exitCode = exitCodeFor({ error: outcome.inputErrors, changed: report.changed, failures: false, failing: report.failing.length > 0 }, opts.detailedExitcode ?? false, 'plan');
    });
}
