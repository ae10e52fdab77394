// The entry of dist/corral.blob: a V8 startup snapshot of the CLI, in which the modules of every
// command but `agent` are already evaluated (scripts/bundle.mjs builds it; bin/corral starts it).
// Node 20 has no compile cache, and loading ~170 modules cost a short command like `corral ps`
// twice the time of Node's own start. What runs at build time must not read the host, the
// environment or the clock: snapshot-warm-up.ts says what runs, test/cli/snapshot-modules.test.ts
// checks it.

import { startupSnapshot } from 'node:v8';
import { main } from './main.js';
import { warmUpForSnapshot } from './snapshot-warm-up.js';

if (startupSnapshot.isBuildingSnapshot()) {
  void warmUpForSnapshot();
  startupSnapshot.setDeserializeMainFunction(() => {
    // bin/corral runs `node --snapshot-blob BLOB -- ARGS...`: process.argv holds no script name.
    const [execPath = process.execPath, ...args] = process.argv;
    void main([execPath, 'corral', ...args]).then((code) => {
      process.exitCode = code;
    });
  });
}
