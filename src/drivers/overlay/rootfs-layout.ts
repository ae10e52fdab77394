// The contract between the overlay driver (which prepares directories on the host) and the
// runtime (whose shim mounts them inside the container's own mount namespace; docs/architecture.md,
// "Mounts") is the reconciler's to define: both drivers implement its ports.
export type { BindSpec, ImageDefaults, RootfsLayout } from '../../reconciler/ports.js';
