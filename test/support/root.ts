// Tests that need root: in CI (CI=true) a missing privilege is a failure, never a silent skip.
// Elsewhere they are skipped with a note, so a developer without root can still run the rest.

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Returns true when the test may go on; throws in CI when it cannot. */
export function requireRoot(): boolean {
  if (isRoot()) return true;
  if (process.env['CI'] === 'true') throw new Error('this test needs root, and CI=true forbids skipping it');
  process.stderr.write('skipped: needs root\n');
  return false;
}
