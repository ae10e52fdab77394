// The host ports for a bench that drives the reconciler in process: built with the options the CLI
// gives them (src/cli/open-host.ts), for a bench's own state root and cgroup parent. dist/ must be built.

import { createLogger } from '../../dist/cli/logging.js';
import { networkNamesFor } from '../../dist/cli/open-host.js';
import { createPorts } from '../../dist/compose.js';
import { layout } from '../../dist/state/layout.js';
import { ensureRootId } from '../../dist/state/root-id.js';
import { subidConfig } from '../../dist/state/subid-pool.js';

export async function benchPorts(root, cgroupParent) {
  const l = layout(root);
  const rootId = await ensureRootId(l);
  const ports = await createPorts(l, createLogger('error', false), { cgroupParent, rootId, network: networkNamesFor(root, rootId), subid: subidConfig(process.env) });
  return { layout: l, rootId, ports };
}
