// Where everything corral keeps lives under its state root (`--root`, default /var/lib/corral).
// One table, so the drivers, the reconciler and GC agree on what corral owns: anything below the
// root that is not described here is not corral's.
//
//   <root>/
//     lock                      flock: one writer at a time (reconcile, agent, imperative commands)
//     root-id                   this root's identity, written once (root-id.ts): marks what corral
//                               creates outside the root (cgroups) and names its default cgroup parent
//     state/<name>.json         reconciler record per container (atomic writes, checksummed);
//                               <name>.json.prev keeps the version it replaced (store.ts)
//     state/.reserve-N          space set aside so stops and removals work on a full filesystem
//     state/journal/            intent journal: what a step is about to create, for crash recovery
//     containers/<name>/        per-container runtime files
//       upper/  work/           overlay upper and work directories (copy-on-write layer)
//       rootfs/                 empty mount point: the overlay is mounted here inside the container's
//                               own mount namespace, never in the host's
//       shim/                   files the shim (monitor) writes: exit status, pids, control socket
//       logs/                   container.log and its rotations
//       network/                bridged containers: the hosts and resolv.conf bound into it
//       rootfs.json             what the overlay driver prepared: rootfs identity and lower layers
//                               (decides when the upper must be reset; GC keeps those layers)
//     images/<name>/<tag>.json  image metadata (layers by digest, config)
//     images/.lock              flock: image imports, removals and layer GC exclude each other
//     layers/<digest>/          one unpacked layer, shared by every image that has it
//     volumes/<name>/data/      named volumes; removed only by `corral volume rm`
//     userns/<name>.json        the host id slot of a container's `auto` user namespace, kept
//                               across restarts and recreates, freed at removal (state/subid-pool.ts)
//     hostroot/                 the read-only skeleton behind `rootfs: {host: {}}`
//     quota/projects.json       project quota ids of writable layers with a `storage.size`, and
//                               their flock (drivers/overlay/quota/project-ids.ts)
//     network/                  the bridge driver's (docs/network.md): default.json (the default
//                               network's subnet), leases/<name>.json (addresses, atomic writes),
//                               ns/<name> (network namespace files, bind mounts), table.nft and
//                               table.listed (the nftables table as applied and as listed)
//     cache/manifests.json      per-file results of manifest loading, by content digest, so a fresh
//                               `plan` skips unchanged files' parsing (state/manifest-cache.ts)
//     cache/idmap-probe.json    whether an idmapped overlay builds on this root, as the shim found
//                               it, for this boot, kernel, root and shim (drivers/namespaces/idmap-probe.ts)
//     tmp/                      staging for imports and atomic writes; emptied by GC

import { join } from 'node:path';
import { BoundedMemo } from '../bounded-memo.js';
import { flat } from '../flat-string.js';

export interface Layout {
  readonly root: string;
  readonly lockFile: string;
  readonly rootIdFile: string;
  readonly stateDir: string;
  readonly journalDir: string;
  readonly containersDir: string;
  readonly imagesDir: string;
  readonly layersDir: string;
  readonly volumesDir: string;
  readonly hostRootDir: string;
  readonly tmpDir: string;
  readonly manifestCache: string;
  readonly idmapProbe: string;
  /** Secrets and config files: one small tmpfs per container (src/drivers/overlay/file-tree.ts). */
  readonly filesDir: string;
  files(name: string): string;
  /** The key of secrets' content digests (HMAC), 0600. */
  readonly secretsKey: string;
  record(name: string): string;
  container(name: string): ContainerPaths;
  volume(name: string): string;
  layer(digest: string): string;
  imageRecord(name: string, tag: string): string;
  readonly imagesLock: string;
}

export interface ContainerPaths {
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly rootfs: string;
  readonly shim: string;
  readonly logs: string;
  readonly rootfsRecord: string;
}

const layouts = new Map<string, Layout>();

/** The paths of a state root; one object per root, since the agent asks for them per container on every pass. */
export function layout(root: string): Layout {
  let l = layouts.get(root);
  if (!l) {
    l = buildLayout(root);
    layouts.set(root, l);
  }
  return l;
}

function buildLayout(root: string): Layout {
  const containersDir = join(root, 'containers');
  // Kept per name: an agent's pass asks for them several times per container.
  const containerPaths = new BoundedMemo<string, ContainerPaths>(10_000);
  const stateDir = join(root, 'state');
  return {
    root,
    lockFile: join(root, 'lock'),
    rootIdFile: join(root, 'root-id'),
    stateDir,
    journalDir: join(stateDir, 'journal'),
    containersDir,
    imagesDir: join(root, 'images'),
    layersDir: join(root, 'layers'),
    volumesDir: join(root, 'volumes'),
    hostRootDir: join(root, 'hostroot'),
    tmpDir: join(root, 'tmp'),
    manifestCache: join(root, 'cache', 'manifests.json'),
    idmapProbe: join(root, 'cache', 'idmap-probe.json'),
    filesDir: join(root, 'files'),
    files: (name) => join(root, 'files', name),
    secretsKey: join(root, 'secrets.key'),
    record: (name) => join(stateDir, `${name}.json`),
    container: (name) => {
      return containerPaths.getOrMake(name, () => {
        const dir = join(containersDir, name);
        const at = (file: string): string => flat(join(dir, file));
        return { dir: flat(dir), upper: at('upper'), work: at('work'), rootfs: at('rootfs'), shim: at('shim'), logs: at('logs'), rootfsRecord: at('rootfs.json') };
      });
    },
    volume: (name) => join(root, 'volumes', name, 'data'),
    layer: (digest) => join(root, 'layers', digest.replace(/^sha256:/, 'sha256-')),
    imageRecord: (name, tag) => join(root, 'images', name, `${tag}.json`),
    imagesLock: join(root, 'images', '.lock'),
  };
}
