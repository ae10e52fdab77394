// Containment warnings: settings that are allowed but weaken isolation, which a reviewer must see.
// They never block; `validate` and `plan` print each as MANIFEST_RISKY, and docs/security.md says
// what each one gives up. They run after the document checks, on the same documents. Pure.

import { canonicalCapability, DEFAULT_CAPABILITIES, DEFAULT_STATE_ROOT, RISKY_CAPABILITIES } from '../defaults.js';
import type { FieldPath } from '../field-path.js';
import { networkNamespace } from '../normalize.js';
import { isWithin } from '../posix-path.js';
import type { DocumentCheck } from './report.js';

export const DOCUMENT_WARNINGS: readonly DocumentCheck[] = [
  {
    name: 'privileged',
    run: ({ spec }, report) => {
      if (spec.security?.privileged) {
        report('warning', 'MANIFEST_RISKY', ['spec', 'security', 'privileged'], 'privileged: the container gets every capability, every host device, no seccomp filter and unmasked kernel paths; it can take over the host');
      }
    },
  },
  {
    name: 'added-capabilities',
    run: ({ spec }, report) => {
      (spec.security?.capabilities?.add ?? []).forEach((raw, i) => {
        const cap = canonicalCapability(raw);
        if (DEFAULT_CAPABILITIES.includes(cap)) return;
        const what = cap === 'ALL' || RISKY_CAPABILITIES.has(cap) ? 'hands the container a way to the host' : 'goes beyond the default set';
        report('warning', 'MANIFEST_RISKY', ['spec', 'security', 'capabilities', 'add', i], `adding \`${cap}\` ${what}`);
      });
    },
  },
  {
    name: 'host-namespaces',
    run: ({ spec }, report) => {
      const ns = spec.namespaces ?? {};
      const gives: Record<string, string> = {
        pid: 'it sees and can signal every process of the host',
        ipc: 'it shares System V and POSIX IPC objects with the host',
        uts: 'it can change the host\'s host name',
      };
      for (const kind of ['pid', 'ipc', 'uts'] as const) {
        if (ns[kind] === 'host') report('warning', 'MANIFEST_RISKY', ['spec', 'namespaces', kind], `\`namespaces.${kind}: host\`: ${gives[kind]}`);
      }
      if (networkNamespace(ns.network, spec.network?.mode).kind === 'host') {
        const at: FieldPath = ns.network === 'host' ? ['spec', 'namespaces', 'network'] : ['spec', 'network', 'mode'];
        report('warning', 'MANIFEST_RISKY', at, 'the host\'s network namespace: the container reaches every host interface, loopback services and abstract sockets');
      }
    },
  },
  {
    name: 'sensitive-binds',
    run: ({ spec }, report) => {
      (spec.mounts ?? []).forEach((m, i) => {
        if (m.type !== 'bind') return;
        const why = sensitiveBind(m.source);
        if (why) report('warning', 'MANIFEST_RISKY', ['spec', 'mounts', i, 'source'], `bind of \`${m.source}\`: ${why}`);
      });
    },
  },
  {
    name: 'no-new-privileges-off',
    run: ({ spec }, report) => {
      if (spec.security?.noNewPrivileges === false) report('warning', 'MANIFEST_RISKY', ['spec', 'security', 'noNewPrivileges'], 'setuid programs in the container can gain privileges');
    },
  },
  {
    name: 'seccomp-unconfined',
    run: ({ spec }, report) => {
      if (spec.security?.seccomp === 'unconfined') report('warning', 'MANIFEST_RISKY', ['spec', 'security', 'seccomp'], 'seccomp is off: every system call is open to the container');
    },
  },
  {
    name: 'public-port',
    run: ({ spec }, report) => {
      (spec.network?.ports ?? []).forEach((p, i) => {
        if (p.hostIP === '0.0.0.0' || p.hostIP === '::') report('warning', 'MANIFEST_RISKY', ['spec', 'network', 'ports', i, 'hostIP'], `port ${p.host ?? p.container} is published on every interface`);
      });
    },
  },
];

/**
 * Host paths whose bind mount hands the container the host, or another runtime's control.
 * `below`: anything under the path counts too (a socket's directory does not, `/etc/hostname` does not).
 */
const SENSITIVE_SOURCES: ReadonlyArray<{ readonly path: string; readonly below: boolean; readonly why: string }> = [
  { path: '/', below: false, why: 'the whole host filesystem' },
  { path: '/proc', below: false, why: 'the host\'s processes and kernel settings' },
  { path: '/sys', below: false, why: 'the host\'s kernel and device settings' },
  { path: '/dev', below: false, why: 'every host device node (the device allow-list still applies)' },
  { path: '/boot', below: false, why: 'the host\'s kernels and boot loader' },
  { path: '/etc', below: false, why: 'the host\'s configuration and credentials' },
  { path: '/root', below: false, why: 'root\'s home directory (keys, credentials)' },
  { path: '/var/run/docker.sock', below: true, why: 'the Docker daemon: full control of the host' },
  { path: '/run/docker.sock', below: true, why: 'the Docker daemon: full control of the host' },
  { path: '/run/containerd/containerd.sock', below: true, why: 'containerd: full control of the host' },
  { path: '/run/podman/podman.sock', below: true, why: 'Podman: full control of the host' },
  { path: DEFAULT_STATE_ROOT, below: true, why: 'corral\'s own state: a container could rewrite its own policy' },
];

/** Why binding `source` is risky, or undefined. */
export function sensitiveBind(source: string): string | undefined {
  const hit = SENSITIVE_SOURCES.find((s) => source === s.path || (s.below && isWithin(source, s.path)));
  return hit ? `it exposes ${hit.why}` : undefined;
}
