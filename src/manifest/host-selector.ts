// Does a manifest's `spec.hosts` selector pick this host? Pure.

import type { HostSelector } from './spec.js';

export interface HostFacts {
  readonly hostname: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Shell-style wildcard match (`*`, `?`), case-insensitive as host names are. */
export function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(text);
}

export function selectsHost(selector: HostSelector, host: HostFacts): boolean {
  if (selector.hostnames.length > 0 && !selector.hostnames.some((p) => globMatch(p, host.hostname))) return false;
  return Object.entries(selector.labels).every(([k, v]) => host.labels[k] === v);
}
