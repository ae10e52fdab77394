// The cost of a state record write (`store.put`: checksum, the kept previous version, fsync) and of
// a cold load, on the filesystem of DIR (default /var/tmp): what every reconcile step pays.
// Usage: node bench/state.mjs [writes] [dir]   (npm run bench:state; run `npm run build` first)

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { normalize } from '../dist/manifest/normalize.js';
import { layout } from '../dist/state/layout.js';
import { StateStore } from '../dist/state/store.js';
import { emitResult, row } from './lib/result.mjs';

const N = Number(process.argv[2] ?? 300);
const dir = mkdtempSync(join(process.argv[3] ?? '/var/tmp', 'corral-bench-state-'));
try {
  const store = new StateStore(layout(dir));
  await store.load();
  const spec = normalize({ apiVersion: 'corral/v1', kind: 'Container', metadata: { name: 'web' }, spec: { rootfs: { host: {} }, command: ['/bin/sh'] } }, '/m/web.yaml');
  const record = {
    format: 1, name: 'web', status: 'running', desiredState: 'running', spec, hash: 'sha256:x', references: {}, origin: null,
    createdAt: new Date().toISOString(), startedAt: null, cgroup: null, rootfs: null, runtime: null, userRange: null, restarts: 0,
    lastExit: null, backoff: { delayMs: 0, nextStartAt: null }, health: null, error: null, serial: 0,
  };
  for (let i = 0; i < 20; i++) await store.put(record);
  let t = performance.now();
  for (let i = 0; i < N; i++) await store.put({ ...record, restarts: i });
  const put = (performance.now() - t) / N;
  t = performance.now();
  for (let i = 0; i < N; i++) await new StateStore(layout(dir)).load();
  const load = (performance.now() - t) / N;
  console.log(`state record on ${dir}: put ${put.toFixed(3)} ms, cold load of one record ${load.toFixed(3)} ms (${N} each)`);
  emitResult({ bench: 'state', unit: 'ms', rows: [row('corral', 'record put (fsync)', put), row('corral', 'cold load of one record', load)], params: { writes: N, dir } });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
