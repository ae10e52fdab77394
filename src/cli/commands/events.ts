// corral events [-f]: the event log as JSON lines (created, restarted, OOM-killed, drift corrected…).

import { createReadStream, existsSync, statSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { eventLogPath } from '../../agent/events.js';
import { Command } from 'commander';
import { layout } from '../../state/layout.js';
import { contextFrom } from '../context.js';
import { positiveInt } from '../open-host.js';

export function eventsCommand(): Command {
  return new Command('events')
    .description('print what corral did and saw, one JSON object per line')
    .option('-f, --follow', 'keep printing new events until interrupted')
    .option('-n, --tail <n>', 'only the last N events')
    .option('--container <name>', 'only events of this container')
    .option('--network <name>', 'only events of this network (`kind: Network`)')
    .action(async (opts: { follow?: boolean; tail?: string; container?: string; network?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const path = eventLogPath(layout(ctx.root));
      const keep = (line: string): boolean => {
        if (line === '') return false;
        if (!opts.container && !opts.network) return true;
        const event = JSON.parse(line) as { container?: string; network?: string };
        return (!opts.container || event.container === opts.container) && (!opts.network || event.network === opts.network);
      };
      const text = existsSync(path) ? await readFile(path, 'utf8') : '';
      let lines = text.split('\n').filter(keep);
      if (opts.tail !== undefined) lines = lines.slice(-positiveInt('--tail', opts.tail, 20));
      if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
      if (!opts.follow) return;
      let offset = Buffer.byteLength(text);
      let partial = '';
      const pump = () => {
        if (!existsSync(path)) return;
        const size = statSync(path).size;
        if (size < offset) offset = 0;
        if (size === offset) return;
        const from = offset;
        offset = size;
        createReadStream(path, { start: from, end: size - 1, encoding: 'utf8' }).on('data', (chunk) => {
          const parts = (partial + String(chunk)).split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts.filter(keep)) process.stdout.write(`${line}\n`);
        });
      };
      const watcher = watch(dirname(path), () => pump());
      await new Promise<void>((resolve) => {
        const stop = () => { watcher.close(); resolve(); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
