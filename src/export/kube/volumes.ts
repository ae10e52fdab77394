// Mounts, secrets and config files → the Pod's volumes and the container's volumeMounts, plus the
// Secret and ConfigMap objects that hold the files (docs/kube-export.md, "Storage" and "Secrets
// and config files"). Pure.

import { filesOf, type ContainerSpec, type FileSpec, type MountSpec, type Propagation } from '../../manifest/spec.js';
import { DEFAULTS } from '../../manifest/defaults.js';
import { bytesQuantity } from './quantity.js';
import type { ExportOptions, IConfigMap, ISecret, IVolume, IVolumeMount } from './types.js';

export type Warn = (field: string, reason: string) => void;

export interface Storage {
  readonly volumes: IVolume[];
  readonly mounts: IVolumeMount[];
  readonly secret: ISecret | null;
  readonly configMap: IConfigMap | null;
}

/** The names the Pod uses for a container's Secret and ConfigMap. */
export const secretObjectName = (container: string): string => `${container}-secrets`;
export const configMapName = (container: string): string => `${container}-config`;

/** Marks a Secret or ConfigMap whose values were not exported: fill them in before applying. */
export const PLACEHOLDER_ANNOTATION = 'corral/placeholder';

const SECRETS_VOLUME = 'corral-secrets';
const CONFIG_VOLUME = 'corral-config';

/** A volume name (a DNS label) from a mount's kind and target, unique within the Pod. */
function volumeNamer(): (kind: string, target: string) => string {
  const used = new Set<string>([SECRETS_VOLUME, CONFIG_VOLUME]);
  return (kind, target) => {
    const base = `${kind}-${target.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'root'}`.slice(0, 56).replace(/-+$/, '');
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}-${i}`;
    used.add(name);
    return name;
  };
}

const PROPAGATION: Record<Propagation, IVolumeMount['mountPropagation'] | null> = {
  private: null, rprivate: null, slave: 'HostToContainer', rslave: 'HostToContainer', shared: 'Bidirectional', rshared: 'Bidirectional',
};

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}

function mountVolume(m: MountSpec, name: string, warn: Warn): { volume: IVolume; mount: IVolumeMount } {
  const field = `spec.mounts (target ${m.target})`;
  const mount: IVolumeMount = { name, mountPath: m.target, ...(m.readOnly ? { readOnly: true } : {}) };
  // corral mounts every tmpfs and volume nodev,nosuid, as container runtimes mount volumes: only more is news.
  const extra = m.type === 'bind' ? m.options : m.options.filter((o) => o !== 'nodev' && o !== 'nosuid');
  if (extra.length > 0) warn(`${field}.options`, `a volume takes no mount options: ${extra.join(', ')}`);
  switch (m.type) {
    case 'bind': {
      const propagation = PROPAGATION[m.propagation];
      if (propagation) mount.mountPropagation = propagation;
      if (propagation === 'Bidirectional') warn(`${field}.propagation`, 'Bidirectional propagation is allowed only in a privileged container');
      if (!m.recursive) warn(`${field}.recursive`, 'a hostPath volume is always bound recursively');
      if (m.idmap !== null) warn(`${field}.idmap`, 'an id-mapped bind has no volume equivalent');
      return { volume: { name, hostPath: { path: m.source } }, mount };
    }
    case 'tmpfs':
      if (m.mode !== DEFAULTS.tmpfsMode) warn(`${field}.mode`, `an emptyDir's mode is chosen by the runtime, not ${octal(m.mode)}`);
      if (m.owner !== null) warn(`${field}.owner`, 'an emptyDir has no owner of its own; securityContext.fsGroup, for every volume, is the nearest');
      return { volume: { name, emptyDir: { medium: 'Memory', sizeLimit: bytesQuantity(m.sizeBytes) } }, mount };
    case 'volume':
      if (m.owner !== null) warn(`${field}.owner`, 'a PersistentVolumeClaim has no owner of its own; securityContext.fsGroup, for every volume, is the nearest');
      if (m.mode !== null) warn(`${field}.mode`, `a PersistentVolumeClaim's mode is chosen by its storage, not ${octal(m.mode)}`);
      return { volume: { name, persistentVolumeClaim: { claimName: m.name, ...(m.readOnly ? { readOnly: true } : {}) } }, mount };
  }
}

