// Exit codes, decided in one place. `plan` and `reconcile --detailed-exitcode` follow
// Terraform/Puppet (DESIGN.md §6); every other command uses 0 (success) and 1 (error).

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
}

export function exitCodeFor(outcome: Outcome, detailed: boolean): number {
  if (outcome.error) return EXIT.ERROR;
  if (!detailed) return outcome.failures ? EXIT.ERROR : EXIT.OK;
  if (outcome.changed && outcome.failures) return EXIT.CHANGES_AND_FAILURES;
  if (outcome.failures) return EXIT.FAILURES;
  return outcome.changed ? EXIT.CHANGES : EXIT.OK;
}
