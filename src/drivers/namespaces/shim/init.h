#ifndef CORRAL_INIT_H
#define CORRAL_INIT_H

#include "spec.h"

/* The container's PID 1 with `init: true` (see init.c): takes the command's credentials and
 * confinement, forks and execs it, closes `ready_fd` once it runs, then forwards signals and reaps
 * until it ends, writes its wait status (an int) on `status_fd` and exits with its code. Returns
 * only on a failure before the command runs (last_error set). */
int init_run(const struct spec *s, int ready_fd, int status_fd);

#endif
