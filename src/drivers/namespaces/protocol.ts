// Encoding a SpawnSpec for the shim, and decoding what the shim says back. The field table lives
// in protocol-fields.ts; this file only walks it. Pure.

import { CorralError } from '../../errors.js';
import {
  FIELDS, OpCreate, OpIdmap, OpKind, SPEC_HEADER_BYTES, SPEC_LIMITS, SPEC_MAGIC, SPEC_WIRE_VERSION, SpecKind, type FieldDef, type Scope,
} from './protocol-fields.js';
import type { MountOp, ProcessPlan, SpawnSpec } from './spawn-spec.js';

export type WireValue = number | bigint | string | readonly string[] | readonly number[] | Uint8Array | WireRecord | readonly WireRecord[];
/** A spec as field name → value: what goes on the wire, and what `check-spec` prints back. */
export interface WireRecord { readonly [name: string]: WireValue }

const byScope = new Map<Scope, Map<string, FieldDef>>();
for (const f of FIELDS) {
  const names = byScope.get(f.scope) ?? new Map<string, FieldDef>();
  names.set(f.name, f);
  byScope.set(f.scope, names);
}

function field(scope: Scope, name: string): FieldDef {
  const f = byScope.get(scope)?.get(name);
  if (!f) throw new CorralError('INTERNAL', `protocol field \`${name}\` is not in scope ${scope}`);
  return f;
}

function opRecord(op: MountOp): WireRecord {
  const r: Record<string, WireValue> = {
    OP_KIND: OpKind[op.kind], OP_TARGET: op.target, OP_FLAGS: BigInt(op.flags ?? 0), OP_MODE: op.mode ?? 0,
    OP_DEV: BigInt(op.dev ?? 0), OP_CREATE: OpCreate[op.create ?? 'none'], OP_OPTIONAL: op.optional ? 1 : 0,
  };
  if (op.source !== undefined) r['OP_SOURCE'] = op.source;
  if (op.fstype !== undefined) r['OP_FSTYPE'] = op.fstype;
  if (op.data !== undefined) r['OP_DATA'] = op.data;
  if (op.idmap === 'container') r['OP_IDMAP'] = OpIdmap.container;
  else if (op.idmap) Object.assign(r, { OP_IDMAP: OpIdmap.maps, OP_UID_MAP: op.idmap.uidMap, OP_GID_MAP: op.idmap.gidMap });
  return r;
}

function processRecord(p: ProcessPlan): Record<string, WireValue> {
  const r: Record<string, WireValue> = {
    ARGV: p.argv, ENV: p.env, CWD: p.cwd, UID: p.uid, GID: p.gid, GROUPS: p.groups,
    CAP_BOUNDING: p.capabilities.bounding, CAP_EFFECTIVE: p.capabilities.effective, CAP_PERMITTED: p.capabilities.permitted,
    CAP_INHERITABLE: p.capabilities.inheritable, CAP_AMBIENT: p.capabilities.ambient,
    NO_NEW_PRIVS: p.noNewPrivileges ? 1 : 0, UMASK: p.umask,
  };
  if (p.rlimits.length) r['RLIMIT'] = p.rlimits.map((l) => ({ RL_RESOURCE: l.resource, RL_SOFT: l.soft, RL_HARD: l.hard }));
  if (p.seccomp) r['SECCOMP'] = p.seccomp;
  if (p.oomScoreAdj !== null) r['OOM_SCORE_ADJ'] = p.oomScoreAdj;
  return r;
}

