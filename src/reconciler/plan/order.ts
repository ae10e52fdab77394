// Dependency order: a container starts after what it depends on (dependsOn and joined network
// namespaces), and stops before it. Cycles were refused at validation. Pure.

import type { ContainerSpec } from '../../manifest/spec.js';

export function dependenciesOf(spec: ContainerSpec): string[] {
  const deps = new Set(spec.dependsOn);
  if (spec.namespaces.network.kind === 'container') deps.add(spec.namespaces.network.container);
  deps.delete(spec.name);
  return [...deps].sort();
}

/**
 * Names sorted so that every container comes after its dependencies (those not in `specs` are
 * ignored); ties sorted by name, so plans are stable. A cycle, if any slipped through, keeps the
 * remaining names in name order at the end rather than looping.
 */
export function startOrder(specs: ReadonlyMap<string, ContainerSpec>): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  let progress = true;
  while (progress && done.size < specs.size) {
    progress = false;
    for (const name of [...specs.keys()].sort()) {
      if (done.has(name)) continue;
      const deps = dependenciesOf(specs.get(name)!).filter((d) => specs.has(d));
      if (deps.every((d) => done.has(d))) {
        done.add(name);
        order.push(name);
        progress = true;
      }
    }
  }
  for (const name of [...specs.keys()].sort()) if (!done.has(name)) order.push(name);
  return order;
}
