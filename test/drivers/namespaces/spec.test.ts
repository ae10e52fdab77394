// The policy in spec.ts, without a kernel: namespaces, mount program, capabilities, argv and env.

import { describe, expect, test } from '@jest/globals';
import { parseEnv, parseUser } from '../../../src/cli/commands/exec.js';
import { capabilityMask, capabilityNames } from '../../../src/drivers/namespaces/capabilities.js';
import { DEVICES, overlayData } from '../../../src/drivers/namespaces/mount-program.js';
import { defaultSeccompProgram } from '../../../src/drivers/namespaces/seccomp.js';
import { argvOf, buildExecSpec, buildSpawnSpec, envOf, namespaceFlags } from '../../../src/drivers/namespaces/spec.js';
import { CLONE } from '../../../src/drivers/namespaces/spawn-spec.js';
import { hasCode } from '../../../src/errors.js';
import { DEFAULT_CAPABILITIES, DEFAULT_DEVICES } from '../../../src/manifest/defaults.js';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { specOf } from './harness.js';

const rootfs = { lower: ['/l1', '/l,2'], upper: '/u', work: '/w', target: '/t', binds: [{ source: '/usr', target: '/usr', readOnly: true }], readOnly: true };
const inputs = (spec: ContainerSpec) => ({ spec, rootfs, image: null, cgroupProcs: ['/cg/cgroup.procs'], shimDir: '/s', logDir: '/l', volumes: { data: '/vol/data' }, arch: 'x64' });

