// A warm reconcile pass timed in process, as the agent runs one once it is up: manifests through
// its cache, inspect of every container, plan; nothing to apply (the plan must be empty). Shared by
// bench/reconcile.mjs and bench/density.mjs. dist/ must be built.

import { performance } from 'node:perf_hooks';
import { directorySource } from '../../dist/inputs/manifest-source.js';
import { schemaValidator } from '../../dist/inputs/schema.js';
import { ManifestCache, loadManifestSet } from '../../dist/manifest/manifest-set.js';
import { HostCheckMemo } from '../../dist/reconciler/host-checks.js';
import { reconcileOnce } from '../../dist/reconciler/reconcile.js';
import { resyncBatch } from '../../dist/agent/resync-batches.js';
import { layout } from '../../dist/state/layout.js';
import { StateStore } from '../../dist/state/store.js';
import { installNativeSha256 } from '../../dist/sys/native-sha256.js';
import { benchPorts } from './ports.mjs';

/**
 * Runs `warmup + runs` passes over the manifests in `dir` against the state root `root` and the
 * cgroup parent `parent`; returns the timings (ms) of the last `runs`: whole pass, the manifest
 * part and the inspect + refresh + plan part. `inspection`: `full` (a resync of a small host, SIGHUP:
 * every cgroup knob and ownership mark read) or `light`: a pass for an event as the agent runs it
 * (src/agent/agent.ts), no knob read, and every running container vouched for by a silent exit
 * watch (the steady state: nothing exited), its host checks kept from the pass before; or
 * `resync`: a resync of the agent on a host of more than 100 containers, one batch read in full
 * (src/agent/resync-batches.ts) and the others as for an event.
 */
export async function warmPasses({ root, parent, dir, runs, warmup = 2, inspection = 'full' }) {
  // As the agent's process has it (src/cli/main.ts installs Node's sha256 for the change hash).
  installNativeSha256();
  const { ports } = await benchPorts(root, parent);
  const store = new StateStore(layout(root));
  const validator = schemaValidator();
  const cache = new ManifestCache();
  const out = { pass: [], load: [], plan: [] };
  const scope = inspection === 'light' ? { drift: () => false, orphans: false, vouched: (r) => r.status === 'running' }
    : inspection === 'resync' ? resyncScope(await countRecords(store)) : inspection;
  const hostChecks = inspection === 'full' ? undefined : new HostCheckMemo();
  for (let i = 0; i < warmup + runs; i++) {
    const a = performance.now();
    const set = await loadManifestSet(directorySource(dir), { validator, cache });
    const b = performance.now();
    const outcome = await reconcileOnce(set, ports, store, { dryRun: true, allowEmpty: false, parallelism: 4, stepTimeoutMs: 60_000, inspection: scope, hostChecks });
    const c = performance.now();
    if (outcome.plan.changes.some((ch) => ch.action !== 'none')) throw new Error('warm plan is not empty');
    if (i >= warmup) {
      out.pass.push(c - a);
      out.load.push(b - a);
      out.plan.push(c - b);
    }
  }
  return out;
}

async function countRecords(store) {
  return (await store.load()).records.length;
}

/** The agent's second resync (its first batch without the orphan look), every watch silent. */
function resyncScope(containers) {
  const batch = resyncBatch(1, containers);
  if (batch === 'full') return 'full';
  return { ...batch, vouched: (r) => !batch.drift(r.name) && r.status === 'running' };
}
