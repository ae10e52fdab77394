#ifndef CORRAL_CAPS_H
#define CORRAL_CAPS_H

#include <stdint.h>

/* Drops every capability not in `keep` from the bounding set. */
int caps_bound(uint64_t keep);
int caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable);
int caps_ambient(uint64_t ambient);

#endif
