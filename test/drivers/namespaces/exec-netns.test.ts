// `exec` into a running container (its namespaces, root, cgroups, environment), user namespaces,
// and the network modes none / host / container:NAME.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { start, stop, type RuntimeRecord } from '../../../src/drivers/namespaces/runtime.js';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { requireRoot } from '../../support/root.js';
import { execIn, makeHarness, mountsLeaked, specOf, type Harness } from './harness.js';

const HOST_RANGE = 300000;

const root = requireRoot();
(root ? describe : describe.skip)('exec, user namespaces, network modes', () => {
  let h: Harness;
  let vol: string;
  const running: RuntimeRecord[] = [];
  beforeAll(() => {
    h = makeHarness('exec');
    vol = mkdtempSync(join(tmpdir(), 'corral-vol-'));
  });
  afterAll(async () => {
    for (const r of running) await stop(r, { timeoutMs: 100, killAll: h.cg.killAll }).catch(() => undefined);
    await h?.cleanup();
    rmSync(vol, { recursive: true, force: true });
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('exec sees the same pid namespace, root, hostname and the manifest environment; its exit code comes back', async () => {
    const spec = await specOf('target', 'hostname: execbox\nenv: {GREETING: hi}\ncommand: [/bin/sh, -c, "echo marker > /root/marker; exec sleep 1000"]');
    const record = await start(h.spawnSpec(spec));
    running.push(record);
    const r = await execIn(h, spec, record, { argv: ['/bin/sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; hostname; cat /root/marker; echo $GREETING $EXTRA; echo $$; grep CapEff /proc/self/status'], env: ['EXTRA=x'] });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('sleep 1000 ');
    expect(lines[1]).toBe('execbox');
    expect(lines[2]).toBe('marker');
    expect(lines[3]).toBe('hi x');
    expect(Number(lines[4])).toBeGreaterThan(1);
    expect(lines[5]).toBe('CapEff:\t00000000a80425fb');
    // The exec'd process joined the container's cgroups.
    const code = await execIn(h, spec, record, { argv: ['/bin/sh', '-c', 'exit 7'] });
    expect(code.code).toBe(7);
    const user = await execIn(h, spec, record, { argv: ['/bin/sh', '-c', 'id -u; id -g; pwd'], uid: 1234, gid: 55, cwd: '/tmp' });
    expect(user.stdout).toBe('1234\n55\n/tmp\n');
    const missing = await execIn(h, spec, record, { argv: ['/nope'] }).catch((e: unknown) => e);
    expect((missing as Error).message).toBe('container `target`: exec /nope: ENOENT');
  });

  test('with a user namespace, root inside is an unprivileged uid on the host', async () => {
    const spec = await specOf('userns', [
      `namespaces: {user: {enabled: true, uidMap: [{containerID: 0, hostID: ${HOST_RANGE}, size: 65536}], gidMap: [{containerID: 0, hostID: ${HOST_RANGE}, size: 65536}]}}`,
      'mounts: [{type: volume, name: data, target: /data}]',
      // Set by the monitor from outside: until its execve the child is not dumpable, so its own
      // /proc files are not its to write inside the user namespace.
      'oomScoreAdj: 300',
      'command: [/bin/sh, -c, "id -u; cat /proc/self/uid_map | tr -s \' \'; touch /data/made-inside; exec sleep 1000"]',
    ].join('\n'));
    // Nothing is chowned by hand: the monitor mounts the root with idmapped lower layers and gives
    // the upper layer to the mapped root; the volume is idmapped, so its files keep container ids.
    const s = h.spawnSpec(spec, { volumes: { data: vol } });
    const record = await start(s);
    running.push(record);
    // The payload writes the file after its start returned: wait for it inside, not by the clock.
    const r = await execIn(h, spec, record, { argv: ['/bin/sh', '-c', 'until [ -e /data/made-inside ]; do sleep 0.02; done; id -u; ls /data; cat /proc/1/oom_score_adj'] });
    expect(r.stdout).toBe('0\nmade-inside\n300\n');
    const st = statSync(join(vol, 'made-inside'));
    expect(st.uid).toBe(0);
    expect(st.gid).toBe(0);
    expect(readFileUid(record.init.pid)).toBe(HOST_RANGE);
  });

  test('network none has only lo; host shares the host netns; container:NAME joins another', async () => {
    const a = await specOf('net-a', 'command: [/bin/sleep, "1000"]');
    const ra = await start(h.spawnSpec(a));
    running.push(ra);
    // A manifest naming another container is checked against the whole set; build it by hand.
    const plain = await specOf('net-b', 'command: [/bin/sleep, "1000"]');
    const b: ContainerSpec = { ...plain, namespaces: { ...plain.namespaces, network: { kind: 'container', container: 'net-a' } }, network: { ...plain.network, mode: 'container' } };
    const rb = await start(h.spawnSpec(b, { networkTarget: ra.init }));
    running.push(rb);
    const c = await specOf('net-c', 'namespaces: {network: host}\ncommand: [/bin/sleep, "1000"]');
    const rc = await start(h.spawnSpec(c));
    running.push(rc);
    const ns = (pid: number | 'self'): string => readlinkSync(`/proc/${pid}/ns/net`);
    expect(ns(ra.init.pid)).not.toBe(ns('self'));
    expect(ns(rb.init.pid)).toBe(ns(ra.init.pid));
    expect(ns(rc.init.pid)).toBe(ns('self'));
    expect(readdirSync(`/proc/${ra.init.pid}/root/sys/class/net`)).toEqual(['lo']);
    const inB = await execIn(h, b, rb, { argv: ['/bin/sh', '-c', 'ls /sys/class/net'] });
    expect(inB.stdout).toBe('lo\n');
  });
});

describe('a network namespace a network driver prepared', () => {
  test('is joined by path instead of a new one (what a bridge driver hands the runtime)', async () => {
    if (!root) return;
    const h = makeHarness('netns-file');
    const dir = mkdtempSync(join(tmpdir(), 'corral-netns-'));
    const file = join(dir, 'netns');
    let record: RuntimeRecord | null = null;
    try {
      // A namespace pinned by a bind mount on a file of this test, marked by a per-namespace sysctl.
      execFileSync('touch', [file]);
      execFileSync('unshare', [`--net=${file}`, 'true']);
      execFileSync('nsenter', [`--net=${file}`, 'sh', '-c', 'echo 42 > /proc/sys/net/ipv4/ip_default_ttl']);
      const plain = await specOf('net-file', 'command: [/bin/sleep, "1000"]');
      const bridged: ContainerSpec = { ...plain, network: { ...plain.network, mode: 'bridge' } };
      record = await start(h.spawnSpec(bridged, { netnsPath: file }));
      const prepared = execFileSync('nsenter', [`--net=${file}`, 'readlink', '/proc/self/ns/net']).toString().trim();
      expect(readlinkSync(`/proc/${record.init.pid}/ns/net`)).toBe(prepared);
      // What the container itself sees (sysctls under /proc/sys answer for the reader's namespace).
      expect((await execIn(h, bridged, record, { argv: ['/bin/cat', '/proc/sys/net/ipv4/ip_default_ttl'] })).stdout).toBe('42\n');
    } finally {
      if (record) await stop(record, { timeoutMs: 100, killAll: h.cg.killAll });
      spawnSync('umount', [file]);
      rmSync(dir, { recursive: true, force: true });
      await h.cleanup();
    }
  });
});

function readFileUid(pid: number): number {
  return statSync(`/proc/${pid}`).uid;
}
