// Failures the host causes (a full or read-only filesystem, a refusal, a descriptor limit) become
// typed errors that name the filesystem and say what still works, never `internal error`.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseMountinfo } from '../drivers/overlay/mountinfo.js';
import { CorralError, environmentCode, errnoOf, type ErrorCode } from '../errors.js';

export const HOST_FAILURE_HINTS: Readonly<Partial<Record<ErrorCode, string>>> = {
  NO_SPACE: 'free space on that filesystem (`corral gc`, `corral volume rm`); stopping and removing containers (`corral stop`, `corral reconcile --once` of removals) still works',
  READ_ONLY_FILESYSTEM: 'remount it read-write; containers keep running meanwhile',
  PERMISSION_DENIED: 'corral must run as root; an LSM policy, an immutable attribute or a foreign owner can still refuse it',
  TOO_MANY_OPEN_FILES: 'raise the limit (`ulimit -n`, `LimitNOFILE=` in the unit)',
};

/** The path an error is about: Node's `path`/`dest`, or a syscall's `path` argument. */
function pathOf(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const o = e as { path?: unknown; args?: { path?: unknown } };
    if (typeof o.path === 'string') return o.path;
    if (typeof o.args?.path === 'string') return o.args.path;
  }
  return null;
}

/** `/var/lib/corral` → "`/` (ext4 on /dev/vda)": the mount holding a path. */
export function filesystemOf(path: string): string {
  let best: { mountPoint: string; fstype: string; source: string } | null = null;
  try {
    const abs = resolve(path);
    for (const m of parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
      const inside = abs === m.mountPoint || abs.startsWith(m.mountPoint.endsWith('/') ? m.mountPoint : `${m.mountPoint}/`);
      if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
    }
  } catch {
    best = null;
  }
  return best ? `\`${best.mountPoint}\` (${best.fstype} on ${best.source})` : 'an unknown filesystem';
}

/** A typed error for an environmental failure, or null when `err` is something else. */
export function environmentError(err: unknown, fallbackPath: string): CorralError | null {
  const code = environmentCode(err);
  if (code === null) return null;
  const path = pathOf(err) ?? fallbackPath;
  const what = code === 'NO_SPACE' ? `no space left on ${filesystemOf(path)}`
    : code === 'READ_ONLY_FILESYSTEM' ? `${filesystemOf(path)} is read-only`
    : code === 'PERMISSION_DENIED' ? `permission denied on \`${path}\``
    : 'out of file descriptors';
  const hint = HOST_FAILURE_HINTS[code];
  return new CorralError(code, `${what} (${errnoOf(err)}, writing \`${path}\`)`, { ...(hint ? { hint } : {}), detail: (err as Error).message, cause: err });
}
