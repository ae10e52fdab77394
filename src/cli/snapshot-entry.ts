// The entry of dist/corral.blob: a V8 startup snapshot of the CLI, in which the modules every
// command needs are already loaded (scripts/bundle.mjs builds it; bin/corral starts it). Node 20
// has no compile cache, and loading ~170 modules cost a short command like `corral ps` twice the
// time of Node's own start. A command's own modules still load when it runs (main.ts imports
// them lazily), so nothing that reads the host, the environment or the clock runs at build time.

import { startupSnapshot } from 'node:v8';
import { main } from './main.js';
import { warmUpForSnapshot } from './snapshot-warm-up.js';

if (startupSnapshot.isBuildingSnapshot()) {
  warmUpForSnapshot();
  startupSnapshot.setDeserializeMainFunction(() => {
    // bin/corral runs `node --snapshot-blob BLOB -- ARGS...`: process.argv holds no script name.
    const [execPath = process.execPath, ...args] = process.argv;
    void main([execPath, 'corral', ...args]).then((code) => {
      process.exitCode = code;
    });
  });
}
