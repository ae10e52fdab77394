// Builders for pure plan tests: desired containers from manifest text, records as the store
// would hold them, live facts as inspect would report them.

import { specHash } from '../../src/manifest/hash.js';
import type { Desired, DesiredContainer, LiveFacts } from '../../src/reconciler/plan/types.js';
import type { ContainerRecord } from '../../src/state/record.js';
import { manifest } from './memory-source.js';
import { loadSet } from './schema.js';

export async function desiredOf(files: Record<string, string>): Promise<Desired> {
  const set = await loadSet(files);
  return {
    containers: set.containers.map((c): DesiredContainer => ({ spec: c.spec, hash: specHash(c.spec), references: {}, origin: c.origin, hostDiagnostics: [], userNamespaceByDefault: c.userNamespaceByDefault })),
    elsewhere: set.elsewhere.map((c) => c.spec.name),
    invalidNames: set.invalidNames,
    brokenFiles: set.brokenFiles,
    missing: set.missing,
    diagnostics: set.diagnostics,
  };
}

export async function desiredOne(name: string, extra = ''): Promise<DesiredContainer> {
  return (await desiredOf({ [`/m/${name}.yaml`]: manifest(name, extra) })).containers[0]!;
}

export const T0 = new Date('2026-11-29T10:00:00.000Z');

export function recordFor(d: DesiredContainer, patch: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    format: 1,
    name: d.spec.name,
    status: 'running',
    desiredState: 'running',
    spec: d.spec,
    hash: d.hash,
    references: d.references,
    origin: d.origin,
    createdAt: T0.toISOString(),
    startedAt: T0.toISOString(),
    cgroup: null,
    rootfs: null,
    network: null,
    runtime: null,
    userRange: null,
    restarts: 0,
    lastExit: null,
    backoff: { delayMs: 0, nextStartAt: null },
    health: null,
    error: null,
    serial: 1,
    ...patch,
  };
}

export const RUNNING: LiveFacts = { process: 'running', exit: null, cgroupPresent: true, drift: [], rootfsPresent: true, runtime: null, startedAt: null };

export function exited(code: number | null, at = T0, signal: string | null = null): LiveFacts {
  return { process: 'exited', exit: { code, signal, oomKilled: false, at: at.toISOString() }, cgroupPresent: true, drift: [], rootfsPresent: true, runtime: null, startedAt: null };
}