function fileField(f: FileSpec): string {
  return `spec.${f.kind === 'secret' ? 'secrets' : 'configFiles'} (name ${f.name})`;
}

interface FilesPart<T> {
  readonly object: T;
  readonly volume: IVolume;
  readonly mounts: IVolumeMount[];
}

/**
 * The values of one kind of file, read through options.content: Secret values as base64 `data`,
 * config files as text `data` (base64 `binaryData` when not UTF-8), '' when not read.
 */
function filesOfKind(spec: ContainerSpec, kind: 'secret' | 'config', options: ExportOptions, warn: Warn) {
  const files = filesOf(spec).filter((f) => f.kind === kind);
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  let placeholders = 0;
  for (const f of files) {
    const content = options.content?.(spec.name, f) ?? null;
    if (content === null) {
      placeholders++;
      data[f.name] = '';
    } else if (kind === 'secret') {
      data[f.name] = content.base64;
    } else if (content.text !== null) {
      data[f.name] = content.text;
    } else {
      binaryData[f.name] = content.base64;
    }
    if (f.owner.uid !== 0 || f.owner.gid !== 0) warn(`${fileField(f)}.owner`, 'projected keys belong to root; securityContext.fsGroup sets a group for every volume');
    if (f.onChange.kind === 'signal') warn(`${fileField(f)}.onChange`, 'the kubelet never signals a container when a Secret or ConfigMap changes');
  }
  const name = kind === 'secret' ? secretObjectName(spec.name) : configMapName(spec.name);
  const metadata = {
    name,
    ...(Object.keys(spec.labels).length > 0 ? { labels: { ...spec.labels } } : {}),
    ...(placeholders > 0 ? { annotations: { [PLACEHOLDER_ANNOTATION]: `${placeholders} of ${files.length} values not exported: fill them in` } } : {}),
  };
  const items = files.map((f) => ({ key: f.name, path: f.name, mode: f.mode }));
  const volumeName = kind === 'secret' ? SECRETS_VOLUME : CONFIG_VOLUME;
  // One file per key at its target, where corral's symlink puts it.
  const mounts = files.map((f): IVolumeMount => ({ name: volumeName, mountPath: f.target, subPath: f.name, readOnly: true }));
  return { files, name, data, binaryData, metadata, items, volumeName, mounts };
}

function secretPart(spec: ContainerSpec, options: ExportOptions, warn: Warn): FilesPart<ISecret> | null {
  const p = filesOfKind(spec, 'secret', options, warn);
  if (p.files.length === 0) return null;
  return {
    object: { apiVersion: 'v1', kind: 'Secret', metadata: p.metadata, type: 'Opaque', data: p.data },
    volume: { name: p.volumeName, secret: { secretName: p.name, items: p.items, optional: false } },
    mounts: p.mounts,
  };
}

function configPart(spec: ContainerSpec, options: ExportOptions, warn: Warn): FilesPart<IConfigMap> | null {
  const p = filesOfKind(spec, 'config', options, warn);
  if (p.files.length === 0) return null;
  return {
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: p.metadata, data: p.data, ...(Object.keys(p.binaryData).length > 0 ? { binaryData: p.binaryData } : {}) },
    volume: { name: p.volumeName, configMap: { name: p.name, items: p.items, optional: false } },
    mounts: p.mounts,
  };
}

export function storageOf(spec: ContainerSpec, options: ExportOptions, warn: Warn): Storage {
  const nameFor = volumeNamer();
  const volumes: IVolume[] = [];
  const mounts: IVolumeMount[] = [];
  for (const m of spec.mounts) {
    const kind = m.type === 'bind' ? 'host' : m.type === 'tmpfs' ? 'tmpfs' : 'volume';
    const { volume, mount } = mountVolume(m, nameFor(kind, m.target), warn);
    volumes.push(volume);
    mounts.push(mount);
  }
  const secret = secretPart(spec, options, warn);
  const config = configPart(spec, options, warn);
  for (const part of [secret, config]) {
    if (part === null) continue;
    volumes.push(part.volume);
    mounts.push(...part.mounts);
  }
  return { volumes, mounts, secret: secret?.object ?? null, configMap: config?.object ?? null };
}
