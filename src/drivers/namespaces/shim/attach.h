#ifndef CORRAL_ATTACH_H
#define CORRAL_ATTACH_H

#include "spec.h"

/* `exec` mode: enter the container behind pidfd and run the spec's process; returns the exit
 * status for the shim (the command's code, 128+signal, or SHIM_EXIT_SETUP). */
int attach_run(const struct spec *s, int pidfd);

#endif
