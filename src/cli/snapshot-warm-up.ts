// Run once while dist/corral.blob is built (snapshot-entry.ts): V8 keeps in the snapshot the
// bytecode of the functions that ran, so the YAML parser that `validate`, `plan` and `reconcile`
// use is not compiled again at every start (it was 20 ms of a 110 ms `corral validate` here).
// A constant text through a pure function: nothing read from the host, the result dropped.

import { loadManifestText } from '../manifest/load.js';

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

export function warmUpForSnapshot(): void {
  loadManifestText('warm-up.yaml', new TextEncoder().encode(SAMPLE));
}
