// The entry of the CLI's V8 startup snapshots: dist/corral.blob, in which the modules of every
// command but `agent` are already evaluated, and dist/corral-validate.blob, which holds `validate`
// alone (src/cli/snapshot-commands.ts; scripts/bundle.mjs builds both, bin/corral starts one).
// Node 20 has no compile cache, and loading ~170 modules cost a short command like `corral ps`
// twice the time of Node's own start. What runs at build time must not read the host, the
// environment or the clock: snapshot-warm-up.ts says what runs, test/cli/snapshot-modules.test.ts
// checks it.

import { startupSnapshot } from 'node:v8';
import { EXIT } from './exit-codes.js';
import { commandsFor, main } from './main.js';
import { SNAPSHOT_COMMANDS } from './snapshot-commands.js';
import { warmUpForSnapshot } from './snapshot-warm-up.js';

if (startupSnapshot.isBuildingSnapshot()) {
  void warmUpForSnapshot(SNAPSHOT_COMMANDS);
  startupSnapshot.setDeserializeMainFunction(() => {
    // bin/corral runs `node --snapshot-blob BLOB -- ARGS...`: process.argv holds no script name.
    const [execPath = process.execPath, ...args] = process.argv;
    const held = SNAPSHOT_COMMANDS;
    const missing = held === null ? [] : commandsFor(args).filter((c) => !held.includes(c));
    if (held !== null && missing.length > 0) {
      // bin/corral picks this snapshot only for what it holds: reaching here is a launcher bug.
      process.stderr.write(`corral: internal error (a bug; please report it): a snapshot of ${held.join(', ')} started for ${missing.join(', ')}; run \`node bin/corral\` meanwhile\n`);
      process.exitCode = EXIT.ERROR;
      return;
    }
    void main([execPath, 'corral', ...args]).then((code) => {
      process.exitCode = code;
    });
  });
}
