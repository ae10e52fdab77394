#ifndef CORRAL_EXEC_H
#define CORRAL_EXEC_H

#include "spec.h"

/* Credentials, limits, capabilities, seccomp, a clean environment and signal state, then execve.
 * Returns only on failure (last_error set). Shared by `run` and `exec`. */
int process_exec(const struct spec *s);

#endif
