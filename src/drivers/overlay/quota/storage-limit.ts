// `spec.storage.size`: a container's writable layer (its upper and work directories) as one
// project on the state root's filesystem, with a block limit. The steps of a start, each
// idempotent, in an order a SIGKILL anywhere leaves convergent:
//
//   1. the container's project id, allocated in the table before any directory carries it;
//   2. upper and work tagged with it (a walk, once: the rootfs record remembers it was done);
//   3. the hard and soft block limits set, then read back.
//
// Nothing at all happens for a container that never asked for a size. A size asked where the
// filesystem cannot enforce it is refused (plan time: `storageDiagnostics`; start: throws), never
// silently run without its limit.

import { CorralError, diagnostic, type Diagnostic } from '../../../errors.js';
import { layout } from '../../../state/layout.js';
import { readRootfsRecord, writeRootfsRecord } from '../rootfs-record.js';
import { idInUse } from './backend.js';
import type { QuotaProbe } from './probe.js';
import { chooseProjectId, projectIdOf, releaseProject, updateProjectTable } from './project-ids.js';
import { describeFilesystem, type QuotaSupport } from './support.js';
import { isTagged, tagTree, type TagStats } from './tag-tree.js';

export interface StorageLimitResult {
  /** The container's project id; null when it never had one. */
  readonly projectId: number | null;
  /** The limit the kernel enforces now (rounded up to the quota block); null: none. */
  readonly limitBytes: number | null;
  /** Set when this start walked the directories. */
  readonly tagged: { readonly upper: TagStats; readonly work: TagStats } | null;
}

const FIELD = 'spec.storage.size';

function unavailableText(support: Extract<QuotaSupport, { available: false }>): { summary: string; detail: string; hint: string } {
  return {
    summary: `storage size cannot be enforced: \`${support.fs.path}\` is on ${describeFilesystem(support.fs)}, without project quotas`,
    detail: support.reason,
    hint: support.hint,
  };
}

export interface StorageRequest {
  readonly container: string;
  readonly sizeBytes: number | null;
  /** The container's processes hold CAP_SYS_RESOURCE (added, or privileged). */
  readonly sysResource: () => boolean;
}

/**
 * Plan-time check: an error when a size is asked and the state root cannot enforce it; a warning
 * where it can but the container may step over it (ext4 lets CAP_SYS_RESOURCE past quota limits,
 * XFS does not).
 */
export function storageDiagnostics(request: StorageRequest, probe: () => QuotaProbe): Diagnostic[] {
  const { container, sizeBytes } = request;
  if (sizeBytes === null) return [];
  const { support } = probe();
  if (!support.available) {
    const text = unavailableText(support);
    return [diagnostic('error', 'STORAGE_QUOTA_UNAVAILABLE', text.summary, { ...text, container, field: FIELD })];
  }
  if (support.kind === 'ext4' && request.sysResource()) {
    return [diagnostic('warning', 'MANIFEST_RISKY', 'the storage size does not bind processes holding `CAP_SYS_RESOURCE` on ext4', {
      detail: 'ext4 lets that capability write past quota limits', hint: 'drop `CAP_SYS_RESOURCE`, or put the state root on XFS', container, field: FIELD,
    })];
  }
  return [];
}

/**
 * Gives `name`'s writable layer its project and limit (`sizeBytes` null: no limit, and the limit
 * of a container that had one is lifted). Call after prepareRootfs, while the container is stopped.
 */
export async function applyStorageLimit(root: string, name: string, sizeBytes: number | null, probe: () => QuotaProbe): Promise<StorageLimitResult> {
  const held = projectIdOf(root, name);
  if (sizeBytes === null && held === null) return { projectId: null, limitBytes: null, tagged: null };
  const { support, quota } = probe();
  if (!support.available || quota === null) {
    // Nothing is enforced there, so a limit set earlier has nothing to lift.
    if (sizeBytes === null) return { projectId: held, limitBytes: null, tagged: null };
    const text = unavailableText(support as Extract<QuotaSupport, { available: false }>);
    throw new CorralError('STORAGE_QUOTA_UNAVAILABLE', text.summary, { detail: text.detail, hint: text.hint, container: name, field: FIELD });
  }
  if (sizeBytes === null) {
    const now = quota.usage(held!);
    if (now && (now.hardLimitBytes !== 0 || now.softLimitBytes !== 0)) quota.setLimit(held!, 0);
    return { projectId: held, limitBytes: null, tagged: null };
  }

  const id = held ?? await updateProjectTable(root, (table) => {
    const chosen = chooseProjectId(table, name, (candidate) => idInUse(quota, candidate));
    return { table: chosen.table, result: chosen.id };
  });

  const paths = layout(root).container(name);
  let tagged: StorageLimitResult['tagged'] = null;
  const record = readRootfsRecord(root, name);
  if (record?.projectId !== id || !isTagged(paths.upper, id) || !isTagged(paths.work, id)) {
    tagged = { upper: tagTree(paths.upper, id), work: tagTree(paths.work, id) };
    if (record) writeRootfsRecord(root, name, { ...record, projectId: id });
  }

  const want = quota.rounded(sizeBytes);
  const now = quota.usage(id);
  if (now?.hardLimitBytes !== want || now.softLimitBytes !== want) quota.setLimit(id, want);
  const after = quota.usage(id);
  if (after?.hardLimitBytes !== want) {
    throw new CorralError('STORAGE_QUOTA_UNAVAILABLE', `storage size of \`${name}\`: the kernel reports a limit of ${after?.hardLimitBytes ?? 'none'} bytes for project ${id} after ${want} was set`, {
      detail: `on ${describeFilesystem(support.fs)}`, container: name, field: FIELD,
    });
  }
  return { projectId: id, limitBytes: want, tagged };
}

/**
 * Lifts the limit of `name`'s project and releases its id. Call only once its upper and work
 * directories are deleted: from then on no directory carries the id.
 */
export async function releaseStorageLimit(root: string, name: string, probe: () => QuotaProbe): Promise<void> {
  const held = projectIdOf(root, name);
  if (held === null) return;
  const { quota } = probe();
  if (quota !== null) {
    const now = quota.usage(held);
    if (now && (now.hardLimitBytes !== 0 || now.softLimitBytes !== 0)) quota.setLimit(held, 0);
  }
  await updateProjectTable(root, (table) => ({ table: releaseProject(table, name), result: undefined }));
}
