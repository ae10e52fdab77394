// The composition root: the one place that knows both the reconciler's ports and the drivers
// that implement them. It only wires; each driver's `port.ts` does the adapting. Adding a driver
// (docs/architecture.md, "Adding a driver: bridge networking") changes one line here.

import { type SubidConfig, userRangeSlots } from './state/subid-pool.js';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { userNamespaceSupport } from './drivers/namespaces/idmap-support.js';
import { unsupportedNetworkFields } from './drivers/network/port.js';
import type { Diagnostic } from './errors.js';
import type { Logger } from './logger.js';
import type { ContainerSpec } from './manifest/spec.js';
import type { Ports } from './reconciler/ports.js';
import type { Layout } from './state/layout.js';
import { StateStore } from './state/store.js';

export interface HostOptions {
  /** Name of corral's own cgroup parent in each hierarchy (src/cli/open-host.ts decides it). */
  readonly cgroupParent: string;
  /** The state root's id (src/state/root-id.ts): the cgroups driver acts on this root's cgroups only. */
  readonly rootId: string;
  /** The default network's bridge and nftables table (src/cli/open-host.ts decides them). */
  readonly network: { readonly bridge: string; readonly table: string };
  /** Where corral's subordinate id pool is kept (src/state/subid-pool.ts). */
  readonly subid: SubidConfig;
  /** Only looking (`ps`, `inspect`): nothing is created on the host (src/drivers/cgroups/manager.ts). */
  readonly observeOnly?: boolean;
  /**
   * The store the caller writes records with: the cgroup port reads a record back right after a
   * start wrote it, which the store answers from what it wrote.
   */
  readonly store?: StateStore;
}

export async function createPorts(layout: Layout, logger: Logger, options: HostOptions): Promise<Ports> {
  // Loaded here, not above: koffi and the shim are not needed by `validate` and `--help`.
  const [{ openCgroupManager }, { cgroupPort }, { overlayRootfsPort }, { namespacesRuntimePort }, { bridgeNetworkPort }] = await Promise.all([
    import('./drivers/cgroups/index.js'), import('./drivers/cgroups/port.js'), import('./drivers/overlay/rootfs-port.js'), import('./drivers/namespaces/port.js'),
    import('./drivers/network/bridge/port.js'),
  ]);
  const store = options.store ?? new StateStore(layout);
  const cgroups = cgroupPort(await openCgroupManager({ parentName: options.cgroupParent, rootId: options.rootId, createParents: options.observeOnly !== true }), {
    records: { has: (name) => existsSync(layout.record(name)), handle: async (name) => (await store.get(name))?.cgroup ?? null },
    warn: (message, fields) => logger.warn(message, fields),
  });
  return {
    rootfs: overlayRootfsPort(layout.root),
    cgroups,
    network: bridgeNetworkPort({ root: layout.root, rootId: options.rootId, names: options.network, containerDir: (name) => layout.container(name).dir }),
    runtime: namespacesRuntimePort({ layout, logger, placementOf: (name) => cgroups.placementOf(name) }),
    userRanges: userRangeSlots(layout.root, options.subid),
  };
}

/**
 * What the wired drivers implement, asked of a spec without touching the host: manifest loading
 * (`validate`, `plan`, the agent) refuses the rest with NOT_SUPPORTED before any plan is made.
 */
export function supportChecks(): (spec: ContainerSpec) => Diagnostic[] {
  const userns = userNamespaceSupport(release());
  return (spec) => [...unsupportedNetworkFields(spec), ...userns(spec)];
}
