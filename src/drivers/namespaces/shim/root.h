#ifndef CORRAL_ROOT_H
#define CORRAL_ROOT_H

#include "spec.h"

/* pivot_root into the prepared root and detach the old one. */
int root_pivot(const struct spec *s);
/* The FINAL ops, inside the container's view: sysctl writes, masks, read-only paths, remounts. */
int root_finalize(const struct spec *s);

#endif
