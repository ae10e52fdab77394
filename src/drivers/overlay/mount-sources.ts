// Host paths a manifest hands to a container (bind sources, `rootfs.path`) must exist and must not
// overlap corral's state root: a bind of /var/lib/corral/volumes/other, or of /var (which holds
// the state root), would show a container other containers' files and volumes. Checked against
// real paths, so a symlink cannot hide the overlap.

import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { diagnostic, type Diagnostic } from '../../errors.js';
import { BIND_REFERENCE, filesOf, type ContainerSpec } from '../../manifest/spec.js';
import { errnoCode } from './fs-util.js';

function real(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return resolve(path);
  }
}

/** "lies inside…" / "contains…" when a host path overlaps corral's state root; null otherwise. */
export function stateRootOverlap(root: string, path: string): string | null {
  const r = real(root);
  const p = real(path);
  if (p === r || p.startsWith(`${r}/`)) return `lies inside corral's state root \`${root}\``;
  if (p === '/' || r.startsWith(`${p}/`)) return `contains corral's state root \`${root}\` (other containers' files and volumes)`;
  return null;
}

/** Problems with the bind sources of a spec, one diagnostic each (host-dependent: run at plan time). */
export function checkBindSources(root: string, spec: Pick<ContainerSpec, 'name' | 'mounts'>): Diagnostic[] {
  const out: Diagnostic[] = [];
  spec.mounts.forEach((m, i) => {
    if (m.type !== 'bind') return;
    const field = `spec.mounts[${i}].source`;
    try {
      realpathSync.native(m.source);
    } catch (err) {
      const missing = errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR';
      out.push(diagnostic('error', 'MOUNT_SOURCE_MISSING', `bind source \`${m.source}\` ${missing ? 'does not exist' : `cannot be resolved (${errnoCode(err) ?? String(err)})`}`, {
        container: spec.name, field, hint: 'create it on the host, or fix the path',
      }));
      return;
    }
    const overlap = stateRootOverlap(root, m.source);
    if (overlap) {
      const resolved = real(m.source);
      out.push(diagnostic('error', 'MANIFEST_PATH_TRICK', `bind source \`${m.source}\` ${overlap}`, {
        container: spec.name, field, ...(resolved !== m.source ? { detail: `it resolves to \`${resolved}\`` } : {}),
        hint: 'use a named volume (`type: volume`) for data corral should keep',
      }));
    }
  });
  return out;
}

/**
 * The identity (device and inode) of every bind whose source is a single file, by reference key
 * `bind:TARGET`: a bind keeps the inode it found at start, so a source replaced by an editor or a
 * `git checkout` (a new inode) is a change the plan sees, and a restart binds the new file.
 */
export function fileBindIdentities(spec: Pick<ContainerSpec, 'mounts'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of spec.mounts) {
    if (m.type !== 'bind') continue;
    try {
      const st = statSync(m.source);
      if (st.isFile()) out[`${BIND_REFERENCE}${m.target}`] = `inode:${st.dev}:${st.ino}`;
    } catch {
      // A missing source is checkBindSources' to report.
    }
  }
  return out;
}

/** A secret's or config file's source inside the state root would hand one container another's secrets. */
export function fileSourceOverlaps(root: string, spec: ContainerSpec): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const f of filesOf(spec)) {
    if (f.source.kind !== 'file') continue;
    const overlap = stateRootOverlap(root, f.source.path);
    if (overlap !== null) {
      out.push(diagnostic('error', 'MANIFEST_PATH_TRICK', `${f.kind === 'secret' ? 'secret' : 'config file'} \`${f.name}\`: source \`${f.source.path}\` ${overlap}`, {
        container: spec.name, field: `spec.${f.kind === 'secret' ? 'secrets' : 'configFiles'}`, hint: 'keep sources outside the state root',
      }));
    }
  }
  return out;
}
