// corral volume ls|rm: named volumes under the state root. Removal is refused while a container
// uses the volume: by the state store's account when main.ts injects it, and in any case while
// any mount namespace on the host still has it mounted.

import { Command } from 'commander';
import { listVolumes, removeVolume, type VolumeUsers } from '../../drivers/overlay/index.js';
import { CorralError } from '../../errors.js';
import { contextFrom, outputFormat } from '../context.js';
import { humanBytes } from './image.js';

export const VOLUME_FORMAT_VERSION = 1;

export interface VolumeCommandDeps {
  readonly volumeUsers?: (root: string) => VolumeUsers;
}

export function volumeCommand(deps: VolumeCommandDeps = {}): Command {
  const command = new Command('volume').description('list and remove named volumes');
  command.addCommand(new Command('ls')
    .description('list named volumes and their disk usage')
    .option('-o, --output <format>', 'text or json', 'text')
    .action((opts: { output?: string }, sub: Command) => {
      const ctx = contextFrom(sub);
      const volumes = listVolumes(ctx.root, { usage: true });
      if (outputFormat(opts.output) === 'json') {
        ctx.out(JSON.stringify({ formatVersion: VOLUME_FORMAT_VERSION, volumes }, null, 2));
        return;
      }
      if (volumes.length === 0) {
        ctx.out('no volumes');
        return;
      }
      const width = Math.max(4, ...volumes.map((v) => v.name.length));
      ctx.out([`${'NAME'.padEnd(width)}  SIZE      PATH`, ...volumes.map((v) => `${v.name.padEnd(width)}  ${humanBytes(v.bytes ?? 0).padEnd(8)}  ${v.path}`)].join('\n'));
    }));
  command.addCommand(new Command('rm')
    .description('delete named volumes and their data (refused while in use)')
    .argument('<names...>', 'volume names')
    .option('-o, --output <format>', 'text or json', 'text')
    .action((names: string[], opts: { output?: string }, sub: Command) => {
      const ctx = contextFrom(sub);
      const format = outputFormat(opts.output);
      const users = deps.volumeUsers?.(ctx.root) ?? (() => []);
      const removed = names.map((name) => ({ name, ...removeVolume(ctx.root, name, users) }));
      if (format === 'json') ctx.out(JSON.stringify({ formatVersion: VOLUME_FORMAT_VERSION, changed: removed.length > 0, removed }, null, 2));
      else for (const r of removed) ctx.out(`removed volume ${r.name} (${humanBytes(r.bytes)})`);
    }));
  command.action(() => {
    throw new CorralError('CLI_USAGE', 'missing subcommand: corral volume ls|rm');
  });
  return command;
}
