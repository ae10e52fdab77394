// The network drivers behind the reconciler's NetworkPort (src/reconciler/ports.ts). The runtime
// makes `none` (a private namespace with only `lo`), `host` and `container:NAME` by itself; the
// bridge driver (bridge/port.ts) makes `network.mode: bridge`. What the format allows and no
// driver builds yet is refused here with NOT_SUPPORTED, at validate and plan time.

import { diagnostic, type Diagnostic } from '../../errors.js';
import { isIPv6Loopback } from '../../manifest/ipv6.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { NetworkAttachment, NetworkPort } from '../../reconciler/ports.js';

const NOTHING: NetworkAttachment = { netnsPath: null, handle: null, binds: [] };

/** Pure: what the spec asks of the network that is not built. */
export function unsupportedNetworkFields(spec: ContainerSpec): Diagnostic[] {
  return spec.network.ports.flatMap((p, i) => (isIPv6Loopback(p.hostIP)
    ? [diagnostic('error', 'NOT_SUPPORTED', `publishing on the IPv6 loopback address ${p.hostIP} is not possible`, {
      container: spec.name, field: `spec.network.ports[${i}].hostIP`,
      detail: 'the kernel does not DNAT ::1 (it never routes the loopback address out of `lo`); docs/network.md, "IPv6"',
      hint: 'publish on 127.0.0.1 (the default), on `::` (every IPv6 address of the host), or on one of its own IPv6 addresses',
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
