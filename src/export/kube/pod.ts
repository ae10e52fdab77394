// One ContainerSpec → a Kubernetes v1 Pod (one container, named like the manifest) and the Secret
// and ConfigMap holding its files, with a warning for every field that does not carry over.
// docs/kube-export.md is the mapping table; keep the two together. Pure: no I/O, no Node.

import type { ContainerSpec, HealthcheckSpec } from '../../manifest/spec.js';
import { bytesQuantity, cpuQuantity, seconds } from './quantity.js';
import { securityOf } from './security.js';
import type { ContainerExport, ExportOptions, ExportWarning, IContainer, IEnvVar, IPod, IProbe, KubeObject } from './types.js';
import { checkUnsupported } from './unsupported.js';
import { secretObjectName, storageOf, type Warn } from './volumes.js';

/** The image a Pod names for a rootfs that is not a registry reference. */
export const HOST_ROOTFS_IMAGE = 'localhost/corral-host-rootfs:latest';
export const pathRootfsImage = (container: string): string => `localhost/corral-rootfs-${container}:latest`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function imageOf(spec: ContainerSpec, options: ExportOptions, warn: Warn): Pick<IContainer, 'image' | 'imagePullPolicy'> {
  const given = options.images?.[spec.name] ?? options.images?.['*'];
  if (given !== undefined) return { image: given };
  const hint = `pass --image ${spec.name}=REF to name another`;
  const r = spec.rootfs;
  switch (r.kind) {
    case 'image': {
      if (!r.name.includes('/')) {
        const image = `localhost/${r.name}:${r.tag}`;
        warn('spec.rootfs.image', `\`${r.name}\` is an image of corral's store, not a registry reference: the Pod names ${image}; push it to a registry or import it into podman, or ${hint}`);
        return { image };
      }
      // corral's default pull policy is IfNotPresent whatever the tag; Kubernetes' is Always for :latest.
      return { image: `${r.name}:${r.tag}${r.digest ? `@${r.digest}` : ''}`, imagePullPolicy: r.pullPolicy ?? 'IfNotPresent' };
    }
    case 'path': {
      const image = pathRootfsImage(spec.name);
      warn('spec.rootfs.path', `a Pod needs an image: it names ${image}; build it from ${r.path}, e.g. \`tar -C ${r.path} -c . | podman import - ${image}\`, or ${hint}`);
      return { image };
    }
    case 'host':
      warn('spec.rootfs.host', `a Pod needs an image: it names ${HOST_ROOTFS_IMAGE}; build one with the programs the command uses, or ${hint}`);
      return { image: HOST_ROOTFS_IMAGE };
  }
}

function envOf(spec: ContainerSpec): IEnvVar[] {
  return spec.process.env.map((e): IEnvVar => (e.secret !== undefined
    ? { name: e.name, valueFrom: { secretKeyRef: { name: secretObjectName(spec.name), key: e.secret } } }
    : { name: e.name, value: e.value }));
}

function resourcesOf(spec: ContainerSpec): IContainer['resources'] {
  const r = spec.resources;
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  if (r.memoryBytes !== null) limits['memory'] = bytesQuantity(r.memoryBytes);
  if (r.cpuMillis !== null) limits['cpu'] = cpuQuantity(r.cpuMillis);
  if (spec.storage.sizeBytes !== null) limits['ephemeral-storage'] = bytesQuantity(spec.storage.sizeBytes);
  if (r.memoryReservationBytes !== null) requests['memory'] = bytesQuantity(r.memoryReservationBytes);
  if (Object.keys(limits).length === 0 && Object.keys(requests).length === 0) return undefined;
  return { ...(Object.keys(limits).length > 0 ? { limits } : {}), ...(Object.keys(requests).length > 0 ? { requests } : {}) };
}

function probeOf(h: HealthcheckSpec): IProbe {
  return {
    exec: { command: [...h.exec] },
    periodSeconds: seconds(h.intervalMs),
    timeoutSeconds: seconds(h.timeoutMs),
    failureThreshold: h.retries,
    ...(h.startPeriodMs > 0 ? { initialDelaySeconds: seconds(h.startPeriodMs, 0) } : {}),
  };
}

/** `ndots:2` → {name: ndots, value: '2'}. */
function dnsOption(option: string): { name: string; value?: string } {
  const i = option.indexOf(':');
  return i < 0 ? { name: option } : { name: option.slice(0, i), value: option.slice(i + 1) };
}

