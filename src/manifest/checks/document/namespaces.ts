// Namespaces and what depends on them: settings that need a private namespace while the manifest
// shares the host's (hostname, network settings, sysctls), network settings that contradict each
// other, and user-namespace maps that overlap or leave the process's own ids unmapped. Pure.

import { sysctlNamespace } from '../../defaults.js';
import type { FieldPath } from '../../field-path.js';
import { describeForward, forwardsOverlap, hostPorts, MAX_PUBLISHED_PORTS, portCount, portRangeProblem } from '../../ports.js';
import { networkNamespace } from '../../normalize.js';
import type { DocumentCheck } from '../report.js';


export const namespacesAndNetwork: DocumentCheck = {
  name: 'namespaces-and-network',
  run: ({ metadata, spec }, report) => {
    const ns = spec.namespaces ?? {};
    const net = spec.network ?? {};
    const netns = networkNamespace(ns.network, net.mode);
    if (spec.hostname !== undefined && ns.uts === 'host') {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'hostname'], '`hostname` needs a private uts namespace, but `namespaces.uts` is `host`');
    }
    if (netns.kind === 'container' && netns.container === metadata.name) {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'namespaces', 'network'], 'a container cannot join its own network namespace');
    }
    if (net.mode === 'host' && ns.network !== undefined && ns.network !== 'host') {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'mode'], `\`network.mode: host\` contradicts \`namespaces.network: ${ns.network}\``, { hint: 'keep one of the two: `namespaces.network: host` is enough' });
    }
    if (netns.kind !== 'private' && (net.mode === 'none' || net.mode === 'bridge')) {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'mode'], `\`network.mode: ${net.mode}\` needs a private network namespace, but \`namespaces.network\` is \`${ns.network}\``);
    }
    const bridged = netns.kind === 'private' && net.mode === 'bridge';
    if (net.ports?.length && !bridged) {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'ports'], 'ports are forwarded only in `network.mode: bridge`', {
        key: true,
        hint: netns.kind === 'host' ? 'with the host network the container listens on host ports directly; remove `ports`' : 'set `network.mode: bridge`',
      });
    }
    for (const field of ['name', 'address', 'aliases', 'dns'] as const) {
      if (net[field] === undefined || bridged) continue;
      report('error', 'MANIFEST_CONFLICT', ['spec', 'network', field], `\`network.${field}\` is used only with \`network.mode: bridge\``, {
        hint: netns.kind === 'private' ? 'set `network.mode: bridge`' : `with \`namespaces.network: ${ns.network ?? net.mode}\` the network (and its resolver) comes from there`,
      });
    }
    // Two forwards that would take the same host connections (overlapping ports on one address, or
    // on any address when one is 0.0.0.0): refused within one manifest here, across manifests in set.ts.
    const ports = net.ports ?? [];
    let total = 0;
    ports.forEach((p, i) => {
      const problem = portRangeProblem(p);
      if (problem) {
        report('error', 'MANIFEST_INVALID_VALUE', ['spec', 'network', 'ports', i], problem);
        return;
      }
      total += portCount(hostPorts(p)!);
      const previous = ports.slice(0, i).findIndex((q) => portRangeProblem(q) === null && forwardsOverlap(p, q));
      if (previous >= 0) report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', 'network', 'ports', i], `host port ${describeForward(p)} overlaps \`ports[${previous}]\` (${describeForward(ports[previous]!)})`);
    });
    if (total > MAX_PUBLISHED_PORTS) {
      report('error', 'MANIFEST_OUT_OF_RANGE', ['spec', 'network', 'ports'], `${total} ports are published, ranges counted port by port; at most ${MAX_PUBLISHED_PORTS}`);
    }
  },
};

