/* The user-namespace capability probe: see probe.c. */
#ifndef CORRAL_PROBE_H
#define CORRAL_PROBE_H

int probe_idmap(const char *dir);

#endif