describe('spawn spec policy', () => {
  test('default namespaces, devices, masks, read-only paths and a read-only root', async () => {
    const spec = await specOf('p1', 'hostname: h1\nmounts: [{type: volume, name: data, target: /data, readOnly: true}]\ncommand: [/bin/true]');
    const s = buildSpawnSpec(inputs(spec));
    expect(s.namespaceFlags).toBe(CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNET | CLONE.NEWCGROUP);
    expect(s.loopback).toBe(true);
    expect(s.hostname).toBe('h1');
    expect(s.root.data).toBe('lowerdir=/l1:/l\\,2,upperdir=/u,workdir=/w');
    const targets = s.mounts.map((m) => `${m.kind} ${m.target}`);
    expect(targets).toEqual([
      'mount /proc', 'mount /dev', ...DEVICES.map((d) => `mknod /dev/${d.name}`), 'mount /dev/pts', 'symlink /dev/ptmx', 'symlink /dev/fd',
      'symlink /dev/stdin', 'symlink /dev/stdout', 'symlink /dev/stderr', 'mount /dev/shm', 'mount /dev/mqueue', 'mount /sys', 'bind /usr', 'bind /data',
    ]);
    expect(s.mounts.find((m) => m.target === '/data')).toMatchObject({ source: '/vol/data', flags: expect.any(Number) });
    expect(s.finalize.filter((o) => o.kind === 'mask').map((o) => o.target)).toContain('/proc/kcore');
    expect(s.finalize.filter((o) => o.kind === 'readonly').map((o) => o.target)).toContain('/proc/sys');
    expect(s.finalize.at(-1)).toEqual({ kind: 'remount', target: '/', flags: 1 });
    expect(capabilityNames(s.process.capabilities.bounding)).toEqual([...DEFAULT_CAPABILITIES].sort((a, b) => capabilityMask([a]) < capabilityMask([b]) ? -1 : 1));
    expect(s.process.capabilities.ambient).toBe(0n);
    expect(s.process.seccomp?.length).toBe(defaultSeccompProgram('x64').length);
    expect(s.process.noNewPrivileges).toBe(true);
  });

  test('devices: the default allow-list is written into the spec; host devices asked for are bound, never created', async () => {
    const plain = await specOf('d0', 'command: [/bin/true]');
    expect(plain.devices).toEqual({ allowAll: false, allow: DEFAULT_DEVICES.map((d) => d.rule), host: [] });
    const priv = await specOf('d1', 'security: {privileged: true}\ncommand: [/bin/true]');
    expect(priv.devices).toEqual({ allowAll: true, allow: [], host: [] });
    const spec = await specOf('d2', 'devices: [{path: /dev/net/tun}, {path: /dev/fuse, containerPath: /dev/fuse2, permissions: wr}]\ncommand: [/bin/true]');
    expect(spec.devices.host).toEqual([
      { hostPath: '/dev/fuse', containerPath: '/dev/fuse2', access: 'rw' },
      { hostPath: '/dev/net/tun', containerPath: '/dev/net/tun', access: 'rwm' },
    ]);
    const s = buildSpawnSpec(inputs(spec));
    const binds = s.mounts.filter((m) => m.kind === 'bind' && m.target.startsWith('/dev/'));
    expect(binds.map((m) => `${m.source} ${m.target} ${m.create}`)).toEqual(['/dev/fuse /dev/fuse2 file', '/dev/net/tun /dev/net/tun file']);
    // After the /dev tmpfs and its nodes, so nothing corral creates can cover them.
    expect(s.mounts.findIndex((m) => m.target === '/dev/fuse2')).toBeGreaterThan(s.mounts.findIndex((m) => m.kind === 'mknod'));
  });

  test('user namespace: maps from the allocated range, devices bound, not created', async () => {
    const spec = await specOf('p2', 'namespaces: {user: {enabled: true}}\ncommand: [/bin/true]');
    expect(() => buildSpawnSpec(inputs(spec))).toThrow(/needs a host id range/);
    const s = buildSpawnSpec({ ...inputs(spec), autoUserRange: { uid: 100000, gid: 200000 } });
    expect(s.userNamespace).toEqual({ uidMap: '0 100000 65536\n', gidMap: '0 200000 65536\n' });
    expect(s.namespaceFlags & CLONE.NEWUSER).toBe(CLONE.NEWUSER);
    expect(s.mounts.filter((m) => m.kind === 'mknod')).toEqual([]);
    expect(s.mounts.find((m) => m.target === '/dev/null')).toMatchObject({ kind: 'bind', source: '/dev/null', create: 'file' });
  });

  test('network host, container:NAME, and a namespace the network driver prepared', async () => {
    const host = await specOf('p3', 'namespaces: {network: host}\ncommand: [/bin/true]');
    expect(namespaceFlags(host) & CLONE.NEWNET).toBe(0);
    expect(buildSpawnSpec(inputs(host)).loopback).toBe(false);
    const bridge = await specOf('p4', 'network: {mode: bridge}\ncommand: [/bin/true]');
    const err = (() => { try { buildSpawnSpec(inputs(bridge)); } catch (e) { return e; } return null; })();
    expect(hasCode(err, 'CONTAINER_SETUP_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/needs a network namespace from the network driver/);
    // With one (a bridge driver's), the container joins it instead of making its own.
    const attached = buildSpawnSpec({ ...inputs(bridge), netnsPath: '/var/lib/corral/containers/p4/netns' });
    expect(attached.joinNetwork).toEqual({ netnsPath: '/var/lib/corral/containers/p4/netns' });
    expect(attached.namespaceFlags & CLONE.NEWNET).toBe(0);
    expect(namespaceFlags(bridge) & CLONE.NEWNET).toBe(CLONE.NEWNET);
    const joined: ContainerSpec = { ...host, namespaces: { ...host.namespaces, network: { kind: 'container', container: 'other' } }, network: { ...host.network, mode: 'container' } };
    expect(() => buildSpawnSpec(inputs(joined))).toThrow(/that container is not running/);
    expect(buildSpawnSpec({ ...inputs(joined), networkTarget: { pid: 5, startTime: 6 } }).joinNetwork).toEqual({ pid: 5, startTime: 6 });
  });

  test('argv and env follow the image defaults, the manifest winning', async () => {
    const image = { entrypoint: ['/entry'], cmd: ['a', 'b'], env: ['PATH=/img', 'A=1', 'B=2'], user: null, workingDir: '/w', stopSignal: null };
    const noCommand = await specOf('p5', 'env: {B: manifest}\ncommand: [/bin/true]');
    const withNoCmd: ContainerSpec = { ...noCommand, process: { ...noCommand.process, command: null, args: null } };
    expect(argvOf(withNoCmd, image)).toEqual(['/entry', 'a', 'b']);
    expect(argvOf({ ...withNoCmd, process: { ...withNoCmd.process, command: ['/x'] } }, image)).toEqual(['/x']);
    expect(argvOf({ ...withNoCmd, process: { ...withNoCmd.process, args: ['c'] } }, image)).toEqual(['/entry', 'c']);
    expect(() => argvOf(withNoCmd, null)).toThrow(/no command to run/);
    expect(envOf(withNoCmd, image)).toEqual(['PATH=/img', 'A=1', 'B=manifest', 'HOSTNAME=p5']);
  });

  test('exec enters the private namespaces, with the caller\'s overrides', async () => {
    const spec = await specOf('p6', 'namespaces: {network: host}\nenv: {K: v}\ncommand: [/bin/true]');
    const e = buildExecSpec(spec, null, ['/cg'], { argv: ['sh'], env: ['X=1'], uid: 5, tty: true }, 'x64');
    expect(e.namespaceFlags & CLONE.NEWNET).toBe(0);
    expect(e.namespaceFlags & CLONE.NEWPID).toBe(CLONE.NEWPID);
    expect(e.process.env).toEqual(expect.arrayContaining(['K=v', 'X=1', 'TERM=xterm']));
    expect(e.process.uid).toBe(5);
    expect(parseUser('10:20')).toEqual({ uid: 10, gid: 20 });
    expect(parseUser('10')).toEqual({ uid: 10 });
    expect(parseUser('redis')).toEqual({ lookup: { user: 'redis', group: null, groups: [] } });
    expect(parseUser('1000:staff')).toEqual({ lookup: { user: 1000, group: 'staff', groups: [] } });
    expect(() => parseUser('a:b:c')).toThrow(/not USER or USER:GROUP/);
    expect(() => parseEnv(['=x'])).toThrow(/not NAME=VALUE/);
  });

  test('overlay options escape commas and colons', () => {
    expect(overlayData({ ...rootfs, lower: ['/a:b'] })).toBe('lowerdir=/a\\:b,upperdir=/u,workdir=/w');
  });
});
