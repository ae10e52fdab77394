// What a manifest's `spec.hosts` selector is matched against: this host's name and labels.
// Labels come from /etc/corral/host-labels (`key=value` lines, `#` comments) and --host-label flags,
// the flags winning. The name is the kernel's unless --host-name (CORRAL_HOST_NAME) gives another.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { HostFacts } from '../manifest/host-selector.js';
import { CorralError } from '../errors.js';

export const HOST_LABELS_FILE = '/etc/corral/host-labels';

export function parseLabelLines(text: string, origin: string): Record<string, string> {
  const labels: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new CorralError('CLI_USAGE', `host label \`${line}\` is not key=value`, { source: { file: origin, line: i + 1, column: 1 } });
    labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return labels;
}

/**
 * The host name to match selectors against: `--host-name` or `CORRAL_HOST_NAME` when given (not
 * empty), else the kernel's (uname). Only corral's view changes; the machine's name is untouched.
 */
export function hostNameOption(given: string | undefined): string {
  if (given === undefined || given === '') return hostname();
  const name = given.trim();
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(name)) {
    throw new CorralError('CLI_USAGE', `host name \`${given}\` is not a host name (letters, digits, \`.\` and \`-\`, at most 253 characters)`);
  }
  return name;
}

export function hostFacts(flags: readonly string[] = [], labelsFile = HOST_LABELS_FILE, name = hostname()): HostFacts {
  let fileLabels: Record<string, string> = {};
  try {
    fileLabels = parseLabelLines(readFileSync(labelsFile, 'utf8'), labelsFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { hostname: name, labels: { ...fileLabels, ...parseLabelLines(flags.join('\n'), '--host-label') } };
}
