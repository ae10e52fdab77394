// plan, networks half: desired networks (`kind: Network`) × the networks the host has → what to
// create, update, rebuild or remove, and what that means for the containers that join them: a
// rebuilt network restarts its running containers, a network still joined is not removed, a
// container whose network cannot exist is not started. Pure.

import { diagnostic, type Diagnostic } from '../../errors.js';
import { DEFAULT_NETWORK, networkChangeEffect, networkDiff, networkOfSpec } from '../../manifest/network.js';
import { reason, type Reason } from './reasons.js';
import type { Actual, Change, Desired, NetworkChange } from './types.js';

export interface NetworkPlan {
  readonly networks: NetworkChange[];
  /** The container changes, adjusted for the networks' changes. */
  readonly changes: Map<string, Change>;
  readonly diagnostics: Diagnostic[];
  readonly complete: boolean;
}

const STARTS = new Set(['create', 'start', 'restart', 'recreate', 'update']);


function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The spec a container has once the plan ran: none when it is removed. */
function specAfter(c: Change): Change['after'] {
  return c.action === 'remove' ? null : c.after ?? c.before;
}

/**
 * @param guard the manifest set is empty or missing: nothing is removed (as for containers)
 * @param running whether a container's process runs now
 */
export function planNetworks(desired: Desired, actual: Actual, containerChanges: ReadonlyMap<string, Change>, guard: boolean, running: (name: string) => boolean): NetworkPlan {
  const diagnostics: Diagnostic[] = [];
  let complete = true;
  const have = new Map((actual.networks ?? []).map((a) => [a.definition.name, a]));
  const invalid = new Set(desired.invalidNetworks ?? []);
  const broken = new Set(desired.brokenFiles);
  const out = new Map<string, NetworkChange>();
  const set = (name: string, change: Omit<NetworkChange, 'name'>): void => {
    out.set(name, { name, ...change });
  };

  for (const d of desired.networks ?? []) {
    const name = d.definition.name;
    const a = have.get(name);
    diagnostics.push(...d.hostDiagnostics);
    const hostError = d.hostDiagnostics.find((x) => x.severity === 'error');
    const base = { before: a?.definition ?? null, after: d.definition, afterHash: d.hash, origin: d.origin };
    if (hostError) {
      complete = false;
      set(name, { ...base, action: 'none', after: a?.definition ?? null, afterHash: a?.hash ?? null, reasons: [reason('host-unsupported', `cannot apply on this host: ${hostError.summary}`)] });
    } else if (!a) {
      set(name, { ...base, action: 'create', reasons: [reason('new-manifest', 'new manifest')] });
    } else if (a.hash === d.hash) {
      set(name, { ...base, action: 'none', reasons: [reason('up-to-date', 'up to date')] });
    } else {
      const effect = networkChangeEffect(a.definition, d.definition);
      const reasons = networkDiff(a.definition, d.definition).map((x) => reason('manifest-changed', `${x.field}: ${show(x.before)} → ${show(x.after)}`));
      set(name, { ...base, action: effect === 'recreate' ? 'recreate' : 'update', reasons: reasons.length > 0 ? reasons : [reason('record-outdated', 'the record predates this corral version: rewrite it')] });
    }
  }
  for (const [name, a] of have) {
    if (out.has(name)) continue;
    const base = { before: a.definition, origin: a.origin };
    if (invalid.has(name) || (a.origin !== null && broken.has(a.origin.file))) {
      complete = false;
      set(name, { ...base, action: 'none', after: a.definition, afterHash: a.hash, reasons: [reason('manifest-invalid', 'its manifest has errors: keeping the last applied definition')] });
    } else if (guard) {
      set(name, { ...base, action: 'none', after: a.definition, afterHash: a.hash, reasons: [reason('prune-refused', 'not removed: the manifest set is empty or missing (use --allow-empty)')] });
    } else {
      set(name, { ...base, action: 'remove', after: null, afterHash: null, reasons: [reason('manifest-removed', 'its manifest was removed')] });
    }
  }

  // A network still joined by a container that stays is kept: decided first, so that it counts
  // as available below.
  for (const n of [...out.values()].filter((x) => x.action === 'remove')) {
    const users = [...containerChanges.values()].filter((c) => {
      const spec = specAfter(c);
      return spec !== null && networkOfSpec(spec) === n.name;
    }).map((c) => c.name);
    if (users.length === 0) continue;
    complete = false;
    const text = `still joined by ${users.map((u) => `\`${u}\``).join(', ')}: removed once ${users.length === 1 ? 'it leaves' : 'they leave'}`;
    out.set(n.name, { ...n, action: 'none', after: n.before, afterHash: have.get(n.name)?.hash ?? null, reasons: [reason('network-in-use', text)] });
    diagnostics.push(diagnostic('error', 'NETWORK_IN_USE', `network \`${n.name}\`'s manifest was removed, but it is ${text}`, {
      network: n.name, hint: 'move those containers to another network (or remove them) in the same change',
    }));
  }

  // The networks a container can join once the networks' changes are applied.
  const available = new Set([DEFAULT_NETWORK, ...[...out.values()].filter((n) => n.action !== 'remove' && n.after !== null).map((n) => n.name)]);
  const changes = new Map(containerChanges);
  for (const [name, c] of changes) {
    const joins = c.after ? networkOfSpec(c.after) : null;
    if (joins === null || available.has(joins) || !STARTS.has(c.action)) continue;
    complete = false;
    changes.set(name, { ...c, action: 'none', reasons: [reason('network-missing', `network \`${joins}\` does not exist and cannot be made now (see its manifest's errors): not started`)], diff: [] });
  }
  // A rebuilt network: its running containers restart on it, unless the plan already starts,
  // stops or removes them (a container stopped by hand stays stopped).
  for (const n of [...out.values()].filter((x) => x.action === 'recreate')) {
    for (const [name, c] of changes) {
      const spec = specAfter(c);
      if (!spec || networkOfSpec(spec) !== n.name || (c.action !== 'none' && c.action !== 'update') || !running(name)) continue;
      const why: Reason = reason('network-changed', `network \`${n.name}\` is rebuilt: restart on it`);
      changes.set(name, { ...c, action: 'restart', reasons: [why, ...c.reasons.filter((r) => r.code !== 'up-to-date')] });
    }
  }
  return { networks: [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1)), changes, diagnostics, complete };
}
