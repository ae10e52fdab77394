// Exit codes, decided in one place. `plan` and `reconcile --detailed-exitcode` follow
// Terraform/Puppet (docs/architecture.md, "Exit codes and output for config management"); every
// other command uses 0 (success) and 1 (error).
//
// A container that should run but waits for a retry (a failed start, a crash loop, failed health
// checks in backoff) is no change, but the host is not converged either: it counts as a failure,
// so a config-management run never reports such a host as clean (4, or 6 with changes, under
// --detailed-exitcode; 1 for `reconcile --once` without it). `plan` without --detailed-exitcode
// only reports: 0 unless it could not plan.

export const EXIT = {
  OK: 0,
  ERROR: 1,
  CHANGES: 2,
  FAILURES: 4,
  CHANGES_AND_FAILURES: 6,
} as const;

export interface Outcome {
  /** The command could not do its job (bad input, lock held, internal error). */
  readonly error: boolean;
  /** Something on the host changed (or, for `plan`, would change). */
  readonly changed: boolean;
  /** Some container actions failed while others may have succeeded. */
  readonly failures: boolean;
  /** Some containers should run but wait for a retry (plan.ts `failingChanges`). */
  readonly failing: boolean;
}

/**
 * `plan` (and `reconcile --dry-run`) only report: without --detailed-exitcode, failing containers
 * do not make them fail. `apply`: they do, like failed actions.
 */
export type ExitKind = 'plan' | 'apply';

export function exitCodeFor(outcome: Outcome, detailed: boolean, kind: ExitKind = 'apply'): number {
  if (outcome.error) return EXIT.ERROR;
  const failed = outcome.failures || outcome.failing;
  if (!detailed) return outcome.failures || (outcome.failing && kind === 'apply') ? EXIT.ERROR : EXIT.OK;
  if (outcome.changed && failed) return EXIT.CHANGES_AND_FAILURES;
  if (failed) return EXIT.FAILURES;
  return outcome.changed ? EXIT.CHANGES : EXIT.OK;
}
