// The attack suite, end to end: default manifests (plus a read-only bind of the exploit binary),
// converged by `corral reconcile --once` with the real cgroups, overlay and namespaces drivers.
// Devices (CAP_MKNOD, bind-mounted host nodes), masked paths, the working directory and leaked
// fds, and the kernel interfaces a container must not reach. A privileged container is the
// control: the same probes get through there, so a probe that "fails" is known to work.

import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireRoot } from '../support/root.js';
import { sandbox, type Sandbox } from '../support/host-sandbox.js';
import { hostRootDisk, probeManifest, runProbes } from './probe.js';
import { expectContained, parseResults, tally, verdictOf, type Result } from './results.js';

/** Host device nodes a container must not open even when bound in. */
const HOST_NODES = ['/dev/loop-control', '/dev/kvm', '/dev/tty0', '/dev/tty1', '/dev/vcs', '/dev/console', '/dev/kmsg', '/dev/mem', '/dev/net/tun', '/dev/loop0']
  .filter((p) => existsSync(p));

const root = requireRoot();
(root ? describe : describe.skip)('attack suite: default containers, end to end', () => {
  let sb: Sandbox;
  let server: Server;
  let out: Record<string, string> = {};
  const abstract = `corral-sec-${process.pid}`;
  const all: Result[] = [];
  const disk = hostRootDisk() ?? '-';
  const binds = HOST_NODES.map((p, i) => `{type: bind, source: ${p}, target: /mnt/hostdev${i}}`);
  const bound = HOST_NODES.map((_, i) => `/mnt/hostdev${i}`);
  const fuse = existsSync('/dev/fuse');

  beforeAll(async () => {
    if (!root) return;
    sb = sandbox('sec');
    const marker = join(sb.root, '..', 'host-marker');
    writeFileSync(marker, 'host only\n');
    server = createServer((c) => c.end('host secret\n'));
    await new Promise<void>((resolve) => server.listen({ path: `\0${abstract}` }, resolve));
    sb.write('kernel.yaml', probeManifest('kernel', ['kernel', abstract, marker]));
    sb.write('masks.yaml', probeManifest('masks', ['masks']));
    sb.write('fds.yaml', probeManifest('fds', ['fds', marker], 'workingDir: /tmp'));
    sb.write('devices.yaml', probeManifest('devices', ['devices', disk, 'deny', ...bound], '', binds));
    if (fuse) sb.write('fuse.yaml', probeManifest('fuse', ['devices', '-', 'allow', '/dev/fuse', 'deny', ...bound], 'devices: [{path: /dev/fuse}]', binds));
    sb.write('priv.yaml', probeManifest('priv', ['devices', disk, 'deny', ...bound], 'security: {privileged: true}', binds));
    out = await runProbes(sb, ['kernel', 'masks', 'fds', 'devices', 'priv', ...(fuse ? ['fuse'] : [])]);
  }, 180_000);
  afterAll(async () => {
    tally('end-to-end', all);
    server?.close();
    await sb?.cleanup();
  });

  const results = (name: string): Result[] => {
    const r = parseResults(out[name] ?? '');
    if (r.length === 0) throw new Error(`container \`${name}\` printed no results:\n${out[name]}`);
    if (process.env['CORRAL_SECURITY_VERBOSE']) process.stderr.write(`${name}:\n${r.map((x) => `  ${x.name} ${x.verdict} ${x.detail}`).join('\n')}\n`);
    all.push(...r);
    return r;
  };

  test('kernel interfaces: mount, namespaces, keys, bpf, modules, reboot, clocks, /proc/sys, sysrq, abstract sockets', () => {
    expectContained(results('kernel'), [
      'mount', 'unshare-user', 'unshare-mount', 'setns', 'keyctl', 'add-key', 'bpf', 'init-module', 'finit-module', 'kexec-load', 'reboot',
      'clock-settime', 'settimeofday', 'swapon', 'iopl', 'perf-event-open', 'userfaultfd', 'io-uring-setup', 'open-by-handle-at',
      'pivot-root', 'proc-sys-write', 'proc-sys-vm', 'sysrq-trigger', 'sys-write', 'core-pattern', 'proc-kcore', 'proc-keys',
      'proc-timer-list', 'host-abstract-socket', 'chroot-escape',
    ]);
  });

  test('masked paths are the null device or empty, never a writable file', () => {
    expectContained(results('masks'), ['mask:/proc/keys', 'mask:/proc/timer_list', 'mask:/dev/null']);
  });

  test('no runtime fd and no host path from the working directory', () => {
    expectContained(results('fds'), ['cwd-climb', 'marker-visible', 'leaked-fd', 'shadow-via-cwd']);
  });

  test('devices: no mknod of host disks or consoles, bound host nodes do not open, the allowed ones do', () => {
    const r = results('devices');
    expectContained(r, ['mknod-loop0', 'mknod-kvm', 'mknod-tty0', 'mknod-console', 'mknod-mem', 'mknod-null', 'open-allowed:/dev/null', 'open-allowed:/dev/ptmx',
      ...(disk === '-' ? [] : ['mknod-host-disk']), ...bound.map((b) => `open-bound:${b}`)]);
    expect(verdictOf(r, 'mknod-null')?.verdict).toBe('OK');
  });

  test('spec.devices hands over exactly the device asked for', () => {
    if (!fuse) return;
    const r = results('fuse');
    expectContained(r, ['open-asked:/dev/fuse', ...bound.map((b) => `open-bound:${b}`)]);
    expect(verdictOf(r, 'open-asked:/dev/fuse')?.verdict).toBe('OK');
  });

  test('control: a privileged container gets through the same probes', () => {
    const r = parseResults(out['priv'] ?? '');
    expect(verdictOf(r, 'mknod-loop0')?.verdict).toBe('ESCAPED');
    expect(r.filter((x) => x.name.startsWith('open-bound:') && x.verdict === 'ESCAPED').length).toBeGreaterThan(0);
  });
});
