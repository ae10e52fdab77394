// `corral export kube`: every bundled manifest exports to objects that pass the Kubernetes v1
// schema (kubernetes-models, pinned in package.json), and what it writes runs under Debian's
// `podman kube play`: the same command, environment and memory limit, and the published port
// answers on 127.0.0.1. podman runs inside a network namespace this test creates (its bridge, its
// nftables rules and its port forwarding stay there) and a mount namespace of its own (its locks,
// IPAM database and runtime state stay there), on a storage root of its own.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { parseAllDocuments } from 'yaml';
import { buildBusyboxRootfs, haveStaticBusybox } from '../support/busybox.js';
import { corral, REPO } from '../support/cli.js';
import { isRoot } from '../support/root.js';
import { unmountUnder } from '../support/test-netns.js';

interface Exported {
  objects: Array<{ kind: string; metadata: { name: string } }>;
  warnings: Array<{ container: string; field: string; reason: string }>;
}

function exportJson(args: readonly string[] = [], dir = join(REPO, 'manifests')): Exported {
  const r = corral(['--dir', dir, 'export', 'kube', '--output', 'json', ...args]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Exported;
}

/** Throws the schema's errors, naming the object. */
function validate(object: { kind: string; metadata: { name: string } }): void {
  const model = object.kind === 'Pod' ? new Pod(object as never) : object.kind === 'Secret' ? new Secret(object as never) : new ConfigMap(object as never);
  model.validate();
}

const BUNDLED = readdirSync(join(REPO, 'manifests')).filter((f) => f.endsWith('.yaml')).sort();

describe('corral export kube: the Kubernetes v1 schema', () => {
  test.each(BUNDLED)('manifests/%s exports to objects that pass the schema', (file) => {
    // Exported by name from the whole directory: cache-worker's dependsOn needs ticker's manifest.
    const name = file.replace(/\.yaml$/, '');
    const out = exportJson([name]);
    expect(out.objects.filter((o) => o.kind === 'Pod').map((o) => o.metadata.name)).toEqual([name]);
    for (const object of out.objects) expect(() => validate(object)).not.toThrow();
  });

  test('YAML on stdout, one warning line per field without an equivalent on stderr; NAME selects', () => {
    const r = corral(['export', 'kube', 'cache-worker']);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    expect(docs.map((d) => [d.kind, d.metadata.name])).toEqual([['Pod', 'cache-worker']]);
    const lines = r.stderr.trim().split('\n');
    expect(lines.every((l) => /^warning: cache-worker: spec\.\S+( \(target \S+\)\.\S+)? has no Kubernetes equivalent \(.+\)$/.test(l))).toBe(true);
    expect(lines.map((l) => l.split(' ')[2])).toEqual(expect.arrayContaining(['spec.rootfs.host', 'spec.ulimits', 'spec.dependsOn', 'spec.logging', 'spec.resources.pids']));
  });

  test('an unknown name is CONTAINER_NOT_FOUND; a bad --output is a usage error', () => {
    const r = corral(['export', 'kube', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CONTAINER_NOT_FOUND');
    expect(corral(['export', 'kube', '--output', 'xml']).stderr).toContain('CLI_USAGE');
  });

  test('secret values stay out unless --include-secrets; config files are read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-kube-secrets-'));
    try {
      writeFileSync(join(dir, 'token'), 's3cret');
      writeFileSync(join(dir, 'app.yaml'), [
        'apiVersion: corral/v1', 'kind: Container', 'metadata: {name: app}', 'spec:', '  rootfs: {image: registry.example/app:1.2}',
        '  command: [/app]', `  secrets: [{name: token, source: {file: ${join(dir, 'token')}}}]`,
        '  configFiles: [{name: conf, target: /etc/app.conf, source: {content: "a=1\\n"}}]',
        '  env: [{name: TOKEN, valueFrom: {secret: token}}]', '',
      ].join('\n'));
      const placeholder = corral(['--dir', dir, 'export', 'kube', '--output', 'json']);
      expect(placeholder.code).toBe(0);
      expect(placeholder.stdout).not.toContain(Buffer.from('s3cret').toString('base64'));
      expect(placeholder.stderr).toContain('warning: app: spec.secrets: values not exported');
      const out = JSON.parse(placeholder.stdout) as Exported & { objects: Array<{ data?: Record<string, string> }> };
      expect(out.objects.map((o) => o.kind)).toEqual(['Secret', 'ConfigMap', 'Pod']);
      expect(out.objects[0]!.data).toEqual({ token: '' });
      expect(out.objects[1]!.data).toEqual({ conf: 'a=1\n' });
      for (const object of out.objects) expect(() => validate(object)).not.toThrow();
      const full = JSON.parse(corral(['--dir', dir, 'export', 'kube', '--output', 'json', '--include-secrets']).stdout) as typeof out;
      expect(full.objects[0]!.data).toEqual({ token: Buffer.from('s3cret').toString('base64') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- podman kube play round trip ----

const havePodman = spawnSync('podman', ['--version']).status === 0;
const canRun = isRoot() && havePodman && haveStaticBusybox();
if (!canRun && process.env['CI'] === 'true') throw new Error('the podman round trip needs root, podman and busybox-static (scripts/test-deps.sh installs them)');
if (!canRun) process.stderr.write('skipped: the podman round trip needs root, podman and busybox-static\n');

/**
 * podman (cgroupfs manager, no --cgroup-parent for kube play) leaves empty cgroups of its pods under
 * libpod_parent: remove this test's, deepest first, and the parent's `conmon` and itself when empty.
 * rmdir refuses a cgroup with processes, so a podman of someone else is never disturbed.
 */
function removePodmanCgroups(ids: readonly string[]): void {
  const parents = existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, 'libpod_parent')).filter((p) => existsSync(p)) : [];
  const rmTree = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(dir, e.name));
    spawnSync('rmdir', [dir]);
  };
  for (const parent of parents) {
    for (const e of readdirSync(parent, { withFileTypes: true })) {
      if (e.isDirectory() && (ids.some((id) => e.name.includes(id)) || e.name === 'conmon')) rmTree(join(parent, e.name));
    }
    spawnSync('rmdir', [parent]);
  }
}

const TEST_IMAGE = 'localhost/corral-kube-test:latest';
const PORT = 18080;
/** The shell stays PID 1 (httpd daemonizes), so /proc/1/cmdline shows the exported command. */
const SCRIPT = 'echo kube-ok > /tmp/index.html; httpd -p 8080 -h /tmp; while :; do sleep 1; done';

(canRun ? describe : describe.skip)('corral export kube | podman kube play', () => {
  let work = '';
  let netns = '';
  const hostRules = (): string => spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).stdout ?? '';
  const netnsFiles = (): string[] => (existsSync('/run/netns') ? readdirSync('/run/netns').sort() : []);
  /** What a root podman keeps outside its --root and --runroot, each path with its mtime. */
  const MACHINE_PODMAN_STATE = ['/dev/shm/libpod_lock', '/run/containers', '/run/runc', '/run/libpod', '/var/lib/containers', '/var/tmp', '/etc/containers/networks'];
  const machinePodmanState = (): string => spawnSync('find', [...MACHINE_PODMAN_STATE.filter((p) => existsSync(p)), '-maxdepth', '2', '-printf', '%p %T@\\n'], { encoding: 'utf8' }).stdout ?? '';
  let podmanStateBefore = '';
  /**
   * podman's lock segment (/dev/shm/libpod_lock), its IPAM database (/run/containers/networks),
   * runc's state (/run/runc) and the temp files of an import (/var/tmp) are the machine's, whatever
   * --root says: this test's podman runs in a mount namespace of its own, tmpfs over /run, /dev/shm,
   * /var/lib and /var/tmp (as bench/lib/podman.mjs does), held by this process.
   */
  let holder: ChildProcess | null = null;
  /** The pods and containers this test made: their cgroups are removed at the end. */
  const ids = new Set<string>();
  let rulesBefore = '';
  let netnsBefore: string[] = [];

  /** podman on this test's storage, in this test's network and mount namespaces. */
  const podmanArgv = (args: readonly string[]): string[] => [
    `--mount=/proc/${holder!.pid}/ns/mnt`, `--net=${netns}`, 'podman', '--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--tmpdir', join(work, 'tmp'),
    '--network-config-dir', join(work, 'networks'), ...args,
  ];
  const podmanEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CONTAINERS_CONF: join(work, 'containers.conf') });
  const podman = (args: readonly string[], check = true): string => {
    const r = spawnSync('nsenter', podmanArgv(args), { encoding: 'utf8', timeout: 120_000, env: podmanEnv() });
    if (check && r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const noteIds = (): void => {
    for (const args of [['ps', '-aq', '--no-trunc'], ['pod', 'ps', '-q', '--no-trunc']]) {
      for (const id of podman(args, false).split('\n')) if (id !== '') ids.add(id);
    }
  };
  const play = (file: string): void => {
    try {
      podman(['kube', 'play', file]);
    } finally {
      noteIds();
    }
  };
  const inNetns = (command: readonly string[]): string => execFileSync('nsenter', [`--net=${netns}`, ...command], { encoding: 'utf8', timeout: 20_000 });
  const until = async (what: string, probe: () => boolean, ms = 30_000): Promise<void> => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) if (probe()) return;
    throw new Error(`timed out waiting for ${what}`);
  };
  const state = (container: string): string => podman(['inspect', container, '--format', '{{.State.Status}} {{.State.ExitCode}}'], false).trim();

  beforeAll(async () => {
    rulesBefore = hostRules();
    netnsBefore = netnsFiles();
    podmanStateBefore = machinePodmanState();
    work = mkdtempSync(join(tmpdir(), 'corral-kube-podman-'));
    for (const d of ['storage', 'run', 'tmp', 'networks', 'manifests']) mkdirSync(join(work, d));
    // runc: crun refuses this host's hybrid cgroup layout. Limits no higher than this process's:
    // podman's defaults for root (1048576 files, 4194304 processes) need CAP_SYS_RESOURCE.
    writeFileSync(join(work, 'containers.conf'), [
      '[containers]', 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]', 'log_driver = "k8s-file"',
      '[engine]', 'runtime = "runc"', 'cgroup_manager = "cgroupfs"', 'events_logger = "none"', '',
    ].join('\n'));
    netns = join(work, 'netns');
    writeFileSync(netns, '');
    execFileSync('unshare', [`--net=${netns}`, 'true']);
    inNetns(['ip', 'link', 'set', 'lo', 'up']);
    const ready = join(work, 'mounts-ready');
    holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /var/tmp && touch ${ready} && exec sleep 1000000`], { stdio: 'ignore' });
    await until('podman\'s private mount namespace', () => existsSync(ready), 10_000);
    const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
    const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 << 20 });
    const imported = spawnSync('nsenter', podmanArgv(['import', '--change', 'ENV=PATH=/bin:/sbin:/usr/bin:/usr/sbin', '-', TEST_IMAGE]), { input: tar.stdout, env: podmanEnv() });
    if (imported.status !== 0) throw new Error(`podman import: ${imported.stderr}`);
    // The bundled manifests run on the host's programs (`rootfs: {host: {}}`); busybox has them all.
    podman(['tag', TEST_IMAGE, 'localhost/corral-host-rootfs:latest']);
  }, 120_000);

  afterAll(async () => {
    if (work === '') return;
    if (holder !== null) {
      noteIds();
      for (const args of [['pod', 'rm', '-af', '-t', '0'], ['rm', '-af', '-t', '0'], ['volume', 'rm', '-af'], ['rmi', '-af']]) podman(args, false);
      const held = holder;
      if (held.exitCode === null && held.signalCode === null) {
        const gone = new Promise((resolve) => held.once('exit', resolve));
        held.kill('SIGKILL');
        await gone;
      }
    }
    unmountUnder(work);
    spawnSync('umount', ['-l', netns]);
    removePodmanCgroups([...ids]);
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('a service: same command, env and memory limit; the published port answers on 127.0.0.1', async () => {
    writeFileSync(join(work, 'manifests', 'web.yaml'), [
      'apiVersion: corral/v1', 'kind: Container', 'metadata: {name: web}', 'spec:', `  rootfs: {image: "${TEST_IMAGE}"}`,
      '  command: [/bin/sh, -c]', `  args: ["${SCRIPT}"]`,
      '  env: {GREETING: hello-from-corral}', '  resources: {memory: 48Mi}',
      `  network: {mode: bridge, ports: [{host: ${PORT}, container: 8080}]}`, '',
    ].join('\n'));
    const file = join(work, 'web.kube.yaml');
    const r = corral(['--dir', join(work, 'manifests'), 'export', 'kube', '--file', file]);
    expect(r.code).toBe(0);
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) validate(doc.toJS());
    play(file);
    try {
      await until('the published port', () => spawnSync('nsenter', [`--net=${netns}`, 'curl', '-sf', '-m', '2', `http://127.0.0.1:${PORT}/index.html`], { encoding: 'utf8' }).stdout === 'kube-ok\n');
      const inside = podman(['exec', 'web-web', '/bin/sh', '-c',
        'tr "\\0" " " < /proc/1/cmdline; echo; echo "$GREETING"; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']).split('\n');
      expect(inside[0]!.trim()).toBe(`/bin/sh -c ${SCRIPT}`);
      expect(inside[1]).toBe('hello-from-corral');
      expect(Number(inside[2])).toBe(48 * 2 ** 20);
    } finally {
      podman(['kube', 'down', file], false);
    }
  }, 180_000);

  test('every bundled manifest runs under podman kube play', async () => {
    const file = join(work, 'bundled.kube.yaml');
    const r = corral(['export', 'kube', '--file', file]);
    expect(r.code).toBe(0);
    play(file);
    try {
      await until('ticker and cache-worker running, migrate-job done', () =>
        state('ticker-ticker') === 'running 0' && state('cache-worker-cache-worker') === 'running 0' && state('migrate-job-migrate-job') === 'exited 0');
      expect(podman(['logs', 'migrate-job-migrate-job'])).toContain('migrating schema as uid 65534');
      expect(podman(['logs', 'ticker-ticker'])).toMatch(/ticker started as pid \d+/);
      expect(podman(['exec', 'cache-worker-cache-worker', '/bin/sh', '-c', 'echo "$CACHE_DIR $(pwd)"; ls /scratch'])).toMatch(/^\/cache \/cache\n/);
    } finally {
      podman(['kube', 'down', file], false);
    }
  }, 180_000);

  test('the host\'s nftables, network namespaces and podman state are as they were (podman worked in the test\'s namespaces)', () => {
    expect(hostRules()).toBe(rulesBefore);
    expect(netnsFiles()).toEqual(netnsBefore);
    expect(machinePodmanState()).toBe(podmanStateBefore);
  });
});
