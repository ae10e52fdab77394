/* Mounts the monitor prepares for the child: see detached.c. */
#ifndef CORRAL_DETACHED_H
#define CORRAL_DETACHED_H

#include <stdint.h>
#include <sys/types.h>
#include "spec.h"

/* Whether the monitor prepares this op (a bind) rather than the child mounting it by path. */
int detached_op(const struct spec *s, const struct op *op);
/* Monitor: builds every prepared mount in order and sends each over `sock`, then `done`. */
int detached_send(const struct spec *s, pid_t child, int sock, char done);
/* Child: receives the prepared mounts until `done`; they are taken in order by detached_next(). */
int detached_receive(const struct spec *s, int sock, char done);
/* The next prepared mount (-1 and an error when there is none); the caller owns it. */
int detached_next(const char *what);
/* Closes what was not taken. */
void detached_close(void);

/* The pieces, shared with the capability probe (probe.c). */
int userns_with_maps(const char *uid_map, const char *gid_map, const char *what);
int clone_tree(const char *path, int recursive, int userns, const char *stage);
int overlay_from_fds(const int *layers, const char *const *names, uint32_t n, const char *upper, const char *work, const char *target);

#endif
