#ifndef CORRAL_EXEC_H
#define CORRAL_EXEC_H

#include "spec.h"

/* Credentials, limits, capabilities, seccomp, a clean environment and signal state, then execve.
 * Returns only on failure (last_error set). Shared by `run` and `exec`. */
int process_exec(const struct spec *s);

/* The two halves of process_exec, for the init (init.c), which takes the command's credentials and
 * confinement itself and execs the command in a child. process_prepare leaves every descriptor
 * above stdio close-on-exec and every signal at its default, unblocked. */
int process_prepare(const struct spec *s);
/* execve of argv[0], searched in the container's PATH. Returns only on failure (last_error set). */
int process_execve(const struct spec *s);

#endif
