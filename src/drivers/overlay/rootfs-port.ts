// The overlay driver behind the reconciler's RootfsPort (src/reconciler/ports.ts), so wiring is a
// one-liner (src/compose.ts): `rootfs: overlayRootfsPort(root)`.

import { fileDigests, fileProblems, fileTrees, removeFileTree, secretEnv, writeFileTree } from './file-tree.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { diagnostic, isCorralError, type Diagnostic } from '../../errors.js';
import { isRegistryStoreName, parseReference, pullReferenceOf } from '../../manifest/image-reference.js';
import type { ContainerSpec, RootfsSource } from '../../manifest/spec.js';
import type { PreparedRootfs, RootfsLayout, RootfsPort } from '../../reconciler/ports.js';
import type { Json } from '../../state/record.js';
import { layout } from '../../state/layout.js';
import { prepareRootfs, removeContainerRootfs, resolveRootfs, type ResolvedRootfs, type RootfsOptions } from './container-rootfs.js';
import { diskUsage, listDir } from './fs-util.js';
import { checkBindSources, fileBindIdentities, fileSourceOverlaps } from './mount-sources.js';
import { readRootfsRecord } from './rootfs-record.js';
import { ensureHostRoot, type HostRoot } from './host-root.js';
import { readContainerFile } from './container-files.js';
import { resolveUser, USER_DB_MAX_BYTES, userRequestFor, type ResolvedUser } from './user-lookup.js';
import { applyVolumeAccess, ensureVolume } from './volumes.js';
import { pullImage } from './images/registry/pull.js';
import { findImage } from './images/store.js';
import { probeQuotaSupport, type QuotaProbe } from './quota/probe.js';
import { applyStorageLimit, releaseStorageLimit, storageDiagnostics } from './quota/storage-limit.js';

function hasRootfs(root: string, name: string): boolean {
  const p = layout(root).container(name);
  return existsSync(p.rootfsRecord) || existsSync(p.upper);
}

// Checking the host root walks /etc (milliseconds); a converge of many containers, or one agent
// pass, shares one walk. A host change is still picked up within this time.
const HOST_ROOT_TTL_MS = 2000;
// The same for the quota probe (statfs, mountinfo, quotactl): one per pass, and a remount with or
// without `prjquota` is seen within this time.
const QUOTA_PROBE_TTL_MS = 2000;

/** `spec.storage.size`; a spec recorded before the field existed has no `storage` at all. */
function storageSize(spec: ContainerSpec): number | null {
  return (spec.storage as ContainerSpec['storage'] | undefined)?.sizeBytes ?? null;
}

/** What the state record keeps of a prepared root (for `inspect`; nothing reads it back). */
function rootfsHandle(l: RootfsLayout): Json {
  return {
    formatVersion: 1,
    lower: [...l.lower],
    upper: l.upper,
    work: l.work,
    target: l.target,
    readOnly: l.readOnly,
    binds: l.binds.map((b) => ({ source: b.source, target: b.target, readOnly: b.readOnly, ...(b.options ? { options: [...b.options] } : {}) })),
  };
}

/**
 * Who the process runs as: the manifest's ids, or a name (the manifest's, else the image's `User`)
 * looked up in the container's /etc/passwd and /etc/group as they are at this start. Read before
 * the volumes are made: a volume still to be created reads as empty.
 */
function startUser(root: string, spec: ContainerSpec, rootfs: RootfsLayout, imageUser: string | null): ResolvedUser {
  const request = userRequestFor(spec.process, imageUser);
  if (request === null) return { ...spec.process.user, home: null };
  const volumes = Object.fromEntries(spec.mounts.flatMap((m) => (m.type === 'volume' ? [[m.name, layout(root).volume(m.name)]] : [])));
  const read = (path: string): string | null => readContainerFile(rootfs, spec, volumes, path, USER_DB_MAX_BYTES)?.toString('utf8') ?? null;
  return resolveUser(request, { passwd: read('/etc/passwd'), group: read('/etc/group') }, spec.name);
}

