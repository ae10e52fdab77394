#ifndef CORRAL_SEAL_H
#define CORRAL_SEAL_H

/*
 * Whatever enters a container runs from a sealed, read-only memfd copy of the shim: a container
 * process that reaches /proc/PID/exe finds an object nobody can write (the CVE-2019-5736 class).
 * The agent starts the shim from one shared sealed copy; started any other way, the shim makes its
 * own copy and re-executes from it. Returns 0 when already sealed; -1 (last_error set) otherwise.
 */
int ensure_sealed(char **argv);

#endif
