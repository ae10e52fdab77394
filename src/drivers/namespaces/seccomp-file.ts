// `security.seccomp: {file}`: reading the profile from disk, for the three moments that need it.
// Plan time checks it (checkSeccompProfile) and hashes it (seccompProfileDigest, so editing the
// profile restarts the container); spawn time compiles it (seccompProgramFromFile). The parsing
// and compiling live in the pure seccomp-profile.ts and seccomp-compile.ts.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { CorralError, diagnostic, isCorralError, type Diagnostic } from '../../errors.js';
import { DEFAULT_CAPABILITIES } from '../../manifest/defaults.js';
import { compileSeccompProfile, type CompiledSeccomp } from './seccomp-compile.js';
import { PROFILE_FIELD, parseSeccompProfile, type SeccompProfile } from './seccomp-profile.js';

/** Far above any real profile (Docker's default is ~20 KB); a bound on what a typo can make us read. */
export const MAX_PROFILE_BYTES = 1 << 20;

export interface SeccompFileOptions {
  /** `process.arch` of the host the container runs on. Default: this process's. */
  readonly arch?: string;
  /** The container's final capability set (`spec.security.capabilities`). Default: corral's defaults. */
  readonly capabilities?: readonly string[];
  /** Named in the diagnostics. */
  readonly container?: string;
}

function where(container: string | undefined): { container?: string } {
  return container ? { container } : {};
}

function readProfileBytes(path: string, container?: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const summary = code === 'ENOENT' ? `seccomp profile \`${path}\` does not exist`
      : code === 'EISDIR' ? `seccomp profile \`${path}\` is a directory, not a file`
        : `seccomp profile \`${path}\` cannot be read: ${code ?? String(e)}`;
    throw new CorralError('SECCOMP_PROFILE_INVALID', summary, { field: PROFILE_FIELD, ...where(container), cause: e });
  }
  if (bytes.length > MAX_PROFILE_BYTES) {
    throw new CorralError('SECCOMP_PROFILE_INVALID', `seccomp profile \`${path}\` is ${bytes.length} bytes, more than the limit of ${MAX_PROFILE_BYTES}`, {
      field: PROFILE_FIELD, ...where(container),
    });
  }
  return bytes;
}

/** Reads and parses a profile. Throws SECCOMP_PROFILE_INVALID naming the file (and JSON path). */
export function readSeccompProfile(path: string, container?: string): SeccompProfile {
  const bytes = readProfileBytes(path, container);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new CorralError('SECCOMP_PROFILE_INVALID', `seccomp profile \`${path}\` is not UTF-8 text`, { field: PROFILE_FIELD, ...where(container), cause: e });
  }
  try {
    return parseSeccompProfile(text, path);
  } catch (e) {
    if (isCorralError(e) && container) {
      throw new CorralError(e.code, e.summary, {
        container, field: e.field, detail: e.detail, hint: e.hint, source: e.source, cause: e.cause,
        diagnostics: e.diagnostics.map((d) => ({ ...d, container })),
      });
    }
    throw e;
  }
}

function checkArch(arch: string, path: string, container?: string): void {
  if (arch === 'x64') return;
  throw new CorralError('HOST_UNSUPPORTED', `seccomp profile \`${path}\`: corral compiles profiles for x86-64 only, not \`${arch}\``, {
    field: 'spec.security.seccomp', ...where(container), hint: 'set `security.seccomp: unconfined` on this host',
  });
}

function compile(path: string, opts: SeccompFileOptions): CompiledSeccomp {
  checkArch(opts.arch ?? process.arch, path, opts.container);
  return compileSeccompProfile(readSeccompProfile(path, opts.container), {
    capabilities: opts.capabilities ?? DEFAULT_CAPABILITIES,
    kernelRelease: release(),
    ...where(opts.container),
  });
}

/** The BPF program for a container with `security.seccomp: {file: path}`. Throws CorralError. */
export function seccompProgramFromFile(path: string, opts: SeccompFileOptions = {}): Uint8Array {
  return compile(path, opts).program;
}

/**
 * Plan-time check: every problem with the profile as error diagnostics (SECCOMP_PROFILE_INVALID,
 * or HOST_UNSUPPORTED on a host that is not x86-64), plus warnings (unknown syscall names,
 * ignored flags) worth logging. Never throws for a bad profile.
 */
export function checkSeccompProfile(path: string, opts: SeccompFileOptions = {}): Diagnostic[] {
  try {
    return [...compile(path, opts).warnings];
  } catch (e) {
    if (!isCorralError(e)) {
      return [diagnostic('error', 'SECCOMP_PROFILE_INVALID', `seccomp profile \`${path}\` cannot be checked: ${String(e)}`, { field: PROFILE_FIELD, ...where(opts.container) })];
    }
    return e.diagnostics.length > 0 ? [...e.diagnostics] : [e.toDiagnostic()];
  }
}

/** `sha256:<hex>` of the file's bytes, for the spec hash. Throws SECCOMP_PROFILE_INVALID when unreadable. */
export function seccompProfileDigest(path: string): string {
  return `sha256:${createHash('sha256').update(readProfileBytes(path)).digest('hex')}`;
}
