// Rules across the whole manifest set: a name defined twice, `dependsOn` or a network to join that
// names no manifest, dependency cycles, two containers forwarding one host port, two mounts of one
// volume asking for different owners or modes. A file's
// neighbours can change while it does not, so these run on every load (the per-file cache holds
// only document checks), over the documents whose own checks passed. Pure.

import { diagnostic, type Diagnostic } from '../../errors.js';
import type { FieldPath } from '../field-path.js';
import type { ManifestV1, MountV1, PortV1 } from '../manifest-v1.js';
import { networkNamespace } from '../normalize.js';
import { didYouMean } from '../suggest.js';
import { describeForward, forwardsOverlap, portRangeProblem } from '../ports.js';
import type { CheckedDocument, SetCheck } from './report.js';

function locateAt(d: CheckedDocument, path: FieldPath, key = false) {
  return d.doc.locate(path, key);
}

function where(d: CheckedDocument): string {
  const s = locateAt(d, ['metadata', 'name']);
  return `${s.file}:${s.line}:${s.column}`;
}

/** Could one host be selected by both selectors? Conservative: only provably disjoint ones say no. */
export function selectorsMayOverlap(a: ManifestV1['spec']['hosts'], b: ManifestV1['spec']['hosts']): boolean {
  for (const [key, value] of Object.entries(a?.labels ?? {})) {
    const other = b?.labels?.[key];
    if (other !== undefined && other !== value) return false;
  }
  const literal = (names: string[] | undefined) => names !== undefined && names.every((n) => !/[*?]/.test(n));
  if (literal(a?.hostnames) && literal(b?.hostnames)) {
    const set = new Set(a!.hostnames!.map((n) => n.toLowerCase()));
    if (!b!.hostnames!.some((n) => set.has(n.toLowerCase()))) return false;
  }
  return true;
}

function hintFor(name: string, names: Set<string>): { hint: string } {
  return { hint: didYouMean(name, names) ?? `define a container named \`${name}\`, or correct the name` };
}

export const duplicateNames: SetCheck = {
  name: 'duplicate-names',
  run: (docs) => {
    const out: Diagnostic[] = [];
    const byName = new Map<string, CheckedDocument[]>();
    for (const d of docs) byName.set(d.manifest.metadata.name, [...(byName.get(d.manifest.metadata.name) ?? []), d]);
    for (const [name, group] of byName) {
      for (let i = 1; i < group.length; i++) {
        const first = group.slice(0, i).find((g) => selectorsMayOverlap(g.manifest.spec.hosts, group[i]!.manifest.spec.hosts));
        if (!first) continue;
        out.push(diagnostic('error', 'MANIFEST_DUPLICATE_NAME', `container \`${name}\` is defined twice: here and at ${where(first)}`, {
          container: name, field: 'metadata.name', source: locateAt(group[i]!, ['metadata', 'name']),
          hint: 'rename one of them, or give them disjoint `spec.hosts` selectors',
        }));
      }
    }
    return out;
  },
};

export const references: SetCheck = {
  name: 'references',
  run: (docs, context) => {
    const out: Diagnostic[] = [];
    const names = new Set(docs.map((d) => d.manifest.metadata.name));
    for (const d of docs) {
      const { spec, metadata } = d.manifest;
      (spec.dependsOn ?? []).forEach((dep, i) => {
        // A manifest with errors is reported once, by its own errors: not again by each dependent.
        if (!names.has(dep) && !context.invalidNames.has(dep)) {
          out.push(diagnostic('error', 'MANIFEST_UNKNOWN_REFERENCE', `\`dependsOn\` names \`${dep}\`, which no manifest defines`, {
            container: metadata.name, field: `spec.dependsOn[${i}]`, source: locateAt(d, ['spec', 'dependsOn', i]), ...hintFor(dep, names),
          }));
        }
      });
      const netns = networkNamespace(spec.namespaces?.network, spec.network?.mode);
      if (netns.kind === 'container' && netns.container !== metadata.name) {
        const target = docs.find((o) => o.manifest.metadata.name === netns.container);
        const at = { container: metadata.name, field: 'spec.namespaces.network', source: locateAt(d, ['spec', 'namespaces', 'network']) };
        if (!target && !context.invalidNames.has(netns.container)) {
          out.push(diagnostic('error', 'MANIFEST_UNKNOWN_REFERENCE', `\`namespaces.network\` joins \`${netns.container}\`, which no manifest defines`, { ...at, ...hintFor(netns.container, names) }));
        } else if (target && networkNamespace(target.manifest.spec.namespaces?.network, target.manifest.spec.network?.mode).kind !== 'private') {
          out.push(diagnostic('error', 'MANIFEST_CONFLICT', `\`${netns.container}\` does not have a private network namespace to join`, at));
        }
      }
    }
    return out;
  },
};

