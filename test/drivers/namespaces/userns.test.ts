// User namespaces without a chown: the monitor mounts the root with idmapped lower layers
// (shim/detached.c), so one image layer serves containers of different host ranges untouched,
// and what a container writes lands on the host as its own mapped ids.

import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { start, stop, type RuntimeRecord } from '../../../src/drivers/namespaces/runtime.js';
import { requireRoot } from '../../support/root.js';
import { until } from '../../support/until.js';
import { execIn, makeHarness, mountsLeaked, specOf, type Harness } from './harness.js';

/** Every entry of a tree with its owner, mode and content digest: what "never modified" means. */
function treeDigest(dir: string): string {
  const h = createHash('sha256');
  const walk = (p: string): void => {
    const st = lstatSync(p);
    h.update(`${p.slice(dir.length)} ${st.uid}:${st.gid} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}\n`);
    if (st.isFile()) h.update(readFileSync(p));
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  };
  walk(dir);
  return h.digest('hex');
}

const RANGES = [400_000, 465_536];
const userns = (host: number): string =>
  `namespaces: {user: {enabled: true, uidMap: [{containerID: 0, hostID: ${host}, size: 65536}], gidMap: [{containerID: 0, hostID: ${host}, size: 65536}]}}`;

const root = requireRoot();
(root ? describe : describe.skip)('user namespaces with idmapped layers', () => {
  let h: Harness;
  let vol: string;
  const running: RuntimeRecord[] = [];
  beforeAll(() => {
    h = makeHarness('userns');
    vol = mkdtempSync(join(tmpdir(), 'corral-vol-'));
  });
  afterAll(async () => {
    for (const r of running) await stop(r, { timeoutMs: 100, killAll: h.cg.killAll }).catch(() => undefined);
    await h?.cleanup();
    rmSync(vol, { recursive: true, force: true });
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('one image layer, two containers of different ranges at once: root inside, its own ids on the host, the layer untouched', async () => {
    const lowerBefore = treeDigest(h.fs.lower);
    const records: RuntimeRecord[] = [];
    for (const [i, host] of RANGES.entries()) {
      const spec = await specOf(`uns-${i}`, [
        userns(host),
        'mounts: [{type: volume, name: shared, target: /data}]',
        // Root writes / (a new file), changes an image file (copy-up) and writes the volume.
        `command: [/bin/sh, -c, "touch /made-by-root; echo more >> /etc/passwd; echo ${i} > /data/from-${i}; exec sleep 1000"]`,
      ].join('\n'));
      const record = await start(h.spawnSpec(spec, { volumes: { shared: vol } }));
      running.push(record);
      records.push(record);
      const inside = await run(h, spec, record, 'cat /proc/self/uid_map | tr -s " "; id -u; stat -c "%u:%g" /bin/sh /etc/passwd');
      expect(inside.trim().split('\n')).toEqual([`0 ${host} 65536`, '0', '0:0', '0:0']);
    }
    for (const [i, host] of RANGES.entries()) {
      // The start returns once the command runs; its writes come after. The volume file is its last.
      await until(`uns-${i} to finish writing`, () => existsSync(join(vol, `from-${i}`)), 10_000);
      const upper = h.fs.layout(`uns-${i}`).upper;
      for (const f of ['made-by-root', 'etc/passwd']) {
        const st = statSync(join(upper, f));
        expect([f, st.uid, st.gid]).toEqual([f, host, host]);
      }
      // The volume is idmapped: on disk its files carry container ids, the same in any range.
      const v = statSync(join(vol, `from-${i}`));
      expect([v.uid, v.gid]).toEqual([0, 0]);
      expect(statSync(`/proc/${records[i]!.init.pid}`).uid).toBe(host);
    }
    expect(treeDigest(h.fs.lower)).toBe(lowerBefore);
  });
});

async function run(h: Harness, spec: Awaited<ReturnType<typeof specOf>>, record: RuntimeRecord, script: string): Promise<string> {
  const r = await execIn(h, spec, record, { argv: ['/bin/sh', '-c', script] });
  expect(r.code).toBe(0);
  return r.stdout;
}
