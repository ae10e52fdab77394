#ifndef CORRAL_MOUNTS_H
#define CORRAL_MOUNTS_H

#include "spec.h"

/* Private propagation, the root filesystem, then the MOUNT ops resolved inside the new root
 * (symlinks in the image cannot send a mount outside it). */
int mounts_prepare(const struct spec *s);
/* The root the monitor built, open once mounts_prepare is done (else -1): pivot_root's way in. */
extern int prepared_root;
/* Re-mounts with extra flags, keeping the flags the kernel locks (nosuid, nodev, noexec...). */
int remount(const char *stage, const char *path, const char *shown, unsigned long flags);

/* The /proc/self/fd/N name of an fd: mount(2) follows it to the object corral opened. */
void fd_path(char *buf, size_t cap, int fd);

#endif
