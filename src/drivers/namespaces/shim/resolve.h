#ifndef CORRAL_RESOLVE_H
#define CORRAL_RESOLVE_H

/* openat2() with `root` as the root of every lookup: `..` and absolute symlinks stay inside it,
 * and magic links (/proc/self/fd/N, /proc/PID/root, /proc/self/cwd) are refused with ELOOP, so a
 * path the container (or its image) wrote can never name a host object. O_CLOEXEC is added. */
int open_in_root(int root, const char *path, int flags);
/* The same, refusing every symlink on the way (for objects corral itself placed). */
int open_in_root_nofollow(int root, const char *path, int flags);

/* Closes every descriptor from 3 up except those listed, so nothing of the host stays reachable
 * through /proc/self/fd once container paths are resolved. */
int close_fds_except(const int *keep, int n);

#endif