/**
 * Users by name, looked up at plan time in the files the next start will read (the writable layer
 * too while it is kept): a misspelt name keeps the running container instead of failing its
 * restart. The start looks them up again.
 */
function userDiagnostics(root: string, spec: ContainerSpec, resolved: ResolvedRootfs): Diagnostic[] {
  if (userRequestFor(spec.process, resolved.defaults?.user ?? null) === null) return [];
  const paths = layout(root).container(spec.name);
  const kept = readRootfsRecord(root, spec.name)?.identity === resolved.identity;
  const rootfs: RootfsLayout = {
    lower: resolved.lower, upper: kept ? paths.upper : join(paths.dir, 'no-upper-yet'), work: paths.work, target: paths.rootfs, binds: resolved.binds, readOnly: spec.readOnlyRootfs,
  };
  try {
    startUser(root, spec, rootfs, resolved.defaults?.user ?? null);
    return [];
  } catch (err) {
    if (!isCorralError(err)) throw err;
    return [diagnostic('error', err.code, err.summary, { container: spec.name, field: 'spec.user', ...(err.hint ? { hint: err.hint } : {}), ...(err.detail ? { detail: err.detail } : {}) })];
  }
}

type ImageSource = Extract<RootfsSource, { kind: 'image' }>;

const isPulled = (source: ImageSource): boolean => isRegistryStoreName(source.name);

/**
 * Pulls a registry image the store lacks (`IfNotPresent`, the default), or at every start
 * (`Always`); `Never` leaves it to the store. True when it pulled.
 */
async function pullIfWanted(root: string, source: RootfsSource, signal: AbortSignal): Promise<boolean> {
  if (source.kind !== 'image' || !isPulled(source)) return false;
  const policy = source.pullPolicy ?? 'IfNotPresent';
  if (policy === 'Never') return false;
  if (policy === 'IfNotPresent' && findImage(root, { name: source.name, tag: source.tag }) !== null) return false;
  await pullImage(root, parseReference(pullReferenceOf(source)), { name: source.name, tag: source.tag }, { signal });
  return true;
}

/** How long a writable layer's measured size is reused (metrics scrape often; a walk costs). */
const WRITABLE_USAGE_TTL_MS = 60_000;