export const dependencyCycles: SetCheck = {
  name: 'dependency-cycles',
  run: (docs) => {
    const graph = new Map<string, string[]>();
    for (const d of docs) {
      const { spec, metadata } = d.manifest;
      const netns = networkNamespace(spec.namespaces?.network, spec.network?.mode);
      // Joining another container's network is a start-order dependency too.
      graph.set(metadata.name, [...(spec.dependsOn ?? []), ...(netns.kind === 'container' ? [netns.container] : [])].filter((n) => n !== metadata.name));
    }
    const out: Diagnostic[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const reported = new Set<string>();
    const visit = (name: string, stack: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(name)), name];
        const key = [...cycle].slice(0, -1).sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          const doc = docs.find((d) => d.manifest.metadata.name === cycle[0])!;
          out.push(diagnostic('error', 'MANIFEST_DEPENDENCY_CYCLE', `dependency cycle: ${cycle.join(' → ')}`, {
            container: cycle[0]!, field: 'spec.dependsOn', source: locateAt(doc, ['spec', 'dependsOn']), hint: 'remove one of these dependencies',
          }));
        }
        return;
      }
      state.set(name, 'visiting');
      for (const next of graph.get(name) ?? []) if (graph.has(next)) visit(next, [...stack, name]);
      state.set(name, 'done');
    };
    for (const name of graph.keys()) visit(name, []);
    return out;
  },
};

export const hostPortConflicts: SetCheck = {
  name: 'host-port-conflicts',
  run: (docs) => {
    const out: Diagnostic[] = [];
    const owners: Array<{ d: CheckedDocument; i: number; p: PortV1 }> = [];
    for (const d of docs) {
      (d.manifest.spec.network?.ports ?? []).forEach((p, i) => {
        if (portRangeProblem(p) !== null) return;
        const owner = owners.find((o) => o.d !== d && forwardsOverlap(o.p, p) && selectorsMayOverlap(o.d.manifest.spec.hosts, d.manifest.spec.hosts));
        if (owner) {
          const s = locateAt(owner.d, ['spec', 'network', 'ports', owner.i]);
          out.push(diagnostic('error', 'MANIFEST_DUPLICATE_ENTRY', `host port ${describeForward(p)} is also forwarded by \`${owner.d.manifest.metadata.name}\` (${describeForward(owner.p)}) at ${s.file}:${s.line}:${s.column}`, {
            container: d.manifest.metadata.name, field: `spec.network.ports[${i}]`, source: locateAt(d, ['spec', 'network', 'ports', i]),
            hint: 'pick another host port or host address for one of them',
          }));
        } else {
          owners.push({ d, i, p });
        }
      });
    }
    return out;
  },
};

/**
 * A volume's owner and mode are set at every start: two mounts of one volume asking for different
 * ones would change it under each other's feet at each start, so they must agree (a mount that
 * asks for neither takes the volume as it is).
 */
export const volumeAccessConflicts: SetCheck = {
  name: 'volume-access-conflicts',
  run: (docs) => {
    const out: Diagnostic[] = [];
    type VolumeMount = Extract<MountV1, { type: 'volume' }>;
    const fields = [
      { key: 'owner', value: (m: VolumeMount) => (m.owner ? `${m.owner.uid}:${m.owner.gid ?? m.owner.uid}` : null), what: 'owner' },
      { key: 'mode', value: (m: VolumeMount) => (m.mode !== undefined ? `0${parseInt(m.mode, 8).toString(8).padStart(3, '0')}` : null), what: 'mode' },
    ] as const;
    for (const field of fields) {
      const first = new Map<string, Array<{ d: CheckedDocument; i: number; value: string }>>();
      for (const d of docs) {
        (d.manifest.spec.mounts ?? []).forEach((m, i) => {
          if (m.type !== 'volume') return;
          const value = field.value(m);
          if (value === null) return;
          const seen = first.get(m.name) ?? [];
          const other = seen.find((o) => o.value !== value && (o.d === d || selectorsMayOverlap(o.d.manifest.spec.hosts, d.manifest.spec.hosts)));
          if (other) {
            const s = locateAt(other.d, ['spec', 'mounts', other.i, field.key]);
            const by = other.d === d ? `\`spec.mounts[${other.i}]\`` : `\`${other.d.manifest.metadata.name}\``;
            out.push(diagnostic('error', 'MANIFEST_CONFLICT', `volume \`${m.name}\` is mounted with ${field.what} ${value} here and ${other.value} by ${by} at ${s.file}:${s.line}:${s.column}`, {
              container: d.manifest.metadata.name, field: `spec.mounts[${i}].${field.key}`, source: locateAt(d, ['spec', 'mounts', i, field.key]),
              hint: `the ${field.what} is set on the volume at every start: give every mount of \`${m.name}\` the same one, or leave it out of all but one`,
            }));
            return;
          }
          first.set(m.name, [...seen, { d, i, value }]);
        });
      }
    }
    return out;
  },
};
