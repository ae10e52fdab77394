// The spawn-spec wire format, defined once. The C shim's `shim/fields.h` is generated from this
// table (`renderFieldsHeader`), and a test fails when the checked-in header differs, so the two
// sides cannot drift (runc keeps two hand-written copies; we keep one).
//
// Message: a 12-byte header, then a body of fields.
//   header: u32 magic, u16 version, u16 kind, u32 body length (little-endian)
//   field:  u16 id, u32 length, payload
// Payloads by type: u32/i32 (4 bytes), u64 (8), str (bytes then one NUL; no other NUL), strs (u32
// count, then per item u32 length + str), u32s (u32 count, then u32 each), bytes (raw), rec (a
// nested body of fields of the field's scope). A field may appear once unless it is `repeated`.
// Pure: no Node imports.

export const SPEC_MAGIC = 0x4c525243; // "CRRL" read as little-endian bytes
export const SPEC_WIRE_VERSION = 1;
export const SPEC_HEADER_BYTES = 12;

/** Hard limits the shim enforces; the encoder checks them too so TS fails first, with context. */
export const SPEC_LIMITS = {
  maxBodyBytes: 1 << 20,
  maxStringBytes: 1 << 16,
  maxListItems: 1 << 16,
  maxOps: 1024,
  maxRlimits: 16,
  maxSeccompInstructions: 4096,
} as const;

export const SpecKind = { run: 1, exec: 2 } as const;
export type SpecKindName = keyof typeof SpecKind;

export type FieldType = 'u32' | 'i32' | 'u64' | 'str' | 'strs' | 'u32s' | 'bytes' | 'rec';
export type Scope = 'top' | 'op' | 'rlimit';

export interface FieldDef {
  readonly scope: Scope;
  readonly name: string;
  readonly id: number;
  readonly type: FieldType;
  readonly repeated?: boolean;
  /** Scope of a `rec` field's payload. */
  readonly of?: Scope;
}

const TYPE_CODES: Readonly<Record<FieldType, number>> = { u32: 1, i32: 2, u64: 3, str: 4, strs: 5, u32s: 6, bytes: 7, rec: 8 };

