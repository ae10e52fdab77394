// Which field needs which action: the one table (issue: resources live; command, env, user,
// mounts… restart; rootfs, namespaces recreate). Longest matching prefix wins. Pure.

import { sameJsonValue } from '../../manifest/hash.js';
import { BIND_REFERENCE, FILE_REFERENCE, fileReferenceKey, filesOf, type ContainerSpec } from '../../manifest/spec.js';
import { EFFECT_RANK, type Effect, type FieldDiff } from './types.js';

const EFFECTS: ReadonlyArray<readonly [string, Effect]> = [
  // The root filesystem and the namespaces define the container itself.
  ['version', 'recreate'],
  ['rootfs', 'recreate'],
  ['namespaces', 'recreate'],
  ['references.image', 'recreate'],
  // Set up once at start by the shim: changing them needs a new process, not a new layer.
  ['readOnlyRootfs', 'restart'],
  ['init', 'restart'],
  ['process', 'restart'],
  ['hostname', 'restart'],
  // A volume's owner and mode too: they are set on it when the root filesystem is prepared.
  ['mounts', 'restart'],
  ['network', 'restart'],
  ['security', 'restart'],
  // Host device nodes are bound into /dev at start; the allow-list follows the same spec.
  ['devices', 'restart'],
  // The writable layer's quota is set when the root filesystem is prepared; the layer is kept.
  ['storage', 'restart'],
  ['logging', 'restart'],
  ['references.seccomp', 'restart'],
  // Secrets and config files: a new definition (target, owner, mode, source) needs a new start;
  // new content (references.file:…) is planned by the file's onChange (fileEffect below).
  ['files', 'restart'],
  // cgroup knobs: written to the running container.
  ['resources', 'live'],
  // Read by corral only (supervision, ordering, selection).
  ['name', 'recreate'],
  ['labels', 'record'],
  ['annotations', 'record'],
  ['restartPolicy', 'record'],
  ['stopSignal', 'record'],
  ['stopTimeoutMs', 'record'],
  ['dependsOn', 'record'],
  ['healthcheck', 'record'],
  ['hosts', 'record'],
];

export function effectOf(path: string): Effect {
  let best: readonly [string, Effect] | undefined;
  for (const entry of EFFECTS) {
    if ((path === entry[0] || path.startsWith(`${entry[0]}.`) || path.startsWith(`${entry[0]}[`)) && (!best || entry[0].length > best[0].length)) best = entry;
  }
  // A field this table does not know is treated as the most disruptive: never silently ignored.
  return best?.[1] ?? 'recreate';
}

/**
 * Field-level differences between two specs. Objects are compared key by key; arrays and scalars
 * as whole values (a changed env list is one diff, `process.env`).
 */
export function diffSpecs(
  before: ContainerSpec,
  after: ContainerSpec,
  beforeRefs: Readonly<Record<string, string>> = {},
  afterRefs: Readonly<Record<string, string>> = {},
): FieldDiff[] {
  const out: FieldDiff[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        walk(a[key], b[key], path ? `${path}.${key}` : key);
      }
      return;
    }
    if (!sameJsonValue(a ?? null, b ?? null)) out.push({ path, before: a ?? null, after: b ?? null, effect: effectOf(path) });
  };
  // Inline content is compared through its digest (references.file:…), planned by its onChange.
  walk(withoutInlineContent(before), withoutInlineContent(after), '');
  walk({ references: beforeRefs }, { references: afterRefs }, '');
  return out
    // A record from before single-file binds were identified has none: not a change of the source.
    .filter((d) => !(d.path.startsWith(`references.${BIND_REFERENCE}`) && d.before === null))
    .map((d) => {
      // A file taken away or moved leaves its link, and the image's file it replaced is gone from
      // the writable layer: only a new layer gives the container its image's file back.
      if (d.path === 'files') return { ...d, effect: filesRemoved(before, after) ? 'recreate' as const : d.effect };
      if (d.path.startsWith(`references.${FILE_REFERENCE}`)) return { ...d, effect: fileEffect(after, d.path.slice('references.'.length)) };
      // A single-file bind whose source was replaced (a new inode): only a new start binds the new file.
      if (d.path.startsWith(`references.${BIND_REFERENCE}`)) return { ...d, effect: 'restart' as const };
      return d;
    });
}

function withoutInlineContent(spec: ContainerSpec): ContainerSpec {
  const files = filesOf(spec);
  if (!files.some((f) => f.source.kind === 'content')) return spec;
  return { ...spec, files: files.map((f) => (f.source.kind === 'content' ? { ...f, source: { kind: 'content', text: '' } } : f)) };
}

function filesRemoved(before: ContainerSpec, after: ContainerSpec): boolean {
  const targets = new Set(filesOf(after).map((f) => f.target));
  return filesOf(before).some((f) => !targets.has(f.target));
}

/**
 * New content of a file: `live` (swapped in the running container, then its signal if any) unless
 * its onChange says restart, or an environment variable takes its value (env is read at exec).
 */
function fileEffect(spec: ContainerSpec, key: string): Effect {
  const file = filesOf(spec).find((f) => fileReferenceKey(f) === key);
  if (file === undefined) return 'restart';
  if (file.onChange.kind === 'restart') return 'restart';
  if (file.kind === 'secret' && spec.process.env.some((e) => e.secret === file.name)) return 'restart';
  return 'live';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function strongestEffect(diffs: readonly FieldDiff[]): Effect | null {
  let best: Effect | null = null;
  for (const d of diffs) if (best === null || EFFECT_RANK[d.effect] > EFFECT_RANK[best]) best = d.effect;
  return best;
}
