// The mapping of src/export/kube, on the kitchen sink (every field of format v1) and small
// manifests: exact Kubernetes values, the schema of the pinned kubernetes-models, and the list of
// warnings. The CLI and the podman round trip are test/cli/export-kube.test.ts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { Pod } from 'kubernetes-models/v1/Pod';
import { exportContainer, exportKube, formatWarning, HOST_ROOTFS_IMAGE } from '../../src/export/kube/index.js';
import { bytesQuantity, cpuQuantity, seconds } from '../../src/export/kube/quantity.js';
import type { IPod } from '../../src/export/kube/types.js';
import type { ContainerSpec } from '../../src/manifest/spec.js';
import { manifest } from '../support/memory-source.js';
import { loadSet } from '../support/schema.js';

const KITCHEN = join(import.meta.dirname, '../fixtures/valid/kitchen-sink.yaml');

async function specs(files: Record<string, string>): Promise<ContainerSpec[]> {
  const set = await loadSet(files);
  expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return [...set.containers, ...set.elsewhere].map((c) => c.spec);
}

/** A manifest with a host rootfs and /bin/true, plus `extraSpec` lines (a `rootfs:` line replaces the default). */
async function one(name: string, extraSpec = ''): Promise<ContainerSpec> {
  const rootfs = /^rootfs: .*$/m.exec(extraSpec)?.[0];
  const text = manifest(name, extraSpec.replace(/^rootfs: .*\n?/m, ''));
  return (await specs({ [`/m/${name}.yaml`]: rootfs ? text.replace('rootfs: {host: {}}', rootfs) : text }))[0]!;
}

function podOf(spec: ContainerSpec, options = {}): IPod {
  const pod = exportContainer(spec, options).objects.find((o): o is IPod => o.kind === 'Pod')!;
  new Pod(pod).validate();
  return pod;
}

describe('quantities', () => {
  test('bytes, millicores and seconds', () => {
    expect([bytesQuantity(64 * 2 ** 20), bytesQuantity(2 ** 30), bytesQuantity(1500), bytesQuantity(1536), bytesQuantity(3072)]).toEqual(['64Mi', '1Gi', '1500', '1536', '3Ki']);
    expect([cpuQuantity(250), cpuQuantity(2000), cpuQuantity(1500)]).toEqual(['250m', '2', '1500m']);
    expect([seconds(1), seconds(1500), seconds(0, 0), seconds(90_000, 0)]).toEqual([1, 2, 0, 90]);
  });
});

describe('the kitchen sink', () => {
  test('maps field by field, passes the Pod schema, and names what has no equivalent', async () => {
    const all = await specs({ [KITCHEN]: readFileSync(KITCHEN, 'utf8') });
    const sink = all.find((s) => s.name === 'kitchen-sink')!;
    const { objects, warnings } = exportContainer(sink);
    expect(objects.map((o) => o.kind)).toEqual(['Pod']);
    const pod = podOf(sink);
    const c = pod.spec!.containers[0]!;
    expect(pod.metadata).toEqual({ name: 'kitchen-sink', labels: { app: 'web', 'app.kubernetes.io/name': 'web' }, annotations: { note: 'free text: anything goes' } });
    expect(c.image).toBe('localhost/alpine:3.19');
    expect([c.command, c.args, c.workingDir]).toEqual([['/bin/httpd', '-f'], ['-p', '8080'], '/srv']);
    expect(c.env).toEqual([{ name: 'A_FIRST', value: '1' }, { name: 'LANG', value: 'C.UTF-8' }]);
    expect(c.resources).toEqual({ limits: { memory: '256Mi', cpu: '500m' }, requests: { memory: '128Mi' } });
    // In the spec's order: by host address, then host port.
    expect(c.ports).toEqual([
      { containerPort: 53, hostPort: 53, hostIP: '127.0.0.1', protocol: 'UDP' },
      { containerPort: 80, hostPort: 8080, hostIP: '127.0.0.1', protocol: 'TCP' },
    ]);
    expect(c.livenessProbe).toEqual({ exec: { command: ['/bin/wget', '-q', '-O-', 'http://127.0.0.1:80/health'] }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, initialDelaySeconds: 5 });
    expect(c.securityContext).toMatchObject({
      runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
      seccompProfile: { type: 'Localhost', localhostProfile: 'web.json' },
    });
    expect(c.securityContext!.capabilities!.drop).toEqual(['ALL']);
    expect(c.securityContext!.capabilities!.add).toContain('NET_ADMIN');
    expect(c.securityContext!.capabilities!.add).not.toContain('MKNOD');
    expect(pod.spec!.securityContext).toEqual({
      supplementalGroups: [4, 10],
      sysctls: [{ name: 'kernel.shmmax', value: '68719476736' }, { name: 'net.ipv4.ip_unprivileged_port_start', value: '80' }],
    });
    expect(pod.spec).toMatchObject({
      restartPolicy: 'OnFailure', terminationGracePeriodSeconds: 90, hostname: 'web-1', hostUsers: false,
      dnsPolicy: 'None', dnsConfig: { nameservers: ['10.0.0.2', '::1'], searches: ['example.org'], options: [{ name: 'ndots', value: '2' }] },
      nodeSelector: { role: 'edge' },
    });
    expect(pod.spec!.volumes).toEqual(expect.arrayContaining([
      { name: 'volume-data', persistentVolumeClaim: { claimName: 'cache' } },
      { name: 'host-data-in', hostPath: { path: '/srv/data' } },
      { name: 'tmpfs-tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    ]));
    expect(pod.spec!.volumes).toHaveLength(3);
    expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'host-data-in', mountPath: '/data/in', readOnly: true, mountPropagation: 'HostToContainer' }]));
    expect(warnings.map((w) => w.field).sort()).toEqual([
      'spec.dependsOn', 'spec.hosts.hostnames', 'spec.mounts (target /data/in).options', 'spec.mounts (target /tmp).options',
      'spec.namespaces.user', 'spec.network.address', 'spec.network.aliases', 'spec.oomScoreAdj', 'spec.resources.cpuWeight',
      'spec.resources.cpuset', 'spec.resources.io', 'spec.resources.memorySwap', 'spec.resources.pids', 'spec.rootfs.image',
      'spec.security.maskedPaths', 'spec.security.seccomp', 'spec.stopSignal', 'spec.ulimits',
    ]);
    expect(formatWarning(warnings.find((w) => w.field === 'spec.ulimits')!)).toBe("warning: kitchen-sink: spec.ulimits has no Kubernetes equivalent (setrlimit limits are the container runtime's defaults)");
  });

  test('a path rootfs names an image to build and says how', async () => {
    const db = (await specs({ [KITCHEN]: readFileSync(KITCHEN, 'utf8') })).find((s) => s.name === 'db')!;
    const { warnings } = exportContainer(db);
    expect(podOf(db).spec!.containers[0]!.image).toBe('localhost/corral-rootfs-db:latest');
    expect(warnings.find((w) => w.field === 'spec.rootfs.path')!.reason).toContain('podman import - localhost/corral-rootfs-db:latest');
    expect(warnings.map((w) => w.field)).toEqual(expect.arrayContaining(['spec.resources.memorySwap', 'spec.stopSignal', 'spec.network.mode']));
  });
});

