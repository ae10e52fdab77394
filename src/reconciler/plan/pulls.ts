// The images a plan pulls, each before the first container that needs it starts: a registry
// reference the store lacks (`pullPolicy: IfNotPresent`, the default), or one whose container
// starts with `pullPolicy: Always`. Derived from the changes, pure; the pull itself happens in the
// start (src/drivers/overlay/rootfs-port.ts › prepare). A resync that starts nothing pulls nothing.

import { isRegistryStoreName, pullReferenceOf } from '../../manifest/image-reference.js';
import type { Action, Change } from './types.js';

export type PullReason = 'not-in-store' | 'pull-always';

export interface PullStep {
  /** `registry/repository:tag`, or `…@sha256:…` when the manifest pins a digest. */
  readonly reference: string;
  readonly reason: { readonly code: PullReason; readonly text: string };
  /** The containers whose start pulls it (the first one to start does). */
  readonly containers: readonly string[];
}

const STARTS: ReadonlySet<Action> = new Set(['create', 'start', 'restart', 'recreate']);

export function plannedPulls(changes: readonly Change[]): PullStep[] {
  const steps = new Map<string, { reason: PullStep['reason']; containers: string[] }>();
  for (const c of changes) {
    const rootfs = c.after?.rootfs;
    if (!STARTS.has(c.action) || rootfs?.kind !== 'image' || !isRegistryStoreName(rootfs.name) || rootfs.pullPolicy === 'Never') continue;
    // The rootfs port gives no image digest for an image the store lacks.
    const missing = c.afterReferences['image'] === undefined;
    if (!missing && rootfs.pullPolicy !== 'Always') continue;
    const reference = pullReferenceOf(rootfs);
    const step = steps.get(reference) ?? {
      reason: missing
        ? { code: 'not-in-store' as const, text: 'not in the store' }
        : { code: 'pull-always' as const, text: '`pullPolicy: Always`: the registry\'s current digest for the tag, at every start' },
      containers: [],
    };
    step.containers.push(c.name);
    steps.set(reference, step);
  }
  return [...steps].map(([reference, s]) => ({ reference, ...s }));
}