function schedulingOf(spec: ContainerSpec, warn: Warn): Pick<NonNullable<IPod['spec']>, 'nodeSelector'> {
  const nodeSelector: Record<string, string> = { ...spec.hosts.labels };
  const names = spec.hosts.hostnames;
  if (names.length === 1 && !/[*?]/.test(names[0]!)) nodeSelector['kubernetes.io/hostname'] = names[0]!;
  else if (names.length > 0) warn('spec.hosts.hostnames', 'host name patterns or several names: a nodeSelector matches one kubernetes.io/hostname; node affinity can list several exact names');
  return Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {};
}

export function exportContainer(spec: ContainerSpec, options: ExportOptions = {}): ContainerExport {
  const warnings: ExportWarning[] = [];
  const warn: Warn = (field, reason) => warnings.push({ container: spec.name, field, reason });
  const storage = storageOf(spec, options, warn);
  const security = securityOf(spec, warn);
  const resources = resourcesOf(spec);
  const p = spec.process;
  const container: IContainer = {
    name: spec.name,
    ...imageOf(spec, options, warn),
    ...(p.command !== null ? { command: [...p.command] } : {}),
    ...(p.args !== null ? { args: [...p.args] } : {}),
    ...(p.workingDir !== null ? { workingDir: p.workingDir } : {}),
    ...(p.env.length > 0 ? { env: envOf(spec) } : {}),
    ...(resources ? { resources } : {}),
    ...(spec.network.ports.length > 0 ? {
      ports: spec.network.ports.map((port) => ({ containerPort: port.containerPort, hostPort: port.hostPort, hostIP: port.hostIP, protocol: port.protocol === 'udp' ? 'UDP' : 'TCP' })),
    } : {}),
    ...(storage.mounts.length > 0 ? { volumeMounts: storage.mounts } : {}),
    ...(spec.healthcheck !== null
      // onFailure restart is what a liveness probe does; `none` only reports, as readiness does.
      ? spec.healthcheck.onFailure === 'restart' ? { livenessProbe: probeOf(spec.healthcheck) } : { readinessProbe: probeOf(spec.healthcheck) }
      : {}),
    securityContext: security.container,
  };
  const dns = spec.network.dns;
  if (spec.hostname !== '' && spec.hostname !== spec.name && !DNS_LABEL.test(spec.hostname)) {
    warn('spec.hostname', `\`${spec.hostname}\` is not a DNS label, as a Pod's hostname must be`);
  }
  const pod: IPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      ...(Object.keys(spec.labels).length > 0 ? { labels: { ...spec.labels } } : {}),
      ...(Object.keys(spec.annotations).length > 0 ? { annotations: { ...spec.annotations } } : {}),
    },
    spec: {
      restartPolicy: spec.restartPolicy,
      terminationGracePeriodSeconds: seconds(spec.stopTimeoutMs, 0),
      ...(spec.hostname !== '' && spec.hostname !== spec.name && DNS_LABEL.test(spec.hostname) ? { hostname: spec.hostname } : {}),
      ...(spec.namespaces.network.kind === 'host' ? { hostNetwork: true } : {}),
      ...(spec.namespaces.pid === 'host' ? { hostPID: true } : {}),
      ...(spec.namespaces.ipc === 'host' ? { hostIPC: true } : {}),
      ...(spec.namespaces.user !== null ? { hostUsers: false } : {}),
      ...(dns !== null ? {
        dnsPolicy: 'None',
        dnsConfig: { nameservers: [...dns.nameservers], searches: [...dns.search], options: dns.options.map(dnsOption) },
      } : {}),
      ...schedulingOf(spec, warn),
      ...(Object.keys(security.pod).length > 0 ? { securityContext: security.pod } : {}),
      containers: [container],
      ...(storage.volumes.length > 0 ? { volumes: storage.volumes } : {}),
    },
  };
  checkUnsupported(spec, warn);
  const objects: KubeObject[] = [];
  if (storage.secret) objects.push(storage.secret);
  if (storage.configMap) objects.push(storage.configMap);
  objects.push(pod);
  return { objects, warnings };
}

/** Every container's objects, in the order given: Secrets and ConfigMaps first, then the Pods. */
export function exportKube(specs: readonly ContainerSpec[], options: ExportOptions = {}): { objects: KubeObject[]; warnings: ExportWarning[] } {
  const parts = specs.map((s) => exportContainer(s, options));
  const objects = parts.flatMap((p) => p.objects);
  return {
    objects: [...objects.filter((o) => o.kind !== 'Pod'), ...objects.filter((o) => o.kind === 'Pod')],
    warnings: parts.flatMap((p) => p.warnings),
  };
}

/** The line a warning is printed as on stderr. */
export function formatWarning(w: ExportWarning): string {
  return `warning: ${w.container}: ${w.field} has no Kubernetes equivalent (${w.reason})`;
}
