// Reads a small file as a container about to start will see it, without mounting anything: the
// last mount that covers its path (corral's binds, then the manifest's mounts, in the order the
// shim applies them), else the overlay's layers, the writable one first. Everything is read
// inside its own directory as if that were "/" (src/sys/open-in-root.ts), so a symlink a layer or a
// volume holds cannot lead to a host file. Used for /etc/passwd and /etc/group (users by name).

import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CorralError } from '../../errors.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { RootfsLayout } from '../../reconciler/ports.js';
import { lstatInRoot, readFileInRoot } from '../../sys/open-in-root.js';

/** Where a path of the container comes from at start. */
type Source =
  | { readonly kind: 'dir'; readonly root: string; readonly rel: string }
  | { readonly kind: 'empty' }
  | { readonly kind: 'layers' };

interface Covering {
  readonly target: string;
  /** The host directory (or file) mounted there; null: an empty tmpfs. */
  readonly source: string | null;
}

const covers = (target: string, path: string): boolean => target === '/' || path === target || path.startsWith(`${target}/`);

function mountsOf(layout: RootfsLayout, spec: ContainerSpec, volumes: Readonly<Record<string, string>>): Covering[] {
  const out: Covering[] = layout.binds.map((b) => ({ target: b.target, source: b.source }));
  for (const m of spec.mounts) {
    if (m.type === 'tmpfs') out.push({ target: m.target, source: null });
    else if (m.type === 'volume') out.push({ target: m.target, source: volumes[m.name] ?? null });
    else out.push({ target: m.target, source: m.source });
  }
  return out;
}

function sourceOf(path: string, mounts: readonly Covering[]): Source {
  // A later mount over the same place (or a parent) hides what earlier ones put there.
  for (let i = mounts.length - 1; i >= 0; i--) {
    const m = mounts[i]!;
    if (!covers(m.target, path)) continue;
    if (m.source === null) return { kind: 'empty' };
    // A file bound onto the path itself is read from its directory.
    if (path === m.target) return { kind: 'dir', root: dirname(m.source), rel: basename(m.source) };
    return { kind: 'dir', root: m.source, rel: path.slice(m.target === '/' ? 1 : m.target.length + 1) };
  }
  return { kind: 'layers' };
}

function refuse(path: string, why: string): CorralError {
  return new CorralError('USER_DB_INVALID', `the container's ${path} ${why}`, { hint: 'make it a regular file in the image' });
}

/** `path` from the overlay: the first layer that has it decides; a whiteout there hides the rest. */
function fromLayers(layers: readonly string[], path: string, maxBytes: number): Buffer | null {
  for (const layer of layers) {
    // A writable layer not made yet (a first start) holds nothing.
    if (!existsSync(layer)) continue;
    const st = lstatInRoot(layer, path);
    if (st === null) continue;
    if (st.type === 'char' && st.rdev === 0n) return null;
    // Resolved inside one layer only, a link could name a file another layer holds: refused.
    if (st.type === 'symlink') throw refuse(path, 'is a symbolic link, which corral does not follow across image layers');
    return readFileInRoot(layer, path, maxBytes);
  }
  return null;
}

/**
 * The content of `path` (absolute, as the container sees it) at start, or null when it does not
 * exist. Throws when it is not a regular file or is larger than `maxBytes`.
 */
export function readContainerFile(layout: RootfsLayout, spec: ContainerSpec, volumes: Readonly<Record<string, string>>, path: string, maxBytes: number): Buffer | null {
  const source = sourceOf(path, mountsOf(layout, spec, volumes));
  if (source.kind === 'empty') return null;
  if (source.kind === 'dir') return existsSync(source.root) ? readFileInRoot(source.root, source.rel, maxBytes) : null;
  return fromLayers([layout.upper, ...layout.lower], path, maxBytes);
}