export const userNamespace: DocumentCheck = {
  name: 'user-namespace',
  run: ({ spec }, report) => {
    const user = spec.namespaces?.user;
    // `idmap: true` maps through the container's own user namespace: none, nothing to map through.
    (spec.mounts ?? []).forEach((m, i) => {
      if (m.type === 'bind' && m.idmap === true && !user?.enabled) {
        report('error', 'MANIFEST_CONFLICT', ['spec', 'mounts', i, 'idmap'], '`idmap: true` maps through the container\'s user namespace, and this container has none', {
          hint: 'turn one on (`namespaces: {user: {enabled: true}}`), or give the host owner to show as the container\'s user: `idmap: {uid: N}`',
        });
      }
    });
    if (!user) return;
    const at: FieldPath = ['spec', 'namespaces', 'user'];
    if (!user.enabled) {
      if (user.uidMap || user.gidMap || user.auto) report('warning', 'MANIFEST_CONFLICT', [...at, 'enabled'], 'user namespace mappings are ignored because `enabled` is false');
      return;
    }
    if (user.auto && (user.uidMap || user.gidMap)) report('error', 'MANIFEST_CONFLICT', [...at, 'auto'], 'give either `auto` or `uidMap`/`gidMap`, not both');
    if (!!user.uidMap !== !!user.gidMap) report('error', 'MANIFEST_REQUIRED_FIELD', at, `\`${user.uidMap ? 'gidMap' : 'uidMap'}\` is missing: give both maps or neither`, { key: true });
    for (const kind of ['uidMap', 'gidMap'] as const) {
      const maps = [...(user[kind] ?? [])].map((m, i) => ({ ...m, i }));
      for (const side of ['containerID', 'hostID'] as const) {
        const sorted = [...maps].sort((a, b) => a[side] - b[side]);
        for (let k = 1; k < sorted.length; k++) {
          if (sorted[k - 1]![side] + sorted[k - 1]!.size > sorted[k]![side]) {
            report('error', 'MANIFEST_CONFLICT', [...at, kind, sorted[k]!.i], `${kind} ranges ${sorted[k - 1]!.i} and ${sorted[k]!.i} overlap on the ${side === 'hostID' ? 'host' : 'container'} side`);
          }
        }
      }
      for (const m of maps) {
        if (m.hostID + m.size > 4294967295 || m.containerID + m.size > 4294967295) report('error', 'MANIFEST_OUT_OF_RANGE', [...at, kind, m.i], `${kind}[${m.i}] runs past the largest id (4294967294)`);
      }
    }
    const mapped = (id: number, maps: typeof user.uidMap) => !maps || maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
    // Ids given as numbers are checked here; names are looked up at start (and checked there).
    const ids = typeof spec.user === 'string' ? {} : spec.user ?? {};
    const uid = ids.name === undefined ? ids.uid ?? 0 : null;
    const gid = ids.group === undefined ? ids.gid ?? uid : null;
    if (uid !== null && !mapped(uid, user.uidMap)) report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'uid'], `uid ${uid} is not mapped by \`namespaces.user.uidMap\``);
    if (gid !== null && !mapped(gid, user.gidMap)) report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'gid'], `gid ${gid} is not mapped by \`namespaces.user.gidMap\``);
    if (user.auto?.size !== undefined) {
      if (uid !== null && uid >= user.auto.size) report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'uid'], `uid ${uid} is outside the ${user.auto.size} ids of \`namespaces.user.auto\``);
    }
    // The owner of a tmpfs or a volume is an id inside the container: one the namespace lacks
    // cannot own anything there (a tmpfs refuses it, a volume would show as nobody's).
    (spec.mounts ?? []).forEach((m, i) => {
      if (m.type === 'bind' || !m.owner) return;
      const ids = [['uid', m.owner.uid, user.uidMap], ['gid', m.owner.gid ?? m.owner.uid, user.gidMap]] as const;
      for (const [kind, id, maps] of ids) {
        const path: FieldPath = ['spec', 'mounts', i, 'owner', kind === 'gid' && m.owner.gid === undefined ? 'uid' : kind];
        if (!mapped(id, maps)) report('error', 'MANIFEST_CONFLICT', path, `owner ${kind} ${id} is not mapped by \`namespaces.user.${kind}Map\``);
        else if (user.auto?.size !== undefined && id >= user.auto.size) report('error', 'MANIFEST_CONFLICT', path, `owner ${kind} ${id} is outside the ${user.auto.size} ids of \`namespaces.user.auto\``);
      }
    });
  },
};

export const sysctls: DocumentCheck = {
  name: 'sysctls',
  run: ({ spec }, report) => {
    const ns = spec.namespaces ?? {};
    const netPrivate = networkNamespace(ns.network, spec.network?.mode).kind === 'private';
    for (const name of Object.keys(spec.security?.sysctls ?? {})) {
      const at: FieldPath = ['spec', 'security', 'sysctls', name];
      const kind = sysctlNamespace(name);
      if (kind === null) {
        report('error', 'MANIFEST_INVALID_VALUE', at, `sysctl \`${name}\` is not namespaced: setting it would change the whole host`, { key: true, detail: 'allowed: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*, kernel.domainname' });
      } else if (kind === 'net' && !netPrivate) {
        report('error', 'MANIFEST_CONFLICT', at, `sysctl \`${name}\` needs a private network namespace`, { key: true });
      } else if (kind === 'ipc' && ns.ipc === 'host') {
        report('error', 'MANIFEST_CONFLICT', at, `sysctl \`${name}\` needs a private ipc namespace`, { key: true });
      } else if (kind === 'uts' && ns.uts === 'host') {
        report('error', 'MANIFEST_CONFLICT', at, `sysctl \`${name}\` needs a private uts namespace`, { key: true });
      }
    }
  },
};
