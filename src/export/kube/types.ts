// The Kubernetes objects `corral export kube` writes, typed by the pinned kubernetes-models
// package (devDependency, Kubernetes 1.33 OpenAPI): a field Kubernetes does not have fails to
// compile here, and the tests validate the result against the same package's Pod schema.
// Type imports only: nothing of the package is loaded at run time. Pure.

import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { ISecret } from 'kubernetes-models/v1/Secret';

export type { IContainer } from 'kubernetes-models/v1/Container';
export type { IContainerPort } from 'kubernetes-models/v1/ContainerPort';
export type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
export type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
export type { IProbe } from 'kubernetes-models/v1/Probe';
export type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
export type { IVolume } from 'kubernetes-models/v1/Volume';
export type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
export type { IConfigMap, IPod, ISecret };

export type KubeObject = IPod | ISecret | IConfigMap;

/** A field of the manifest that the export could not carry over, or carried over only in part. */
export interface ExportWarning {
  /** The container (metadata.name). */
  readonly container: string;
  /** Where in the manifest: `spec.ulimits`, `spec.mounts (target /scratch).mode`. */
  readonly field: string;
  /** Why, and what a user can do about it. */
  readonly reason: string;
}

/**
 * The content of a secret or config file, read by the caller (the mapping does no I/O): base64 of
 * the bytes, and the text when it is UTF-8. null: not read (a secret without --include-secrets, or
 * a source that could not be read).
 */
export interface FileContent {
  readonly base64: string;
  readonly text: string | null;
}

export interface ExportOptions {
  /** Image references by container name, and for every container (`*`); they win over the rootfs. */
  readonly images?: Readonly<Record<string, string>>;
  /** The content of a secret or config file of a container, or null to write a placeholder. */
  readonly content?: (container: string, file: { readonly kind: 'secret' | 'config'; readonly name: string }) => FileContent | null;
}

/** One container's export: its Secret and ConfigMap (when it has files), then its Pod. */
export interface ContainerExport {
  readonly objects: readonly KubeObject[];
  readonly warnings: readonly ExportWarning[];
}
