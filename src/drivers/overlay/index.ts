// The overlay driver's public API: what the reconciler, the runtime and the CLI import.
// Everything here works on the host side; the container's overlay itself is mounted by the shim
// inside the container's own mount namespace (docs/architecture.md, "Mounts") from the
// RootfsLayout returned here.

export type { BindSpec, ImageDefaults, RootfsLayout } from './rootfs-layout.js';
export { prepareRootfs, removeContainerRootfs, resolveRootfs, type PreparedOverlay, type ResolvedRootfs, type RootfsOptions } from './container-rootfs.js';
export { applyImageDefaults, defaultsFromConfig, NO_DEFAULTS, type ResolvedProcess } from './image-defaults.js';
export { ensureHostRoot, hostRootDigest, type HostRoot, type HostRootOptions } from './host-root.js';
export { applyVolumeAccess, ensureVolume, listVolumes, removeVolume, type VolumeAccess, type VolumeInfo, type VolumeUsers } from './volumes.js';
export { checkBindSources, stateRootOverlap } from './mount-sources.js';
export { collectGarbage, type GcInput, type GcReport } from './gc.js';
export { overlayFsconfigOptions, overlayMountData, preferredOverlayApi, type OverlayMountApi } from './overlay-options.js';
export { ensureMounted, unmount } from './mount-rootfs.js';
export { directoriesInUse } from './mount-usage.js';
export { formatImageRef, parseImageRef, DEFAULT_TAG, type ImageRef } from './images/image-ref.js';
export {
  findImage, getImage, importImage, listImages, preparedImageUsers, pruneImages, removeImage,
  type ImageRecord, type ImageUsers, type ImportOptions, type ImportResult, type PruneImagesResult, type RemoveImageResult,
} from './images/store.js';
export { pullImage, type PullProgress, type PullResult } from './images/registry/pull.js';
export { login, logout, registryHost } from './images/registry/login.js';
export { familiarName, formatReference, parseReference, type RegistryReference } from '../../manifest/image-reference.js';
export { overlayRootfsPort } from './rootfs-port.js';
export { storageLimitSupport } from './quota/probe.js';
export { describeFilesystem, summarizeSupport, type FilesystemFacts, type QuotaSupport } from './quota/support.js';