export const FIELDS: readonly FieldDef[] = [
  { scope: 'top', name: 'NAME', id: 1, type: 'str' },
  { scope: 'top', name: 'NS_FLAGS', id: 2, type: 'u64' },
  { scope: 'top', name: 'UID_MAP', id: 3, type: 'str' },
  { scope: 'top', name: 'GID_MAP', id: 4, type: 'str' },
  { scope: 'top', name: 'JOIN_NET', id: 5, type: 'u32' },
  { scope: 'top', name: 'CGROUP_PROCS', id: 6, type: 'strs' },
  { scope: 'top', name: 'CGROUP_DIR', id: 7, type: 'str' },
  { scope: 'top', name: 'ROOT_TARGET', id: 8, type: 'str' },
  { scope: 'top', name: 'ROOT_SOURCE', id: 9, type: 'str' },
  { scope: 'top', name: 'ROOT_FSTYPE', id: 10, type: 'str' },
  { scope: 'top', name: 'ROOT_DATA', id: 11, type: 'str' },
  { scope: 'top', name: 'ROOT_FLAGS', id: 12, type: 'u64' },
  { scope: 'top', name: 'ROOT_PROPAGATION', id: 13, type: 'u64' },
  { scope: 'top', name: 'MOUNT', id: 14, type: 'rec', repeated: true, of: 'op' },
  { scope: 'top', name: 'FINAL', id: 15, type: 'rec', repeated: true, of: 'op' },
  { scope: 'top', name: 'HOSTNAME', id: 16, type: 'str' },
  { scope: 'top', name: 'LOOPBACK', id: 17, type: 'u32' },
  { scope: 'top', name: 'ARGV', id: 18, type: 'strs' },
  { scope: 'top', name: 'ENV', id: 19, type: 'strs' },
  { scope: 'top', name: 'CWD', id: 20, type: 'str' },
  { scope: 'top', name: 'UID', id: 21, type: 'u32' },
  { scope: 'top', name: 'GID', id: 22, type: 'u32' },
  { scope: 'top', name: 'GROUPS', id: 23, type: 'u32s' },
  { scope: 'top', name: 'RLIMIT', id: 24, type: 'rec', repeated: true, of: 'rlimit' },
  { scope: 'top', name: 'CAP_BOUNDING', id: 25, type: 'u64' },
  { scope: 'top', name: 'CAP_EFFECTIVE', id: 26, type: 'u64' },
  { scope: 'top', name: 'CAP_PERMITTED', id: 27, type: 'u64' },
  { scope: 'top', name: 'CAP_INHERITABLE', id: 28, type: 'u64' },
  { scope: 'top', name: 'CAP_AMBIENT', id: 29, type: 'u64' },
  { scope: 'top', name: 'NO_NEW_PRIVS', id: 30, type: 'u32' },
  { scope: 'top', name: 'SECCOMP', id: 31, type: 'bytes' },
  { scope: 'top', name: 'OOM_SCORE_ADJ', id: 32, type: 'i32' },
  { scope: 'top', name: 'UMASK', id: 33, type: 'u32' },
  { scope: 'top', name: 'SHIM_DIR', id: 34, type: 'str' },
  { scope: 'top', name: 'LOG_DIR', id: 35, type: 'str' },
  { scope: 'top', name: 'LOG_MAX_BYTES', id: 36, type: 'u64' },
  { scope: 'top', name: 'LOG_MAX_FILES', id: 37, type: 'u32' },
  { scope: 'top', name: 'STOP_SIGNAL', id: 38, type: 'u32' },
  { scope: 'top', name: 'OOM_EVENTS', id: 39, type: 'str' },
  { scope: 'top', name: 'TTY', id: 40, type: 'u32' },
  { scope: 'top', name: 'MONITOR_CGROUP_PROCS', id: 41, type: 'strs' },
  { scope: 'top', name: 'MONITOR_OOM_SCORE_ADJ', id: 42, type: 'i32' },
  // With a user namespace the monitor builds the root overlay itself from these (lower layers
  // idmapped to the container's namespace) and hands it to the child: ROOT_DATA is then unused.
  { scope: 'top', name: 'ROOT_LOWER', id: 43, type: 'strs' },
  { scope: 'top', name: 'ROOT_UPPER', id: 44, type: 'str' },
  { scope: 'top', name: 'ROOT_WORK', id: 45, type: 'str' },
  // 1: the container's PID 1 is the shim's own small init (shim/init.c), the command its child.
  { scope: 'top', name: 'INIT', id: 46, type: 'u32' },
  { scope: 'op', name: 'OP_KIND', id: 1, type: 'u32' },
  { scope: 'op', name: 'OP_SOURCE', id: 2, type: 'str' },
  { scope: 'op', name: 'OP_TARGET', id: 3, type: 'str' },
  { scope: 'op', name: 'OP_FSTYPE', id: 4, type: 'str' },
  { scope: 'op', name: 'OP_DATA', id: 5, type: 'str' },
  { scope: 'op', name: 'OP_FLAGS', id: 6, type: 'u64' },
  { scope: 'op', name: 'OP_MODE', id: 7, type: 'u32' },
  { scope: 'op', name: 'OP_DEV', id: 8, type: 'u64' },
  { scope: 'op', name: 'OP_CREATE', id: 9, type: 'u32' },
  { scope: 'op', name: 'OP_OPTIONAL', id: 10, type: 'u32' },
  /** A bind's id mapping (OpIdmap); the monitor prepares such a bind, as every bind of a container with a user namespace. */
  { scope: 'op', name: 'OP_IDMAP', id: 11, type: 'u32' },
  /** uid_map/gid_map lines of OpIdmap.maps. */
  { scope: 'op', name: 'OP_UID_MAP', id: 12, type: 'str' },
  { scope: 'op', name: 'OP_GID_MAP', id: 13, type: 'str' },
  { scope: 'rlimit', name: 'RL_RESOURCE', id: 1, type: 'u32' },
  { scope: 'rlimit', name: 'RL_SOFT', id: 2, type: 'u64' },
  { scope: 'rlimit', name: 'RL_HARD', id: 3, type: 'u64' },
];

/** Operations of the mount program. MOUNT scope runs before pivot_root, FINAL after. */
export const OpKind = {
  mount: 1, bind: 2, mknod: 3, symlink: 4, propagation: 5, write: 6, mask: 7, readonly: 8, remount: 9,
} as const;
export type OpKindName = keyof typeof OpKind;

/** `replace`: a bind's file target that the image made a symlink is replaced by an empty file first. */
export const OpCreate = { none: 0, dir: 1, file: 2, replace: 3 } as const;

