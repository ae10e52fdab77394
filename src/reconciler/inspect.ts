// inspect: the records plus what the host really runs → Actual. Orphans are what corral owns on
// the host (cgroups under its parent, directories under its root, monitors) that no record
// explains: leftovers of a crash between two steps, found and handed to the plan for cleanup.

import type { Actual, ActualContainer, Orphan } from './plan/types.js';
import type { Ports } from './ports.js';
import type { ContainerRecord } from '../state/record.js';

/**
 * How much to look at. `full`: everything, every cgroup knob and every orphan. `light`: what can
 * change without the agent hearing of it through an event is left to a later pass (a limit
 * written behind corral's back, a cgroup a crash left): the processes, exits and roots are still
 * read. A `batch` reads the knobs of the containers it names, and looks for orphans if asked.
 * The agent runs light passes for its events (a manifest edit, an exit, a health change), full
 * ones at start, on SIGHUP and after a failure, and spreads the knobs over its resyncs in
 * batches: with 1,000 containers, reading every knob and ownership mark was most of a pass.
 */
export type InspectScope = 'full' | 'light' | InspectBatch;

export interface InspectBatch {
  /** Whose cgroup knobs are read. */
  readonly drift: (name: string) => boolean;
  /** Whether orphans are looked for (cgroups, monitors, directories and networks no record explains). */
  readonly orphans: boolean;
  /**
   * Whose process and root are not read: the agent's exit watch on the monitor of that very
   * start has been armed and silent since (src/agent/agent.ts). Any end of the monitor, the
   * container's own or a kill of the monitor, closes the FIFO the watch waits on, so a silent
   * watch means the process runs as recorded; its root is taken as there, as a light pass takes
   * its cgroup. With 500 containers, reading every process at every pass was most of an idle
   * agent's CPU.
   */
  readonly vouched?: (record: ContainerRecord) => boolean;
}

/** `unknown`: names whose record is unreadable; what the host has of them is not an orphan. */
export async function inspect(records: readonly ContainerRecord[], serial: number, ports: Ports, unknown: readonly string[] = [], scope: InspectScope = 'full'): Promise<Actual> {
  const driftOf = scope === 'full' ? () => true : scope === 'light' ? () => false : scope.drift;
  const orphansToo = scope === 'full' || (scope !== 'light' && scope.orphans);
  // The CLI's light look (`ps`) still lists monitors and directories; the agent's batches say.
  const listedOrphans = typeof scope === 'string' || scope.orphans;
  const vouched = typeof scope === 'string' ? () => false : scope.vouched ?? (() => false);
  // One listing of the cgroup parents answers most presence checks of a drift read. It lists
  // every container (about 1 µs per entry, against 3 for asking after one directory), so it is
  // taken only when most of them are read: a full pass, not an agent's resync batch.
  const drifting = records.filter((r) => r.cgroup !== null && driftOf(r.name)).length;
  const survey = drifting > 16 && drifting * 2 > records.length ? await ports.cgroups.survey?.() : undefined;
  const containers: ActualContainer[] = await Promise.all(records.map(async (record): Promise<ActualContainer> => {
    const trusted = record.status === 'running' && record.runtime !== null && vouched(record);
    const [status, drift, rootfsPresent] = await Promise.all([
      trusted ? Promise.resolve({ process: 'running' as const, exit: null, runtime: record.runtime, startedAt: record.startedAt }) : ports.runtime.status(record.name, record.runtime),
      // Light: the cgroup the record names is taken as there, as it was set.
      record.cgroup === null ? Promise.resolve(null) : driftOf(record.name) ? ports.cgroups.drift(record.cgroup, record.spec.resources, record.spec.devices, survey) : Promise.resolve([]),
      trusted || ports.rootfs.exists(record.name),
    ]);
    // Whether an exit was an OOM kill is the monitor's to say: it compares the memory cgroup's
    // counter across the container's own lifetime, which the cumulative counter here cannot.
    const exit = status.exit;
    return {
      record,
      live: {
        process: status.process,
        exit,
        cgroupPresent: drift !== null,
        drift: drift ?? [],
        rootfsPresent,
        runtime: status.runtime,
        startedAt: status.startedAt,
      },
    };
  }));

  const known = new Set([...records.map((r) => r.name), ...unknown]);
  const none = Promise.resolve([] as string[]);
  const [shims, networks, cgroups, dirs, named] = await Promise.all([
    listedOrphans ? ports.runtime.list() : none, listedOrphans ? ports.network.list() : none, orphansToo ? ports.cgroups.list(known, survey) : none, listedOrphans ? ports.rootfs.list(known) : none, ports.network.networks(),
  ]);
  const orphan = (kind: Orphan['kind'], detail: string) => (name: string): Orphan => ({ kind, name, detail });
  // In teardown order (apply/steps.ts): a monitor goes before the cgroup it sits in.
  const orphans: Orphan[] = [
    ...shims.filter((n) => !known.has(n)).map(orphan('shim', 'a container monitor with no state record')),
    ...networks.filter((n) => !known.has(n)).map(orphan('network', 'network resources with no state record')),
    ...cgroups.filter((n) => !known.has(n)).map(orphan('cgroup', 'a cgroup under corral\'s parent with no state record')),
    ...dirs.filter((n) => !known.has(n)).map(orphan('rootfs', 'a container directory with no state record')),
  ];
  return { containers, networks: named, orphans, serial, unknown };
}
