// One error vocabulary for all of corral. Every failure a user can see carries a stable `code`
// from this table: scripts match on the code, humans read the summary. Codes are never renamed
// or reused; retire one by leaving it here with a comment.
//
// This file is part of the pure core (tsconfig.core.json): no Node imports.

export const ErrorCodes = {
  // Reading manifests (load.ts)
  MANIFEST_DIR_MISSING: 'the manifest directory does not exist',
  MANIFEST_NOT_FOUND: 'a manifest file given on the command line does not exist',
  MANIFEST_READ_FAILED: 'a manifest file could not be read',
  MANIFEST_NOT_UTF8: 'a manifest file is not valid UTF-8',
  MANIFEST_TOO_LARGE: 'a manifest file is larger than the size limit',
  MANIFEST_TOO_MANY_DOCUMENTS: 'a manifest file holds more YAML documents than the limit',
  MANIFEST_TOO_MANY_FILES: 'the manifest directory holds more files than the limit',
  MANIFEST_YAML_SYNTAX: 'a manifest is not well-formed YAML',
  MANIFEST_DUPLICATE_KEY: 'a mapping in a manifest repeats a key',
  MANIFEST_ALIAS_LIMIT: 'a manifest uses more YAML aliases than the limit (alias bomb guard)',
  MANIFEST_DEPTH_LIMIT: 'a manifest nests deeper than the limit',
  MANIFEST_YAML_FEATURE: 'a manifest uses a YAML feature corral refuses (custom tags, non-string keys)',
  MANIFEST_NOT_A_MAPPING: 'a YAML document is not a mapping',

  // Schema (validate.ts)
  MANIFEST_REQUIRED_FIELD: 'a required field is missing',
  MANIFEST_UNKNOWN_FIELD: 'a field is not part of the format',
  MANIFEST_WRONG_TYPE: 'a field has the wrong type',
  MANIFEST_INVALID_VALUE: 'a field has a value outside the allowed set or range',
  MANIFEST_INVALID_FORMAT: 'a field does not have the expected format (quantity, duration, path...)',
  MANIFEST_BAD_API_VERSION: 'apiVersion or kind is not one corral understands',

  // Cross-field and cross-file checks (src/manifest/checks/)
  MANIFEST_DUPLICATE_NAME: 'two manifests define the same container name, or the same network name',
  MANIFEST_DUPLICATE_ENTRY: 'a list repeats an entry that must be unique (env name, mount target, port)',
  MANIFEST_PATH_TRICK: 'a path is relative, not canonical, or escapes where it must stay',
  MANIFEST_CONFLICT: 'two fields contradict each other',
  MANIFEST_UNKNOWN_REFERENCE: 'a field names a container or a network that no manifest defines',
  MANIFEST_DEPENDENCY_CYCLE: 'dependsOn forms a cycle',
  MANIFEST_OUT_OF_RANGE: 'a value is outside what the kernel accepts',
  MANIFEST_NOT_WANTED_HERE: 'the manifest targets other hosts (warning only)',
  MANIFEST_RISKY: 'the manifest weakens isolation (warning only)',

  // Parts of the format not built yet (refused by the driver that will build them)
  NOT_SUPPORTED: 'a manifest field or mode is part of the format but not built yet (such as bridge networking); it is refused at validate and plan time',

  // Kernel and host
  SYSCALL_FAILED: 'a system call failed; the message names the call, its arguments and the errno',
  NO_SPACE: 'a filesystem corral writes to is full (or over its quota); the message names it. Stopping and removing containers still works',
  READ_ONLY_FILESYSTEM: 'a filesystem corral must write to is mounted read-only; the message names it',
  PERMISSION_DENIED: 'the kernel refused corral access to a file or operation (corral runs as root: look for a security module, an immutable file or a foreign owner)',
  TOO_MANY_OPEN_FILES: 'corral ran out of file descriptors (its own limit or the system\'s)',
  HOST_UNSUPPORTED: 'this host lacks a kernel feature corral needs for the request',

  // Users inside the container (src/drivers/overlay/user-lookup.ts, container-files.ts)
  USER_NOT_FOUND: 'a user or group given by name is not in the container\'s /etc/passwd or /etc/group; the message names the file',
  CONTAINER_FILE_TOO_LARGE: 'a file corral reads from a container\'s root (/etc/passwd, /etc/group) is larger than it reads; the message names it',
  USER_DB_INVALID: 'the container\'s /etc/passwd or /etc/group cannot be used (larger than 4 MiB, or not a regular file); the message names the file',

  // cgroups driver (src/drivers/cgroups)
  CGROUP_KNOB_UNAVAILABLE: 'the manifest asks for a cgroup knob this host does not offer (reported at plan time)',
  CGROUP_WRITE_FAILED: 'writing a cgroup control file failed; the message names the file and the value',
  CGROUP_READ_FAILED: 'reading a cgroup control file failed, or it holds a value corral cannot parse; the message names the file',
  CGROUP_GONE: 'a container\'s cgroup directory vanished (removed by hand, or its creation was interrupted)',
  CGROUP_BUSY: 'a cgroup could not be removed because processes are still in it',
  CGROUP_NOT_OWNED: 'corral refuses to touch a cgroup it did not create',

  // overlay driver, images and volumes (src/drivers/overlay)
  OVERLAY_UNSUPPORTED: 'the overlay layout cannot work here (upper on overlayfs/NFS, upper and work on different filesystems...)',
  OVERLAY_MOUNT_FAILED: 'mounting the container root failed',
  ROOTFS_PATH_MISSING: '`rootfs.path` does not exist or is not a directory',
  IMAGE_NOT_FOUND: 'no image of that name was imported',
  IMAGE_IN_USE: 'the image is used by a container and cannot be removed',
  IMAGE_INVALID: 'an image archive or OCI layout is corrupt or malformed',
  IMAGE_DIGEST_MISMATCH: 'a layer or config does not match its digest',
  IMAGE_UNSAFE_ENTRY: 'an archive entry would write outside the image (`..`, absolute path, link escape) or is a device node',
  IMAGE_REFERENCE_INVALID: 'an image reference (registry/repository:tag@digest) does not follow the distribution grammar',
  REGISTRY_ERROR: 'a registry could not be reached, answered with an error, or sent something malformed; the message names the URL',
  REGISTRY_AUTH_FAILED: 'a registry refused the credentials, or wants some and none were found; the message names the registry and the credential file',
  VOLUME_NOT_FOUND: 'no volume of that name exists',
  VOLUME_IN_USE: 'the volume is mounted by a container and cannot be removed',
  VOLUME_INVALID: 'a volume name is not a DNS label, or its directory is not what corral created',
  MOUNT_SOURCE_MISSING: 'a bind mount source does not exist on this host',
  STORAGE_QUOTA_UNAVAILABLE: '`storage.size` asks for a writable-layer limit the state root\'s filesystem cannot enforce (no project quotas)',
  ROOTFS_BUSY: 'something is still mounted inside a container\'s rootfs directories; corral will not delete through a mount',

  // network driver: bridges, addresses, published ports (src/drivers/network)
  NETWORK_TOOL_MISSING: 'bridge networking needs `ip` (iproute2), `nft` (nftables) and `nsenter` (util-linux); the message names what is missing',
  NETWORK_SUBNET_CONFLICT: 'a network\'s subnet overlaps a route of the host or another network\'s subnet, or its bridge name is taken by an interface corral did not create',
  NETWORK_ADDRESS_CONFLICT: 'a fixed `network.address` is outside the subnet, reserved, or leased to another container; or the subnet is full',
  NETWORK_IN_USE: 'a network that is to be removed or rebuilt is still joined by a container that stays: it waits until that container leaves it',
  NETWORK_PORT_CONFLICT: 'a published host port is already taken by a process of the host',
  NETWORK_SETUP_FAILED: 'an `ip` or `nft` command failed while wiring a container\'s network; the message names the command and its error',
  NETWORK_FORWARDING: 'corral turns on net.ipv4.ip_forward for bridged containers (warning only)',
  NETWORK_DRIFT: 'corral\'s nftables table was removed or changed outside corral and was restored (warning only)',

  // runtime: shim, start, stop, exec (src/drivers/namespaces)
  SHIM_MISSING: 'the shim binary is not built (run `npm install`; it needs a C compiler)',
  SHIM_PROTOCOL: 'the shim and corral disagree on the spawn-spec protocol (version or malformed message)',
  CONTAINER_SETUP_FAILED: 'the container failed while being set up, before its command ran; the message names the step',
  CONTAINER_PATH_UNSAFE: 'a path of the container (working directory, /dev/null for masks, the pty) resolves outside its root, through a /proc magic link, or to an object that is not what it must be; refused',
  CONTAINER_NOT_FOUND: 'no container of that name is known',
  CONTAINER_NOT_RUNNING: 'the container is not running',
  EXEC_FAILED: 'running a command inside the container failed',
  STOP_TIMEOUT: 'the container did not stop in time and was killed',
  FILE_SOURCE_UNAVAILABLE: 'the source of a secret or config file (a host file, an environment variable of corral, a systemd credential) is missing, unreadable or over 1 MiB; the message names the source, never the content',
  SECCOMP_PROFILE_INVALID: 'a seccomp profile file is missing, unreadable, not JSON, or not a profile corral can compile; the message names the file and the JSON path',

  // state and reconciler (src/state, src/reconciler)
  STATE_CORRUPT: 'a state record cannot be read; it is set aside and the container is re-inspected',
  STATE_LOCKED: 'another corral holds the state lock',
  STATE_TRANSITION: 'an impossible container status change was requested (a bug)',
  PLAN_STALE: 'the state changed since the plan was made; plan again',
  PLAN_ERRORED: 'the plan has errors and cannot be applied',
  APPLY_FAILED: 'applying a change to a container failed',
  PRUNE_REFUSED: 'the manifest set is empty or missing while containers run; nothing is pruned without --allow-empty',
  TIMEOUT: 'a step took longer than its timeout',
  ABORTED: 'a step was stopped before it finished: the agent is stopping, or the command was interrupted',

  // agent (src/watch, agent command)
  AGENT_NOT_RUNNING: 'no agent is running for this state root',

  // CLI
  CLI_USAGE: 'the command line is not valid',
  INTERNAL: 'a bug in corral: please report it with the log',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export type Severity = 'error' | 'warning';

/** A place in a manifest file. Lines and columns count from 1. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * A problem found while handling user input. Diagnostics are collected, never thrown one at a
 * time: a user fixing a manifest wants every problem in one run.
 */
export interface Diagnostic {
  readonly severity: Severity;
  readonly code: ErrorCode;
  /** One line, lower case, objects in backquotes: "unknown field `memroy`". */
  readonly summary: string;
  /** What was expected, or more context. */
  readonly detail?: string;
  /** How to fix it, when corral can tell: "did you mean `memory`?". */
  readonly hint?: string;
  /** The container the problem belongs to, when known. */
  readonly container?: string;
  /** The network (`kind: Network`) the problem belongs to, when it is one. */
  readonly network?: string;
  /** Dotted field path inside the document: `spec.resources.memory`, `spec.mounts[2].target`. */
  readonly field?: string;
  readonly source?: SourceLocation;
}

const brand: unique symbol = Symbol.for('corral.error');

export interface CorralErrorInit {
  readonly detail?: string;
  readonly hint?: string;
  readonly container?: string;
  readonly field?: string;
  readonly source?: SourceLocation;
  readonly cause?: unknown;
  /** Several diagnostics that together make this error (e.g. an invalid manifest set). */
  readonly diagnostics?: readonly Diagnostic[];
}

/** The one error type corral throws. Match it with `isCorralError` and its `code`, not instanceof. */
export class CorralError extends Error {
  readonly [brand] = true;
  readonly code: ErrorCode;
  readonly summary: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly container: string | undefined;
  readonly field: string | undefined;
  readonly source: SourceLocation | undefined;
  readonly diagnostics: readonly Diagnostic[];

  constructor(code: ErrorCode, summary: string, init: CorralErrorInit = {}) {
    super(summary, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'CorralError';
    this.code = code;
    this.summary = summary;
    this.detail = init.detail;
    this.hint = init.hint;
    this.container = init.container;
    this.field = init.field;
    this.source = init.source;
    this.diagnostics = init.diagnostics ?? [];
  }

  toDiagnostic(severity: Severity = 'error'): Diagnostic {
    return compact({
      severity,
      code: this.code,
      summary: this.summary,
      detail: this.detail,
      hint: this.hint,
      container: this.container,
      field: this.field,
      source: this.source,
    });
  }

  toJSON(): Record<string, unknown> {
    return { ...this.toDiagnostic(), diagnostics: this.diagnostics.length ? this.diagnostics : undefined };
  }
}

export function isCorralError(value: unknown): value is CorralError {
  return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true;
}

export function hasCode(value: unknown, code: ErrorCode): value is CorralError {
  return isCorralError(value) && value.code === code;
}

/** Builds a Diagnostic, dropping fields that are undefined so JSON output stays tidy. */
export function diagnostic(
  severity: Severity,
  code: ErrorCode,
  summary: string,
  extra: Omit<Diagnostic, 'severity' | 'code' | 'summary'> = {},
): Diagnostic {
  return compact({ severity, code, summary, ...extra });
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Something that holds a resource until disposed (a lock, a watch, a subscription). */
export interface Disposable {
  dispose(): void;
}

function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

/**
 * A failed system call, with what it was asked to do: `mount \`overlay\` on \`/x\` (flags
 * MS_NODEV|MS_NOSUID, data \`lowerdir=…\`): EPERM (operation not permitted)`. Like runc's mountError,
 * applied to every call corral makes through koffi.
 */
export class SyscallError extends CorralError {
  readonly op: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly errno: number;
  readonly errnoName: string;

  constructor(op: string, args: Readonly<Record<string, unknown>>, errno: number, errnoName: string, description: string, context?: string) {
    const shown = Object.entries(args)
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${k} ${typeof v === 'string' ? `\`${v}\`` : String(v)}`)
      .join(', ');
    super('SYSCALL_FAILED', `${context ? `${context}: ` : ''}${op}${shown ? ` (${shown})` : ''}: ${errnoName} (${description})`);
    this.name = 'SyscallError';
    this.op = op;
    this.args = args;
    this.errno = errno;
    this.errnoName = errnoName;
  }
}

export function isSyscallError(value: unknown, errnoName?: string): value is SyscallError {
  return hasCode(value, 'SYSCALL_FAILED') && (errnoName === undefined || (value as SyscallError).errnoName === errnoName);
}

/**
 * errno names that mean the host, not corral, is in the way: a full or read-only filesystem, a
 * refusal, a descriptor limit. Each has its own code so a user (and a script) can act on it.
 */
const ENVIRONMENT_ERRNOS: Readonly<Record<string, ErrorCode>> = {
  ENOSPC: 'NO_SPACE', EDQUOT: 'NO_SPACE', EROFS: 'READ_ONLY_FILESYSTEM', EACCES: 'PERMISSION_DENIED', EPERM: 'PERMISSION_DENIED',
  EMFILE: 'TOO_MANY_OPEN_FILES', ENFILE: 'TOO_MANY_OPEN_FILES',
};

/** The errno name an error carries (a SyscallError, a Node system error), following `cause`. */
export function errnoOf(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isSyscallError(e)) return e.errnoName;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return null;
}

/**
 * The code of an environmental failure, or null. Only raw system errors count: a CorralError
 * with its own code (a container's setup refused with EPERM, say) already says what happened.
 */
export function environmentCode(err: unknown): ErrorCode | null {
  if (isCorralError(err) && err.code !== 'SYSCALL_FAILED') return null;
  const name = errnoOf(err);
  return name === null ? null : ENVIRONMENT_ERRNOS[name] ?? null;
}
