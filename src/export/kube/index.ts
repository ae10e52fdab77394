// `corral export kube`: ContainerSpecs → Kubernetes v1 objects (docs/kube-export.md). Pure.
export { exportContainer, exportKube, formatWarning, HOST_ROOTFS_IMAGE, pathRootfsImage } from './pod.js';
export { configMapName, PLACEHOLDER_ANNOTATION, secretObjectName } from './volumes.js';
export type { ContainerExport, ExportOptions, ExportWarning, FileContent, KubeObject } from './types.js';
