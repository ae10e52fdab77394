// The network driver behind the reconciler's NetworkPort (src/reconciler/ports.ts). Today it is
// the null driver: the runtime makes every network corral offers by itself (`none`: a private
// namespace with only `lo`; `host`; `container:NAME`), so there is nothing to attach, nothing to
// detach and nothing to find orphaned. What the format reserves for bridge networking
// (`network.mode: bridge`, `network.bridge`, `network.ports`, `network.dns`) is refused here with
// NOT_SUPPORTED, at validate and plan time, until a bridge driver implements it
// (docs/architecture.md, "Adding a driver: bridge networking").

import { diagnostic, type Diagnostic } from '../../errors.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { NetworkAttachment, NetworkPort } from '../../reconciler/ports.js';

const NOTHING: NetworkAttachment = { netnsPath: null, handle: null };

/** Pure: which reserved network fields the spec uses. */
export function unsupportedNetworkFields(spec: ContainerSpec): Diagnostic[] {
  const out: Diagnostic[] = [];
  const refuse = (field: string, what: string): void => {
    out.push(diagnostic('error', 'NOT_SUPPORTED', `${what} is not built yet`, {
      container: spec.name, field,
      hint: 'use `network.mode: none` (a private namespace with only lo), `namespaces.network: host`, or `container:NAME`',
    }));
  };
  if (spec.network.mode === 'bridge') refuse('spec.network.mode', 'bridge networking (`network.mode: bridge`)');
  if (spec.network.ports.length > 0) refuse('spec.network.ports', 'published ports (`network.ports`)');
  if (spec.network.dns !== null) refuse('spec.network.dns', 'DNS settings (`network.dns`)');
  return out;
}

export function nullNetworkPort(): NetworkPort {
  return {
    supports: unsupportedNetworkFields,
    check: async () => [],
    attach: async () => NOTHING,
    detach: async () => undefined,
    list: async () => [],
  };
}
