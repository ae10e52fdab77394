// containers/<name>/rootfs.json: what the driver last prepared for a container. It answers two
// questions without the reconciler's state store: "did this container's rootfs change, so its
// upper must go?" (identity) and "which layers must GC keep?" (lower).
//
// It is written in place, without temp file, rename or fsync (each costs a journaled metadata
// operation on the start path): a record lost or torn by a crash reads as "unknown", which only
// means the next prepare keeps the upper and rewrites the record, and GC keeps layers an image
// record still names.

import { writeFileSync } from 'node:fs';
import type { RootfsSource } from '../../manifest/spec.js';
import { layout } from '../../state/layout.js';
import { fsStep, readJson } from './fs-util.js';

export const ROOTFS_RECORD_VERSION = 1;

export interface RootfsRecord {
  readonly formatVersion: typeof ROOTFS_RECORD_VERSION;
  /** `image:<digest>`, `path:<dir>` or `host`: a change resets the upper layer. */
  readonly identity: string;
  readonly source: RootfsSource;
  /** Top first. */
  readonly lower: readonly string[];
  readonly digest: string | null;
  /**
   * Set once the upper and work directories carry this project id throughout (quota/tag-tree.ts);
   * kept while the identity stays, dropped when the upper is reset.
   */
  readonly projectId?: number;
}

/** The record, or null when there is none or it cannot be read (treated as "unknown"). */
export function readRootfsRecord(root: string, name: string): RootfsRecord | null {
  try {
    const value = readJson(layout(root).container(name).rootfsRecord) as RootfsRecord | null;
    return value && value.formatVersion === ROOTFS_RECORD_VERSION && Array.isArray(value.lower) ? value : null;
  } catch {
    return null;
  }
}

export function writeRootfsRecord(root: string, name: string, record: RootfsRecord): void {
  const path = layout(root).container(name).rootfsRecord;
  fsStep(`write \`${path}\``, () => writeFileSync(path, `${JSON.stringify(record)}\n`, { mode: 0o600 }));
}
