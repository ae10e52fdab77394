// Logs go to stderr through winston: readable lines on a TTY, JSON lines otherwise (journald,
// files, log shippers). stdout is reserved for command output, so `--output json` stays parseable.

import { createRequire } from 'node:module';
import type winstonModule from 'winston';
import type { LogLevel } from '../logger.js';

// Loaded when the first logger is made, not with this module: commands that never log start
// faster (winston is CommonJS, so a synchronous require keeps createLogger synchronous).
const requireModule = createRequire(import.meta.url);

export type { LogLevel } from '../logger.js';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export type Logger = winstonModule.Logger;

export function createLogger(level: LogLevel, tty = process.stderr.isTTY === true): Logger {
  const winston = requireModule('winston') as typeof winstonModule;
  const readable = winston.format.printf((info) => {
    const { level: lvl, message, timestamp, ...rest } = info as Record<string, unknown> & { level: string; message: unknown; timestamp?: string };
    const fields = Object.entries(rest)
      .filter(([k]) => typeof k === 'string')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${String(timestamp).slice(11, 23)} ${lvl} ${String(message)}${fields ? ` ${fields}` : ''}`;
  });
  return winston.createLogger({
    level,
    format: tty
      ? winston.format.combine(winston.format.timestamp(), winston.format.colorize(), readable)
      : winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: process.stderr })],
  });
}
