#ifndef CORRAL_CHILD_H
#define CORRAL_CHILD_H

#include "spec.h"

struct child_fds {
    int sync;   /* read end: the monitor's go-ahead bytes */
    int err;    /* write end, close-on-exec: a setup_error record on failure */
    int stdin_; /* /dev/null of the host */
    int out, err_out;
    int status; /* write end, with `init` only (else -1): the command's wait status, from the init */
};

/* The container's init until execve. Never returns. */
void container_child(const struct spec *s, const struct child_fds *fds) __attribute__((noreturn));

#endif
