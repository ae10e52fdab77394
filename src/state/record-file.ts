// A state record on disk: the record's JSON plus a checksum of its canonical form, so a record
// damaged in any way (truncated, edited, a bad sector) is told apart from a good one, never half
// trusted. Records written before checksums existed carry none and are read as they are.

import { canonicalCopy, canonicalJson, inCanonicalOrder, sha256Hex } from '../manifest/hash.js';
import { RECORD_FORMAT, TRANSITIONS, type ContainerRecord } from './record.js';

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The checksum of a record's canonical form. A record corral wrote since its keys are written in
 * that order (encodeRecord) is hashed as it was read; an older one is put in order first.
 */
export function recordChecksum(record: ContainerRecord): string {
  return `sha256:${sha256Hex(inCanonicalOrder(record) ? JSON.stringify(record) : canonicalJson(record))}`;
}

/**
 * The file's text (the record with its keys in canonical order, its checksum last), and the
 * record as a read of that text gives it back.
 */
export function encodeRecord(record: ContainerRecord): { readonly text: string; readonly read: ContainerRecord } {
  const ordered = canonicalCopy(record) as ContainerRecord;
  return { text: `${JSON.stringify({ ...ordered, checksum: `sha256:${sha256Hex(JSON.stringify(ordered))}` }, null, 2)}\n`, read: ordered };
}

const STATUSES: readonly string[] = Object.keys(TRANSITIONS);

/** The fields every reader relies on; the checksum vouches for the rest. */
function hasRecordShape(value: object): value is ContainerRecord {
  const v: { format?: unknown; name?: unknown; status?: unknown; spec?: unknown } = value;
  return v.format === RECORD_FORMAT && typeof v.name === 'string' && typeof v.status === 'string' && STATUSES.includes(v.status)
    && typeof v.spec === 'object' && v.spec !== null;
}

export type DecodedRecord =
  | { readonly ok: true; readonly record: ContainerRecord; readonly checked: boolean }
  | { readonly ok: false; readonly reason: string };

/** The record in `text`, checked against its checksum, its format and the name its file carries. */
export function decodeRecord(text: string, name: string): DecodedRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'not a JSON object' };
  const { checksum, ...record } = parsed as Record<string, unknown>;
  if (record['format'] !== RECORD_FORMAT) return { ok: false, reason: `format ${String(record['format'])}, expected ${RECORD_FORMAT}` };
  if (record['name'] !== name || !NAME_RE.test(name)) return { ok: false, reason: `it names \`${String(record['name'])}\`, its file \`${name}\`` };
  if (!hasRecordShape(record)) return { ok: false, reason: 'spec or status missing' };
  if (checksum === undefined) return { ok: true, record, checked: false };
  if (checksum !== recordChecksum(record)) return { ok: false, reason: 'its checksum does not match its content' };
  return { ok: true, record, checked: true };
}
