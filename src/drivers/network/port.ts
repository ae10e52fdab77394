// The network drivers behind the reconciler's NetworkPort (src/reconciler/ports.ts). The runtime
// makes `none` (a private namespace with only `lo`), `host` and `container:NAME` by itself; the
// bridge driver (bridge/port.ts) makes `network.mode: bridge`. What the format allows and no
// driver builds yet is refused here with NOT_SUPPORTED, at validate and plan time.

import { diagnostic, type Diagnostic } from '../../errors.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { NetworkAttachment, NetworkPort } from '../../reconciler/ports.js';

const NOTHING: NetworkAttachment = { netnsPath: null, handle: null, binds: [] };

/** Pure: what the spec asks of the network that is not built. */
export function unsupportedNetworkFields(spec: ContainerSpec): Diagnostic[] {
  return spec.network.ports.flatMap((p, i) => (p.hostIP.includes(':')
    ? [diagnostic('error', 'NOT_SUPPORTED', `publishing on the IPv6 address ${p.hostIP} is not built`, {
      container: spec.name, field: `spec.network.ports[${i}].hostIP`,
      detail: 'the kernel cannot DNAT ::1, and bridge networks are IPv4 only for now (docs/network.md, "IPv6")',
      hint: 'publish on 127.0.0.1 (the default) or 0.0.0.0',
    })]
    : []));
}

/** A network driver that makes nothing: for tests of the reconciler's logic (fakes of the other ports). */
export function nullNetworkPort(): NetworkPort {
  return {
    supports: unsupportedNetworkFields,
    check: async () => [],
    attach: async () => NOTHING,
    detach: async () => undefined,
    list: async () => [],
    networks: async () => [],
    checkNetwork: async () => [],
    ensureNetwork: async () => undefined,
    removeNetwork: async () => undefined,
    sync: async () => [],
  };
}
