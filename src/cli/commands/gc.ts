// corral gc: removes container root filesystems, layers, host-root skeletons and staging files
// nothing references (src/drivers/overlay/gc.ts). "Live" containers come from the state store:
// main.ts may inject the reconciler's view; the default takes every container with a record in
// <root>/state/.

import { Command } from 'commander';
import { collectGarbage } from '../../drivers/overlay/index.js';
import { listDir } from '../../drivers/overlay/fs-util.js';
import { layout } from '../../state/layout.js';
import { contextFrom, outputFormat } from '../context.js';
import { plural } from '../views/diagnostics.js';
import { humanBytes } from './image.js';

export const GC_FORMAT_VERSION = 1;

export interface GcCommandDeps {
  readonly liveContainers?: (root: string) => Iterable<string>;
}

/** Containers with a state record (`state/<name>.json`): the default notion of "live". */
export function recordedContainers(root: string): string[] {
  return listDir(layout(root).stateDir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -5));
}

export function gcCommand(deps: GcCommandDeps = {}): Command {
  return new Command('gc')
    .description('delete container roots, layers and staging files that nothing references')
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { dryRun?: boolean; output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const live = (deps.liveContainers ?? recordedContainers)(ctx.root);
      const report = await collectGarbage(ctx.root, { liveContainers: live, dryRun: opts.dryRun ?? false });
      const changed = !opts.dryRun && (report.containers.length + report.layers.length + report.hostRoots.length + report.tmp.length) > 0;
      if (format === 'json') {
        ctx.out(JSON.stringify({ formatVersion: GC_FORMAT_VERSION, changed, dryRun: opts.dryRun ?? false, ...report }, null, 2));
        return;
      }
      const verb = opts.dryRun ? 'would remove' : 'removed';
      ctx.out(`${verb} ${plural(report.containers.length, 'container root')}, ${plural(report.layers.length, 'layer')}, ${plural(report.hostRoots.length, 'host-root skeleton')}, ${report.tmp.length} staging ${report.tmp.length === 1 ? 'directory' : 'directories'}; ${humanBytes(report.bytesFreed)}`);
      for (const k of report.kept) ctx.out(`${ctx.style('yellow', 'kept:')} ${k}`);
    });
}
