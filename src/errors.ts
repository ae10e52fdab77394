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

  // Cross-field and cross-file checks (checks.ts)
  MANIFEST_DUPLICATE_NAME: 'two manifests define the same container name',
  MANIFEST_DUPLICATE_ENTRY: 'a list repeats an entry that must be unique (env name, mount target, port)',
  MANIFEST_PATH_TRICK: 'a path is relative, not canonical, or escapes where it must stay',
  MANIFEST_CONFLICT: 'two fields contradict each other',
  MANIFEST_UNKNOWN_REFERENCE: 'a field names a container that no manifest defines',
  MANIFEST_DEPENDENCY_CYCLE: 'dependsOn forms a cycle',
  MANIFEST_OUT_OF_RANGE: 'a value is outside what the kernel accepts',
  MANIFEST_NOT_WANTED_HERE: 'the manifest targets other hosts (warning only)',
  MANIFEST_RISKY: 'the manifest weakens isolation (warning only)',

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

function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}
