// corral agent: watch the manifest directory and keep the host converged until stopped.

import { Command } from 'commander';
import { Agent } from '../../agent/agent.js';
import { AgentMetrics } from '../../agent/metrics.js';
import { ManifestCache } from '../../manifest/manifest-set.js';
import { checkoutInProgress, findGitDirs, gitCheckout } from '../../inputs/git-checkout.js';
import { DEFAULT_SETTLE } from '../../watch/settle.js';
import { contextFrom } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { defaultParallelism, durationOption, loadDesired, lockTimeoutOption, openHost, positiveInt } from '../open-host.js';
import { VERSION } from '../version.js';

export function agentCommand(): Command {
  return new Command('agent')
    .description('run continuously: watch the manifests, converge on every change, restart crashed containers, undo drift')
    .option('--resync <duration>', 'reconcile at least this often, even without events', '30s')
    .option('--settle <duration>', 'quiet time after file changes before reconciling', `${DEFAULT_SETTLE.quietMs}ms`)
    .option('--allow-empty', 'remove every container when the manifest set is empty or missing')
    .option('--stop-containers-on-exit', 'stop the containers when the agent stops (default: leave them running)')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464)')
    .addOption(lockTimeoutOption('5m', 'how long a pass waits for another corral holding the state lock'))
    .option('--parallel <n>', 'containers worked on at once (default: twice the number of CPUs)')
    .option('--step-timeout <duration>', 'deadline of one driver step', '120s')
    .addHelpText('after', '\nSignals: SIGTERM/SIGINT finish the step in flight and exit 0, containers keep running; SIGHUP reconciles now.')
    .action(async (opts: {
      resync: string; settle: string; allowEmpty?: boolean; stopContainersOnExit?: boolean; metrics?: string;
      lockTimeout: string; parallel?: string; stepTimeout: string;
    }, command: Command) => {
      const ctx = contextFrom(command);
      const host = await openHost(ctx);
      const metrics = opts.metrics ? new AgentMetrics({ host: ctx.host().hostname }) : null;
      if (metrics && opts.metrics) ctx.logger.info(`metrics at http://${await metrics.listen(opts.metrics)}/metrics`);
      const cache = new ManifestCache();
      const agent = new Agent(host.ports, host.layout, ctx.logger, {
        store: host.store,
        manifestDir: ctx.manifestDir,
        loadManifests: () => loadDesired(ctx, cache),
        resyncMs: durationOption('--resync', opts.resync),
        settle: { quietMs: durationOption('--settle', opts.settle), maxWaitMs: DEFAULT_SETTLE.maxWaitMs },
        allowEmpty: opts.allowEmpty ?? false,
        parallelism: positiveInt('--parallel', opts.parallel, defaultParallelism()),
        stepTimeoutMs: durationOption('--step-timeout', opts.stepTimeout),
        lockTimeoutMs: durationOption('--lock-timeout', opts.lockTimeout),
        passTimeoutMs: 30 * 60_000,
        stopContainersOnExit: opts.stopContainersOnExit ?? false,
        version: VERSION,
        metrics,
        host: ctx.host(),
        checkout: () => gitCheckout(ctx.manifestDir),
        // Looked up each time: the directory may become a checkout (a clone into place) while the agent runs.
        checkoutBusy: () => {
          const dirs = findGitDirs(ctx.manifestDir);
          return dirs !== null && checkoutInProgress(dirs);
        },
        startup: async (records) => {
          // What no record references any more (layers of removed images, writable layers of
          // containers removed while corral was down) goes before the first pass.
          const { collectGarbage } = await import('../../drivers/overlay/gc.js');
          const report = await collectGarbage(host.layout.root, { liveContainers: records.map((r) => r.name) });
          ctx.logger.info('garbage collected', { bytesFreed: report.bytesFreed, layers: report.layers.length, containers: report.containers.length });
        },
      });
      const stop = new AbortController();
      const onStop = (sig: string) => {
        ctx.logger.info(`${sig}: finishing the step in flight, then exiting`);
        stop.abort();
      };
      process.on('SIGTERM', () => onStop('SIGTERM'));
      process.on('SIGINT', () => onStop('SIGINT'));
      process.on('SIGHUP', () => agent.trigger('SIGHUP'));
      await agent.run(stop.signal);
      // Everything of the agent's own is closed by now, but a health check in flight is an exec
      // helper that RuntimePort.exec gives no way to cancel: it would hold the process until the
      // check's timeout. Exiting hangs it up (the shim's parent-death signal); the turn waited
      // first lets the logger write the last line.
      await new Promise((resolve) => setImmediate(resolve));
      process.exit(EXIT.OK);
    });
}
