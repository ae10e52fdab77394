// Which commands a startup snapshot holds evaluated (src/cli/snapshot-entry.ts). null: every one
// but `agent`, as in dist/corral.blob. scripts/bundle.mjs replaces this module in the bundle of a
// smaller snapshot with the list it holds (dist/corral-validate.blob: `validate` alone), and
// leaves the other commands' modules out of that bundle.

export const SNAPSHOT_COMMANDS: readonly string[] | null = null;