/** The wire view of a spec: exactly the fields that will be encoded. */
export function toWire(spec: SpawnSpec): WireRecord {
  const r: Record<string, WireValue> = { NAME: spec.name, NS_FLAGS: BigInt(spec.namespaceFlags), CGROUP_PROCS: spec.cgroupProcs, ...processRecord(spec.process) };
  if (spec.kind === 'exec') {
    r['TTY'] = spec.tty ? 1 : 0;
    return r;
  }
  if (spec.userNamespace) {
    r['UID_MAP'] = spec.userNamespace.uidMap;
    r['GID_MAP'] = spec.userNamespace.gidMap;
  }
  if (spec.joinNetwork) r['JOIN_NET'] = 1;
  if (spec.cgroupDir) r['CGROUP_DIR'] = spec.cgroupDir;
  Object.assign(r, {
    ROOT_TARGET: spec.root.target, ROOT_SOURCE: spec.root.source, ROOT_FSTYPE: spec.root.fstype, ROOT_DATA: spec.root.data,
    ROOT_FLAGS: BigInt(spec.root.flags), ROOT_PROPAGATION: BigInt(spec.root.propagation),
    LOOPBACK: spec.loopback ? 1 : 0, SHIM_DIR: spec.shimDir, LOG_DIR: spec.logDir, LOG_MAX_BYTES: BigInt(spec.logMaxBytes),
    LOG_MAX_FILES: spec.logMaxFiles, STOP_SIGNAL: spec.stopSignal,
  });
  if (spec.root.layers) Object.assign(r, { ROOT_LOWER: spec.root.layers.lower, ROOT_UPPER: spec.root.layers.upper, ROOT_WORK: spec.root.layers.work });
  if (spec.mounts.length) r['MOUNT'] = spec.mounts.map(opRecord);
  if (spec.finalize.length) r['FINAL'] = spec.finalize.map(opRecord);
  if (spec.hostname !== null) r['HOSTNAME'] = spec.hostname;
  if (spec.init) r['INIT'] = 1;
  if (spec.oomEventsFile) r['OOM_EVENTS'] = spec.oomEventsFile;
  if (spec.monitorCgroupProcs.length) r['MONITOR_CGROUP_PROCS'] = spec.monitorCgroupProcs;
  if (spec.monitorOomScoreAdj !== null) r['MONITOR_OOM_SCORE_ADJ'] = spec.monitorOomScoreAdj;
  return r;
}

/**
 * One buffer, grown by doubling, with each field's length written back once its payload is in:
 * a start encodes a few hundred fields, and a Buffer per field and per header cost 0.4 ms of the
 * agent's main thread per start (a CPU profile of `reconcile --once` over bench/reconcile.mjs's
 * manifests).
 */
class Writer {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u16(n: number): void {
    this.room(2);
    this.pos = this.buf.writeUInt16LE(n, this.pos);
  }

  u32(n: number): void {
    this.room(4);
    this.pos = this.buf.writeUInt32LE(n >>> 0, this.pos);
  }

  i32(n: number): void {
    this.room(4);
    this.pos = this.buf.writeInt32LE(n, this.pos);
  }