export function overlayRootfsPort(root: string, base: RootfsOptions = {}): RootfsPort {
  let memo: { at: number; host: HostRoot } | undefined;
  const options: RootfsOptions = {
    ...base,
    hostRoot: () => {
      if (!memo || Date.now() - memo.at > HOST_ROOT_TTL_MS) memo = { at: Date.now(), host: ensureHostRoot(root, base) };
      return memo.host;
    },
  };
  let quotaMemo: { at: number; probe: QuotaProbe } | undefined;
  const quotaProbe = (): QuotaProbe => {
    if (!quotaMemo || Date.now() - quotaMemo.at > QUOTA_PROBE_TTL_MS) quotaMemo = { at: Date.now(), probe: probeQuotaSupport(root) };
    return quotaMemo.probe;
  };
  const usageMemo = new Map<string, { at: number; bytes: number | null }>();
  return {
    async references(spec: ContainerSpec): Promise<Record<string, string>> {
      // Content digests of secrets and config files: new content is planned by their onChange.
      const files = { ...fileDigests(root, spec), ...fileBindIdentities(spec) };
      if (spec.rootfs.kind !== 'image') return files;
      try {
        // The manifest digest: a re-import of other content under the same name changes it.
        return { ...files, image: resolveRootfs(root, spec.rootfs, options).digest! };
      } catch (err) {
        // A missing image is reported by check(); the hash just lacks its digest meanwhile.
        if (isCorralError(err)) return files;
        throw err;
      }
    },

    async prepare(name: string, spec: ContainerSpec, signal: AbortSignal): Promise<PreparedRootfs> {
      const pulled = await pullIfWanted(root, spec.rootfs, signal);
      const prepared = prepareRootfs(root, name, spec, options);
      // After the directories exist, before anything runs in them.
      await applyStorageLimit(root, name, storageSize(spec), quotaProbe);
      const user = startUser(root, spec, prepared.layout, prepared.defaults?.user ?? null);
      const volumes: Record<string, string> = {};
      for (const m of spec.mounts) {
        if (m.type !== 'volume') continue;
        volumes[m.name] = ensureVolume(root, m.name, user.uid === 0 && user.gid === 0 ? null : { uid: user.uid, gid: user.gid });
        // At every start, before anything runs: the owner and mode the mount asks for. A record
        // written before these fields existed lacks them: nothing is changed then.
        applyVolumeAccess(volumes[m.name]!, m.name, { owner: m.owner ?? null, mode: m.mode ?? null });
      }
      // Last: the sources are read now, and what was written is what the record keeps.
      const files = writeFileTree(root, name, spec);
      const references = { ...files.digests, ...fileBindIdentities(spec), ...(pulled && prepared.digest ? { image: prepared.digest } : {}) };
      const env = secretEnv(spec);
      return {
        layout: { ...prepared.layout, files: files.dir }, defaults: prepared.defaults, volumes, user, handle: rootfsHandle(prepared.layout),
        ...(Object.keys(references).length > 0 ? { references } : {}),
        ...(Object.keys(env).length > 0 ? { secretEnv: env } : {}),
      };
    },

    async writableBytes(name: string): Promise<number | null> {
      // A walk of the layer: at most once a minute per container, whatever the scrape interval.
      const cached = usageMemo.get(name);
      if (cached && Date.now() - cached.at < WRITABLE_USAGE_TTL_MS) return cached.bytes;
      const upper = layout(root).container(name).upper;
      const bytes = existsSync(upper) ? diskUsage(upper) : null;
      usageMemo.set(name, { at: Date.now(), bytes });
      return bytes;
    },

    async refreshFiles(name: string, spec: ContainerSpec): Promise<Record<string, string>> {
      return writeFileTree(root, name, spec).digests;
    },

    async remove(name: string): Promise<void> {
      removeFileTree(root, name);
      removeContainerRootfs(root, name);
      // Only now that no directory carries the project id.
      await releaseStorageLimit(root, name, quotaProbe);
    },

    async exists(name: string): Promise<boolean> {
      return hasRootfs(root, name);
    },

    async list(except?: ReadonlySet<string>): Promise<string[]> {
      // A file tree whose container is gone (its record lost) is an orphan too: remove() unmounts it.
      const found = listDir(layout(root).containersDir).filter((name) => !except?.has(name) && hasRootfs(root, name));
      return [...new Set([...found, ...fileTrees(root).filter((name) => !except?.has(name))])].sort();
    },

    async check(spec: ContainerSpec): Promise<Diagnostic[]> {
      const out = [...checkBindSources(root, spec), ...fileProblems(spec), ...fileSourceOverlaps(root, spec)];
      out.push(...storageDiagnostics({
        container: spec.name, sizeBytes: storageSize(spec),
        sysResource: () => spec.security.privileged || spec.security.capabilities.includes('CAP_SYS_RESOURCE'),
      }, quotaProbe));
      // The host root is always available; resolving it would build the skeleton at plan time.
      if (spec.rootfs.kind !== 'host') {
        try {
          out.push(...userDiagnostics(root, spec, resolveRootfs(root, spec.rootfs, options)));
        } catch (err) {
          if (!isCorralError(err)) throw err;
          // Not an error: the start pulls it, and the plan shows that step (src/reconciler/plan/pulls.ts).
          if (err.code === 'IMAGE_NOT_FOUND' && spec.rootfs.kind === 'image' && isPulled(spec.rootfs) && spec.rootfs.pullPolicy !== 'Never') return out;
          out.push(diagnostic('error', err.code, err.summary, {
            container: spec.name, field: spec.rootfs.kind === 'image' ? 'spec.rootfs.image' : 'spec.rootfs.path',
            ...(err.hint ? { hint: err.hint } : {}), ...(err.detail ? { detail: err.detail } : {}),
          }));
        }
      }
      return out;
    },
  };
}
