// One project's block limit on one filesystem, through the quotactl interface of its kind: the
// XFS commands (512-byte blocks) or the VFS ones ext4 uses (1 KiB blocks). The hard limit is what
// stops writes (EDQUOT); the soft limit is set to the same value so that no grace period starts
// before it.

import {
  LIMIT_UNIT_BYTES, vfsGetQuota, vfsSetBlockLimits, xfsGetQuota, xfsSetBlockLimits, type IdQuota, type QuotaTarget,
} from '../../../sys/quota.js';
import type { QuotaKind } from './support.js';

export interface ProjectQuota {
  readonly kind: QuotaKind;
  readonly target: QuotaTarget;
  /** Limits and usage of a project id; null when the filesystem has no record of it. */
  usage(id: number): IdQuota | null;
  /** Sets the hard and soft block limits to `bytes`; 0 removes the limit. */
  setLimit(id: number, bytes: number): void;
  /** What a limit of `bytes` reads back as (rounded up to the interface's block). */
  rounded(bytes: number): number;
}

export function projectQuota(kind: QuotaKind, target: QuotaTarget): ProjectQuota {
  const unit = kind === 'xfs' ? LIMIT_UNIT_BYTES.xfs : LIMIT_UNIT_BYTES.vfs;
  return {
    kind,
    target,
    usage: (id) => (kind === 'xfs' ? xfsGetQuota(target, 'PRJQUOTA', id) : vfsGetQuota(target, 'PRJQUOTA', id)),
    setLimit: (id, bytes) => (kind === 'xfs' ? xfsSetBlockLimits : vfsSetBlockLimits)(target, 'PRJQUOTA', id, bytes, bytes),
    rounded: (bytes) => Math.ceil(bytes / unit) * unit,
  };
}

/** Something on the filesystem carries the id (inodes charged to it), or someone set limits on it. */
export function idInUse(quota: ProjectQuota, id: number): boolean {
  const u = quota.usage(id);
  return u !== null && (u.inodes > 0 || u.usedBytes > 0 || u.hardLimitBytes > 0 || u.softLimitBytes > 0);
}
