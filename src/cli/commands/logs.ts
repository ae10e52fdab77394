// corral logs NAME [-f] [--tail N]: the container's captured stdout and stderr, from the files
// its monitor writes (rotated by size: container.log, container.log.1, …).

import { createReadStream, existsSync, statSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { CorralError } from '../../errors.js';
import { layout } from '../../state/layout.js';
import { contextFrom } from '../context.js';
import { positiveInt } from '../open-host.js';
import { checkName } from '../names.js';

const LOG = 'container.log';

export function logFiles(dir: string): string[] {
  const files: string[] = [];
  for (let i = 100; i >= 1; i--) if (existsSync(join(dir, `${LOG}.${i}`))) files.push(join(dir, `${LOG}.${i}`));
  if (existsSync(join(dir, LOG))) files.push(join(dir, LOG));
  return files;
}

/** The last `n` lines across the rotated files, oldest first. */
export async function tailLines(files: readonly string[], n: number): Promise<string> {
  const lines: string[] = [];
  for (let i = files.length - 1; i >= 0 && lines.length <= n; i--) {
    const text = await readFile(files[i]!, 'utf8');
    const own = text.split('\n');
    if (own[own.length - 1] === '') own.pop();
    lines.unshift(...own);
  }
  return lines.slice(-n).map((l) => `${l}\n`).join('');
}

export function logsCommand(): Command {
  return new Command('logs')
    .description("print a container's output (stdout and stderr, as captured by its monitor)")
    .argument('<name>', 'container name')
    .option('-f, --follow', 'keep printing new output until interrupted')
    .option('-n, --tail <lines>', 'only the last N lines')
    .action(async (rawName: string, opts: { follow?: boolean; tail?: string }, command: Command) => {
      const name = checkName(rawName);
      const ctx = contextFrom(command);
      const l = layout(ctx.root);
      // The logs are the monitor's files: readable even when the container's record is not.
      if (!existsSync(l.container(name).logs) && !existsSync(l.record(name))) {
        throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\``, { hint: 'see `corral ps`' });
      }
      const dir = l.container(name).logs;
      const files = logFiles(dir);
      if (opts.tail !== undefined) {
        process.stdout.write(await tailLines(files, positiveInt('--tail', opts.tail, 10)));
      } else {
        for (const f of files) process.stdout.write(await readFile(f));
      }
      if (!opts.follow) return;
      await follow(join(dir, LOG));
    });
}

/** Prints what is appended to `path`, reopening it when the monitor rotates it. */
async function follow(path: string): Promise<void> {
  let offset = existsSync(path) ? statSync(path).size : 0;
  let inode = existsSync(path) ? statSync(path).ino : 0;
  let reading = false;
  const pump = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      if (!existsSync(path)) return;
      const s = statSync(path);
      if (s.ino !== inode || s.size < offset) {
        inode = s.ino;
        offset = 0;
      }
      if (s.size > offset) {
        await new Promise<void>((resolve, reject) => {
          createReadStream(path, { start: offset, end: s.size - 1 }).on('data', (chunk) => process.stdout.write(chunk)).on('end', resolve).on('error', reject);
        });
        offset = s.size;
      }
    } finally {
      reading = false;
    }
  };
  // The directory is watched, not the file, so a rotation (rename + new file) is seen too.
  const watcher = watch(join(path, '..'), () => void pump());
  await new Promise<void>((resolve) => {
    const stop = () => {
      watcher.close();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
