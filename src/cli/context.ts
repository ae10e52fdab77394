// Global options resolved once into a typed context that every subcommand receives (the one place
// where environment variables and defaults are read).

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CorralError } from '../errors.js';
import { DEFAULT_STATE_ROOT } from '../manifest/defaults.js';
import { hostFacts, hostNameOption, HOST_LABELS_FILE } from '../inputs/host-facts.js';
import type { HostFacts } from '../manifest/host-selector.js';
import type { LogFields, Logger, LogLevel } from '../logger.js';
import { createLogger, LOG_LEVELS } from './logging.js';
import { styler, type Styler } from './style.js';

export const DEFAULT_ROOT = DEFAULT_STATE_ROOT;

export interface CliContext {
  /** State root: records, rootfs layers, volumes, logs. */
  readonly root: string;
  /** Manifest directory: --dir, then CORRAL_MANIFESTS, then ./manifests. */
  readonly manifestDir: string;
  readonly logger: Logger;
  readonly host: () => HostFacts;
  readonly style: Styler;
  readonly out: (text: string) => void;
}

export interface GlobalOptions {
  root?: string;
  dir?: string;
  logLevel?: string;
  hostLabel?: string[];
  hostName?: string;
}

export function contextFrom(command: Command): CliContext {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const level = (opts.logLevel ?? process.env['CORRAL_LOG_LEVEL'] ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    throw new CorralError('CLI_USAGE', `--log-level \`${level}\` is not one of ${LOG_LEVELS.join(', ')}`);
  }
  let facts: HostFacts | undefined;
  return {
    root: resolve(opts.root ?? process.env['CORRAL_ROOT'] ?? DEFAULT_ROOT),
    manifestDir: resolve(opts.dir ?? process.env['CORRAL_MANIFESTS'] ?? 'manifests'),
    logger: lazyLogger(level as LogLevel, () => createLogger(level as LogLevel)),
    // The name `spec.hosts.hostnames` is matched against: several agents on one machine (a test
    // fleet, one agent per tenant) each need a name of their own.
    host: () => (facts ??= hostFacts(opts.hostLabel ?? [], HOST_LABELS_FILE, hostNameOption(opts.hostName ?? process.env['CORRAL_HOST_NAME']))),
    style: styler(process.stdout),
    out: (text) => {
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}

/**
 * A logger whose winston is made at the first line logged: a tenth of a second of start-up here
 * (seconds under the test VM's emulation) that `ps`, `exec` and a quiet `reconcile` never need,
 * though every command hands the logger to the drivers.
 */
export function lazyLogger(threshold: LogLevel, make: () => Logger): Logger {
  let real: Logger | undefined;
  const shown = (level: LogLevel): boolean => LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(threshold);
  const log = (level: LogLevel, message: string, fields?: LogFields): unknown => (shown(level) ? (real ??= make()).log(level, message, fields) : undefined);
  return {
    log,
    error: (message, fields) => log('error', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    info: (message, fields) => log('info', message, fields),
    debug: (message, fields) => log('debug', message, fields),
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export type OutputFormat = 'text' | 'json';

export function outputFormat(value: string | undefined): OutputFormat {
  const v = value ?? 'text';
  if (v !== 'text' && v !== 'json') throw new CorralError('CLI_USAGE', `--output \`${v}\` is not one of text, json`);
  return v;
}