describe('small manifests', () => {
  test('a registry image keeps its reference and corral\'s IfNotPresent; --image wins', async () => {
    const spec = await one('web', 'rootfs: {image: "registry.example/team/web:2"}');
    expect(podOf(spec).spec!.containers[0]).toMatchObject({ image: 'registry.example/team/web:2', imagePullPolicy: 'IfNotPresent' });
    expect(podOf(spec, { images: { web: 'other/web:3' } }).spec!.containers[0]!.image).toBe('other/web:3');
    expect(podOf(spec, { images: { '*': 'all/web:4' } }).spec!.containers[0]!.image).toBe('all/web:4');
  });

  test('a host rootfs names the placeholder image', async () => {
    const spec = await one('h');
    expect(podOf(spec).spec!.containers[0]!.image).toBe(HOST_ROOTFS_IMAGE);
  });

  test('secrets and config files: a Secret and a ConfigMap, one subPath mount per file, env from the Secret', async () => {
    const spec = await one('app', [
      'secrets: [{name: db, source: {env: DB_PASSWORD}, mode: "0440"}]',
      'configFiles: [{name: conf, target: /etc/app.conf, source: {content: "x=1"}}]',
      'env: [{name: DB, valueFrom: {secret: db}}]',
    ].join('\n'));
    const placeholder = exportContainer(spec);
    expect(placeholder.objects.map((o) => o.kind)).toEqual(['Secret', 'ConfigMap', 'Pod']);
    expect(placeholder.objects[0]).toEqual({
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque', data: { db: '' },
      metadata: { name: 'app-secrets', annotations: { 'corral/placeholder': '1 of 1 values not exported: fill them in' } },
    });
    const read = exportContainer(spec, { content: (_c, f) => (f.kind === 'secret' ? { base64: 'cHc=', text: 'pw' } : { base64: 'eD0x', text: 'x=1' }) });
    expect(read.objects[0]).toMatchObject({ data: { db: 'cHc=' } });
    expect(read.objects[1]).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { conf: 'x=1' } });
    const pod = podOf(spec);
    const c = pod.spec!.containers[0]!;
    expect(c.env).toEqual([{ name: 'DB', valueFrom: { secretKeyRef: { name: 'app-secrets', key: 'db' } } }]);
    expect(c.volumeMounts).toEqual([
      { name: 'corral-secrets', mountPath: '/run/secrets/db', subPath: 'db', readOnly: true },
      { name: 'corral-config', mountPath: '/etc/app.conf', subPath: 'conf', readOnly: true },
    ]);
    expect(pod.spec!.volumes).toEqual([
      { name: 'corral-secrets', secret: { secretName: 'app-secrets', items: [{ key: 'db', path: 'db', mode: 0o440 }], optional: false } },
      { name: 'corral-config', configMap: { name: 'app-config', items: [{ key: 'conf', path: 'conf', mode: 0o444 }], optional: false } },
    ]);
  });

  test('privileged, host namespaces, a readiness probe for onFailure none, and exportKube orders Pods last', async () => {
    const a = await one('a', 'security: {privileged: true}\nnamespaces: {pid: host, network: host}\nhealthcheck: {exec: [/bin/true]}');
    const pod = podOf(a);
    expect(pod.spec).toMatchObject({ hostPID: true, hostNetwork: true });
    expect(pod.spec!.containers[0]!.securityContext).toEqual({ privileged: true });
    expect(pod.spec!.containers[0]!.readinessProbe).toEqual({ exec: { command: ['/bin/true'] }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 });
    const b = await one('b', 'configFiles: [{name: c, target: /etc/c, source: {content: "1"}}]');
    expect(exportKube([a, b]).objects.map((o) => `${o.kind}/${o.metadata!.name}`)).toEqual(['ConfigMap/b-config', 'Pod/a', 'Pod/b']);
  });
});
