// How a failed step is reported: the error's own code, untouched (a driver's CGROUP_*, an
// environmental ENOSPC as STATE_DISK_FULL, a TIMEOUT...); only an error without a code becomes
// APPLY_FAILED. The message says which step of which container failed.

import { diagnostic, environmentCode, isCorralError, type Diagnostic } from '../../errors.js';

export function stepDiagnostic(err: unknown, container: string, what: string): Diagnostic {
  // A full, read-only or refusing filesystem is the host's doing: say so by code.
  const environmental = environmentCode(err);
  if (environmental) return diagnostic('error', environmental, `${what}: ${(err as Error).message}`, { container });
  if (isCorralError(err)) {
    return diagnostic('error', err.code, `${what}: ${err.summary}`, {
      container, ...(err.hint ? { hint: err.hint } : {}), ...(err.detail ? { detail: err.detail } : {}),
    });
  }
  return diagnostic('error', 'APPLY_FAILED', `${what}: ${err instanceof Error ? err.message : String(err)}`, { container });
}
