// The contract between the overlay driver (which prepares directories on the host) and the
// runtime (whose shim mounts them inside the container's own mount namespace, DESIGN.md §4).
// Nothing here is mounted in the host's mount table.

export interface BindSpec {
  /** Absolute host path. */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
  readonly readOnly: boolean;
  /** Extra flags for the bind (applied with the read-only remount). Absent: none. */
  readonly options?: readonly ('nosuid' | 'nodev' | 'noexec')[];
}

export interface RootfsLayout {
  /** Lower layers, top first (overlayfs `lowerdir` order). */
  readonly lower: readonly string[];
  /** Copy-on-write layer of this container; survives restarts, removed with the container. */
  readonly upper: string;
  readonly work: string;
  /** Empty directory on the host; the shim mounts the overlay here, inside the new mount namespace. */
  readonly target: string;
  /**
   * Binds applied inside the new root right after the overlay mount, before the manifest's own
   * mounts (the host rootfs binds the host's /usr read-only this way).
   */
  readonly binds: readonly BindSpec[];
  /** `readOnlyRootfs`: the root is remounted read-only once everything is mounted. */
  readonly readOnly: boolean;
}

/** Defaults an image supplies; the manifest overrides each (command, args, env by name...). */
export interface ImageDefaults {
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
  readonly env: readonly string[];
  readonly user: string | null;
  readonly workingDir: string | null;
  readonly stopSignal: string | null;
}
