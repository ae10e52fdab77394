import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../src/manifest/defaults.js';
import { effectiveCapabilities } from '../../src/manifest/normalize.js';
import { loadOne, loadSet } from '../support/schema.js';
import { manifest } from '../support/memory-source.js';

const VALID = join(import.meta.dirname, '../fixtures/valid');

describe('the valid corpus', () => {
  test.each(['kitchen-sink.yaml', 'minimal.yaml', 'shared-network.yml', 'host-network.yaml'])('%s has no errors', async (name) => {
    const path = join(VALID, name);
    const set = await loadSet({ [path]: readFileSync(path, 'utf8') });
    expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(set.containers.length).toBeGreaterThan(0);
  });
});

describe('normalize', () => {
  test('the kitchen sink normalizes to exact values', async () => {
    const path = join(VALID, 'kitchen-sink.yaml');
    const set = await loadSet({ [path]: readFileSync(path, 'utf8') });
    const web = set.containers.find((c) => c.spec.name === 'kitchen-sink')!.spec;
    expect(web.rootfs).toEqual({ kind: 'image', name: 'alpine', tag: '3.19' });
    expect(web.process.env).toEqual([{ name: 'A_FIRST', value: '1' }, { name: 'LANG', value: 'C.UTF-8' }]);
    expect(web.process.user).toEqual({ uid: 1000, gid: 1000, groups: [4, 10] });
    expect(web.resources).toEqual({
      memoryBytes: 256 * 2 ** 20, memorySwapBytes: 512 * 2 ** 20, memoryReservationBytes: 128 * 2 ** 20,
      cpuMillis: 500, cpuWeight: 200, cpusetCpus: '0-1', cpusetMems: '0', pids: 512, ioWeight: 100,
      ioLimits: [{ device: '/dev/vda', readBps: 10 * 2 ** 20, writeBps: 5 * 2 ** 20, readIops: 1000, writeIops: 100 }],
    });
    // Parents mount before children, whatever the manifest order.
    expect(web.mounts.map((m) => m.target)).toEqual(['/data', '/tmp', '/data/in']);
    expect(web.mounts[1]).toEqual({ type: 'tmpfs', target: '/tmp', sizeBytes: 64 * 2 ** 20, mode: 0o1777, owner: null, readOnly: false, options: ['noatime', 'nodev', 'nosuid'] });
    expect(web.network.ports).toEqual([
      { hostIP: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' },
      { hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    ]);
    expect(web.stopSignal).toEqual({ name: 'SIGQUIT', number: 3 });
    expect(web.stopTimeoutMs).toBe(90_000);
    expect(web.security.capabilities).toContain('CAP_NET_ADMIN');
    expect(web.security.capabilities).not.toContain('CAP_MKNOD');
    expect(web.security.capabilities).not.toContain('CAP_NET_RAW');
    expect(web.security.seccomp).toEqual({ kind: 'file', path: `${VALID}/profiles/web.json` });
    expect(web.security.maskedPaths).toContain('/proc/vmstat');
    expect(web.security.maskedPaths).toContain('/proc/kcore');
    expect(web.process.ulimits).toEqual([{ name: 'core', soft: 0, hard: 'unlimited' }, { name: 'nofile', soft: 1024, hard: 4096 }]);
    expect(web.healthcheck).toEqual({ exec: ['/bin/wget', '-q', '-O-', 'http://127.0.0.1:80/health'], intervalMs: 10_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 5_000, onFailure: 'restart' });
    expect(web.namespaces.user).toEqual({ kind: 'manual', uidMap: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMap: [{ containerID: 0, hostID: 100000, size: 65536 }] });
    const db = set.containers.find((c) => c.spec.name === 'db')!.spec;
    expect(db.resources.pids).toBe('unlimited');
    expect(db.resources.memorySwapBytes).toBe('unlimited');
    expect(db.stopSignal.name).toBe('SIGINT');
    expect(db.namespaces.user).toEqual({ kind: 'auto', size: 65536 });
  });

  test('every default is written out', async () => {
    const { spec } = await loadOne(manifest('plain'));
    expect(spec).toMatchObject({
      version: 1,
      readOnlyRootfs: false,
      hostname: 'plain',
      restartPolicy: 'Always',
      stopSignal: { name: 'SIGTERM', number: 15 },
      stopTimeoutMs: 10_000,
      logging: { maxSizeBytes: 10 * 2 ** 20, maxFiles: 3 },
      namespaces: { pid: 'private', ipc: 'private', uts: 'private', cgroup: 'private', network: { kind: 'private' }, user: null },
      network: { mode: 'none', bridge: null, ports: [], dns: null },
      process: { command: ['/bin/true'], args: null, workingDir: null, env: [], user: { uid: 0, gid: 0, groups: [] }, oomScoreAdj: 0, ulimits: [] },
      resources: { pids: 2048, memoryBytes: null, memorySwapBytes: null, cpuMillis: null },
      security: {
        capabilities: [...DEFAULT_CAPABILITIES].sort(),
        noNewPrivileges: true,
        privileged: false,
        seccomp: { kind: 'default' },
        maskedPaths: [...DEFAULT_MASKED_PATHS].sort(),
        readonlyPaths: [...DEFAULT_READONLY_PATHS].sort(),
        sysctls: [],
      },
      healthcheck: null,
      hosts: { hostnames: [], labels: {} },
    });
  });

  test('memorySwap defaults to memory: no swap', async () => {
    const { spec } = await loadOne(manifest('m', 'resources: {memory: 64Mi}'));
    expect(spec!.resources.memorySwapBytes).toBe(64 * 2 ** 20);
  });

  test('network.mode host is the host network namespace', async () => {
    const { spec } = await loadOne(manifest('h', 'network: {mode: host}'));
    expect(spec!.namespaces.network).toEqual({ kind: 'host' });
    expect(spec!.network.mode).toBe('host');
  });

  test('a host uts namespace has no hostname of its own', async () => {
    const { spec } = await loadOne(manifest('u', 'namespaces: {uts: host}'));
    expect(spec!.hostname).toBe('');
  });

  test('privileged keeps every capability and masks nothing', async () => {
    const { spec } = await loadOne(manifest('p', 'security: {privileged: true}'));
    expect(spec!.security.capabilities).toHaveLength(41);
    expect(spec!.security.maskedPaths).toEqual([]);
    expect(spec!.security.readonlyPaths).toEqual([]);
  });
});

describe('rootfs.image: store names and registry references', () => {
  const rootfs = async (line: string) => (await loadOne(manifest('web').replace('rootfs: {host: {}}', line))).spec?.rootfs;
  test('a store name stays as it was (and hashes as before); a reference is kept under registry/repository with its tag, digest and pull policy', async () => {
    expect(await rootfs('rootfs: {image: alpine}')).toEqual({ kind: 'image', name: 'alpine', tag: 'latest' });
    expect(await rootfs('rootfs: {image: "127.0.0.1:5000/team/app:1"}')).toEqual({ kind: 'image', name: '127.0.0.1:5000/team/app', tag: '1' });
    expect(await rootfs('rootfs: {image: "docker.io/nginx", pullPolicy: Always}')).toEqual({ kind: 'image', name: 'docker.io/library/nginx', tag: 'latest', pullPolicy: 'Always' });
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(await rootfs(`rootfs: {image: "localhost/app@${digest}", pullPolicy: IfNotPresent}`)).toEqual({ kind: 'image', name: 'localhost/app', tag: `sha256-${'ab'.repeat(32)}`, digest });
    // Without a registry host it is a store name, never a guess at Docker Hub.
    expect((await loadOne(manifest('web').replace('rootfs: {host: {}}', 'rootfs: {image: "library/nginx"}'))).errors.map((e) => e.code)).toEqual(['MANIFEST_INVALID_FORMAT']);
  });
});

describe('effectiveCapabilities', () => {
  test('drop ALL then add one', () => expect(effectiveCapabilities(['NET_BIND_SERVICE'], ['ALL'])).toEqual(['CAP_NET_BIND_SERVICE']));
  test('names are case- and prefix-insensitive', () => expect(effectiveCapabilities(['sys_time'], [])).toContain('CAP_SYS_TIME'));
  test('add ALL gives every capability', () => expect(effectiveCapabilities(['ALL'], [])).toHaveLength(41));
});