  u64(n: bigint): void {
    this.room(8);
    this.pos = this.buf.writeBigUInt64LE(n, this.pos);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A NUL-terminated string; its byte length (NUL included). */
  str(name: string, s: string): number {
    // The value is never echoed: an environment entry may hold a secret (`valueFrom: {secret}`).
    if (s.includes('\0')) throw new CorralError('SHIM_PROTOCOL', `spawn spec field \`${name}\` holds a NUL byte${name === 'ENV' ? ` (variable \`${s.slice(0, Math.max(0, s.indexOf('=')))}\`)` : ''}`);
    const n = Buffer.byteLength(s, 'utf8') + 1;
    if (n > SPEC_LIMITS.maxStringBytes) throw new CorralError('SHIM_PROTOCOL', `spawn spec field \`${name}\` is ${n} bytes, over the ${SPEC_LIMITS.maxStringBytes}-byte limit`);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.buf[this.pos++] = 0;
    return n;
  }

  /** Writes a u32 placeholder; `end` fills it with the bytes written since. */
  begin(): number {
    this.u32(0);
    return this.pos;
  }

  end(start: number): void {
    this.buf.writeUInt32LE(this.pos - start, start - 4);
  }
}

function payload(w: Writer, f: FieldDef, value: WireValue): void {
  switch (f.type) {
    case 'u32': w.u32(Number(value)); return;
    case 'i32': w.i32(Number(value)); return;
    case 'u64': w.u64(BigInt(value as number | bigint)); return;
    case 'str': w.str(f.name, value as string); return;
    case 'strs': {
      const items = value as readonly string[];
      if (items.length > SPEC_LIMITS.maxListItems) throw new CorralError('SHIM_PROTOCOL', `spawn spec field \`${f.name}\` has ${items.length} items, over ${SPEC_LIMITS.maxListItems}`);
      w.u32(items.length);
      for (const s of items) {
        const at = w.begin();
        w.str(f.name, s);
        w.end(at);
      }
      return;
    }
    case 'u32s': {
      const items = value as readonly number[];
      w.u32(items.length);
      for (const n of items) w.u32(n);
      return;
    }
    case 'bytes': w.bytes(value as Uint8Array); return;
    case 'rec': body(w, f.of!, value as WireRecord); return;
  }
}

function encodeField(w: Writer, f: FieldDef, value: WireValue): void {
  w.u16(f.id);
  const at = w.begin();
  payload(w, f, value);
  w.end(at);
}

function body(w: Writer, scope: Scope, rec: WireRecord): void {
  for (const [name, value] of Object.entries(rec)) {
    const f = field(scope, name);
    if (f.repeated) for (const item of value as readonly WireRecord[]) encodeField(w, f, item);
    else encodeField(w, f, value);
  }
}

/** Header and body, ready for the shim's fd 3. */
export function encodeWire(kind: keyof typeof SpecKind, rec: WireRecord): Buffer {
  const w = new Writer();
  w.room(SPEC_HEADER_BYTES);
  w.buf.fill(0, 0, SPEC_HEADER_BYTES);
  w.buf.writeUInt32LE(SPEC_MAGIC, 0);
  w.buf.writeUInt16LE(SPEC_WIRE_VERSION, 4);
  w.buf.writeUInt16LE(SpecKind[kind], 6);
  w.pos = SPEC_HEADER_BYTES;
  body(w, 'top', rec);
  const length = w.pos - SPEC_HEADER_BYTES;
  if (length > SPEC_LIMITS.maxBodyBytes) throw new CorralError('SHIM_PROTOCOL', `spawn spec is ${length} bytes, over the ${SPEC_LIMITS.maxBodyBytes}-byte limit`);
  w.buf.writeUInt32LE(length, 8);
  return w.buf.subarray(0, w.pos);
}

export function encodeSpawnSpec(spec: SpawnSpec): Buffer {
  if (spec.kind === 'run' && spec.mounts.length + spec.finalize.length > SPEC_LIMITS.maxOps * 2) {
    throw new CorralError('SHIM_PROTOCOL', `spawn spec of \`${spec.name}\` has too many mount steps`);
  }
  return encodeWire(spec.kind, toWire(spec));
}

// What the shim writes on its status fd, one JSON object per line.
export type StatusMessage =
  | { readonly type: 'ready'; readonly monitorPid?: number; readonly monitorStartTime?: number; readonly initPid?: number; readonly initStartTime?: number; readonly startedAtMs?: number; readonly pid?: number }
  | { readonly type: 'error'; readonly stage: string; readonly errno: number; readonly detail: string }
  | { readonly type: 'exited'; readonly exitCode: number | null; readonly signal: number | null };

export function parseStatusLine(line: string): StatusMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (cause) {
    throw new CorralError('SHIM_PROTOCOL', `the shim wrote a status line that is not JSON: \`${line.slice(0, 200)}\``, { cause });
  }
  const t = (v as { type?: unknown } | null)?.type;
  if (t !== 'ready' && t !== 'error' && t !== 'exited') {
    throw new CorralError('SHIM_PROTOCOL', `the shim wrote an unknown status message: \`${line.slice(0, 200)}\``);
  }
  return v as StatusMessage;
}
