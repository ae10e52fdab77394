// Run once while dist/corral.blob is built (snapshot-entry.ts). Two things are kept in the
// snapshot that every run would otherwise pay for:
// - the modules of the commands, evaluated (lazy module evaluation was 27 ms of a 94 ms `corral
//   ps` here). That is only sound while no module reads the host, the environment or the clock
//   when it loads: test/cli/snapshot-modules.test.ts holds them to it. `agent` is left out: it
//   runs for days, and its watcher and prom-client need not be in every command's heap;
// - the bytecode of the functions that ran: the YAML parser and the schema check that `validate`,
//   `plan` and `reconcile` use are not compiled again at every start (the parser alone was 20 ms
//   of a 110 ms `corral validate`).
// A constant text through pure functions, the results dropped. The schema file is read here, and
// forgotten: each run reads it again and checks it against the prebuilt check's digest.

import type { ManifestSource } from '../manifest/manifest-set.js';
import { loadManifestSet } from '../manifest/manifest-set.js';
import { forgetSchemaValidator, loadSchemaValidator } from '../inputs/prebuilt-schema.js';
import { buildProgram, COMMAND_NAMES } from './main.js';

const SAMPLE = [
  'apiVersion: corral/v1',
  'kind: Container',
  'metadata:',
  '  name: warm-up',
  '  labels: {tier: "web"}',
  'spec:',
  '  rootfs: {host: {}}',
  '  command: [/bin/sleep, "1"]',
  '  env:',
  '    A: "1"',
  '  resources: {memory: 16Mi, pids: 16}',
  '---',
  '# a comment, a block list and a quoted scalar',
  'kind: Network',
  'items:',
  '  - a',
  "  - 'b'",
  '  - {c: d}',
  '',
].join('\n');

/** `commands`: those the snapshot holds (src/cli/snapshot-commands.ts); null for all but `agent`. */
export async function warmUpForSnapshot(commands: readonly string[] | null): Promise<void> {
  await buildProgram(commands ?? COMMAND_NAMES.filter((name) => name !== 'agent'));
  const bytes = new TextEncoder().encode(SAMPLE);
  const source: ManifestSource = {
    list: async () => ({ files: [{ path: '/warm-up/app.yaml', size: bytes.length }], missing: false, diagnostics: [] }),
    read: async () => bytes,
  };
  await loadManifestSet(source, { validator: await loadSchemaValidator() });
  forgetSchemaValidator();
}
