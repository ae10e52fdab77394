// A container started by corral, checked from inside: every assertion reads what the payload
// itself printed.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { capabilityMask } from '../../../src/drivers/namespaces/capabilities.js';
import { DEFAULT_CAPABILITIES } from '../../../src/manifest/defaults.js';
import { requireRoot } from '../../support/root.js';
import { makeHarness, mountsLeaked, specOf, type Harness } from './harness.js';

const PROBE = [
  'echo pid=$$',
  'ps -o pid=,comm= > /tmp/ps; echo ps=$(cat /tmp/ps | tr -s " " | tr "\\n" ",")',
  'echo hostname=$(hostname)',
  'echo nets=$(ls /sys/class/net | tr "\\n" " ")',
  'echo loflags=$(cat /sys/class/net/lo/flags)',
  'echo mounts=$(cut -d" " -f5 /proc/self/mountinfo | sort | tr "\\n" " ")',
  'for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts /proc/acpi /sys/firmware; do [ -e $p ] || continue; if [ -d $p ]; then echo "masked:$p=$(ls -A $p | wc -l)"; else echo "masked:$p=$(wc -c < $p)"; fi; done',
  '(echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo procsys=rw || echo procsys=ro',
  '(touch /sys/kernel/x) 2>/dev/null && echo sys=rw || echo sys=ro',
  'mkdir -p /mnt/m; mount -t tmpfs none /mnt/m 2>&1 | sed "s/^/mount=/"',
  'unshare -U true 2>&1 | sed "s/^/unshare=/"',
  'grep -E "^(CapEff|CapBnd|CapPrm|CapInh|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\\t" | tr ":" "="',
  'echo dev=$(ls /dev | tr "\\n" " ")',
  'echo written > /root/new-file; echo wrote=$?',
  'echo env=$(env | sort | tr "\\n" " ")',
].join('\n');

function parse(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !(line.slice(0, eq) in r)) r[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return r;
}

const hex = (mask: bigint): string => mask.toString(16).padStart(16, '0');

const root = requireRoot();
(root ? describe : describe.skip)('isolation, seen from inside the container', () => {
  let h: Harness;
  let probe: Record<string, string>;
  let upper: string;

  beforeAll(async () => {
    h = makeHarness('iso');
    const spec = await specOf('iso', `hostname: box1\nenv: {FOO: bar}\ncommand: [/bin/sh, -c, ${JSON.stringify(PROBE)}]`);
    process.env['CORRAL_TEST_LEAK'] = 'should-not-appear';
    const r = await h.run(spec);
    upper = h.fs.layout('iso').upper;
    probe = parse(r.stdout);
    if (r.stderr) process.stderr.write(`container stderr: ${r.stderr}\n`);
  });
  afterAll(async () => {
    await h?.cleanup();
    expect(mountsLeaked(h)).toEqual([]);
  });

  test('PID 1 is the payload, and ps sees only the container', () => {
    expect(probe['pid']).toBe('1');
    // sh as 1 and ps itself (a second sh for the redirection at most): nothing of the host.
    const procs = probe['ps']!.split(',').filter(Boolean).map((l) => l.trim().split(' '));
    expect(procs[0]).toEqual(['1', 'sh']);
    for (const [pid, comm] of procs) {
      expect(Number(pid)).toBeLessThan(10);
      expect(['sh', 'ps']).toContain(comm);
    }
  });

  test('hostname, and a network namespace with only lo, up', () => {
    expect(probe['hostname']).toBe('box1');
    expect(probe['nets']).toBe('lo');
    expect(Number(probe['loflags']) & 1).toBe(1);
  });

  test('host mounts are invisible: only the container\'s own mount points', () => {
    const points = probe['mounts']!.split(' ');
    const allowed = /^\/(proc|dev|sys)?(\/.*)?$/;
    for (const p of points) expect(p).toMatch(allowed);
    expect(points).not.toContain('/sys/fs/cgroup/memory');
    expect(points.filter((p) => p.startsWith('/tmp') || p.startsWith('/work') || p.startsWith('/var'))).toEqual([]);
  });

  test('masked and read-only paths, read-only sysfs', () => {
    // Each default masked path this kernel has reads as empty (kcore is absent on this kernel).
    const masked = Object.keys(probe).filter((k) => k.startsWith('masked:'));
    expect(masked.length).toBeGreaterThanOrEqual(3);
    for (const k of masked) expect(`${k}=${probe[k]}`).toBe(`${k}=0`);
    expect(probe['procsys']).toBe('ro');
    expect(probe['sys']).toBe('ro');
  });

  test('mount and new namespaces are refused with EPERM', () => {
    expect(probe['mount']).toMatch(/permission denied|not permitted/i);
    expect(probe['unshare']).toMatch(/not permitted/i);
  });

  test('capabilities are the default set, no_new_privs and seccomp are on', () => {
    const want = hex(capabilityMask(DEFAULT_CAPABILITIES));
    expect(probe['CapEff']).toBe(want);
    expect(probe['CapPrm']).toBe(want);
    expect(probe['CapBnd']).toBe(want);
    expect(probe['CapInh']).toBe(hex(0n));
    expect(probe['CapAmb']).toBe(hex(0n));
    expect(probe['NoNewPrivs']).toBe('1');
    expect(probe['Seccomp']).toBe('2');
  });

  test('/dev holds only the allowed nodes', () => {
    expect(probe['dev']!.split(' ').sort()).toEqual(['fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
  });

  test('the environment is the manifest\'s, not the caller\'s', () => {
    expect(probe['env']).toContain('FOO=bar');
    expect(probe['env']).toContain('PATH=/usr/local/sbin');
    expect(probe['env']).not.toContain('CORRAL_TEST_LEAK');
  });

  test('files written land in the upper layer only', () => {
    expect(probe['wrote']).toBe('0');
    expect(readFileSync(join(upper, 'root/new-file'), 'utf8')).toBe('written\n');
    expect(existsSync(join(h.fs.lower, 'root/new-file'))).toBe(false);
  });
});