/** How a bind maps ids: not at all, through the container's user namespace, or through the op's own maps. */
export const OpIdmap = { none: 0, container: 1, maps: 2 } as const;

/** Fixed descriptors between TS and the shim (see the diagram in shim/protocol.h). */
export const SHIM_FD = { spec: 3, status: 4, pidfd: 5 } as const;

/** Files the shim writes in SHIM_DIR and LOG_DIR. */
export const SHIM_FILES = {
  exit: 'exit.json',
  state: 'state.json',
  alive: 'alive.fifo',
  monitorLog: 'monitor.log',
  containerLog: 'container.log',
} as const;

/** Exit status of the shim process itself. */
export const SHIM_EXIT = { ok: 0, setup: 1, protocol: 2, usage: 3 } as const;

export function fieldsIn(scope: Scope): readonly FieldDef[] {
  return FIELDS.filter((f) => f.scope === scope);
}

const SCOPE_PREFIX: Readonly<Record<Scope, string>> = { top: 'F', op: 'F', rlimit: 'F' };

/** The C header, byte for byte. */
export function renderFieldsHeader(): string {
  const lines: string[] = [
    '/* Generated from src/drivers/namespaces/protocol-fields.ts by renderFieldsHeader(): do not edit.',
    ' * test/drivers/namespaces/protocol.test.ts fails when this file is stale; regenerate it with',
    ' * CORRAL_WRITE_FIELDS_H=1 npm test -- test/drivers/namespaces/protocol.test.ts */',
    '#ifndef CORRAL_FIELDS_H',
    '#define CORRAL_FIELDS_H',
    '',
    `#define SPEC_MAGIC 0x${SPEC_MAGIC.toString(16)}u`,
    `#define SPEC_WIRE_VERSION ${SPEC_WIRE_VERSION}`,
    `#define SPEC_HEADER_BYTES ${SPEC_HEADER_BYTES}`,
    `#define SPEC_MAX_BODY_BYTES ${SPEC_LIMITS.maxBodyBytes}u`,
    `#define SPEC_MAX_STRING_BYTES ${SPEC_LIMITS.maxStringBytes}u`,
    `#define SPEC_MAX_LIST_ITEMS ${SPEC_LIMITS.maxListItems}u`,
    `#define SPEC_MAX_OPS ${SPEC_LIMITS.maxOps}u`,
    `#define SPEC_MAX_RLIMITS ${SPEC_LIMITS.maxRlimits}u`,
    `#define SPEC_MAX_SECCOMP_INSNS ${SPEC_LIMITS.maxSeccompInstructions}u`,
    '',
    ...Object.entries(SpecKind).map(([k, v]) => `#define SPEC_KIND_${k.toUpperCase()} ${v}`),
    '',
    ...Object.entries(TYPE_CODES).map(([k, v]) => `#define T_${k.toUpperCase()} ${v}`),
    '',
  ];
  for (const scope of ['top', 'op', 'rlimit'] as const) {
    lines.push(`/* X(name, id, type, repeated) for scope ${scope} */`);
    lines.push(`#define ${scope.toUpperCase()}_FIELDS(X) \\`);
    for (const f of fieldsIn(scope)) {
      lines.push(`    X(${f.name}, ${f.id}, T_${f.type.toUpperCase()}, ${f.repeated ? 1 : 0}) \\`);
    }
    lines.push('');
    for (const f of fieldsIn(scope)) lines.push(`#define ${SCOPE_PREFIX[scope]}_${f.name} ${f.id}`);
    lines.push('');
  }
  lines.push(...Object.entries(OpKind).map(([k, v]) => `#define OP_${k.toUpperCase()} ${v}`));
  lines.push(...Object.entries(OpCreate).map(([k, v]) => `#define CREATE_${k.toUpperCase()} ${v}`));
  lines.push(...Object.entries(OpIdmap).map(([k, v]) => `#define IDMAP_${k.toUpperCase()} ${v}`));
  lines.push('');
  lines.push(...Object.entries(SHIM_FD).map(([k, v]) => `#define FD_${k.toUpperCase()} ${v}`));
  lines.push(...Object.entries(SHIM_FILES).map(([k, v]) => `#define FILE_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} "${v}"`));
  lines.push(...Object.entries(SHIM_EXIT).map(([k, v]) => `#define SHIM_EXIT_${k.toUpperCase()} ${v}`));
  lines.push('', '#endif', '');
  return lines.join('\n');
}

export function typeCode(type: FieldType): number {
  return TYPE_CODES[type];
}
