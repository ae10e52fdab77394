/*
 * `corral-shim probe-idmap DIR`: whether this kernel and the filesystem under DIR can build a
 * container root the way the monitor does it with a user namespace (detached.c): a lower layer
 * cloned and idmapped to a new user namespace, handed to overlayfs by fd, with an upper and a
 * work directory beside it, mounted detached. DIR holds `lower`, `upper` and `work`, made by the
 * agent on the filesystem of its state root. Nothing is attached anywhere: closing the fds undoes
 * it all. Prints `ok`, or the refused step, on stdout; exits 0 either way (1 on bad usage).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "detached.h"
#include "probe.h"
#include "util.h"

/* Any id will do: the mapping is never used by a process, only by the mount. */
static const char PROBE_MAP[] = "0 65534 1\n";

static int try_idmapped_overlay(const char *dir)
{
    char lower[4096], upper[4096], work[4096];
    if (snprintf(lower, sizeof(lower), "%s/lower", dir) >= (int)sizeof(lower) ||
        snprintf(upper, sizeof(upper), "%s/upper", dir) >= (int)sizeof(upper) ||
        snprintf(work, sizeof(work), "%s/work", dir) >= (int)sizeof(work))
        return fail_errno("probe", ENAMETOOLONG, "%s", dir);
    cleanup_fd int userns = userns_with_maps(PROBE_MAP, PROBE_MAP, dir);
    if (userns < 0) return -1;
    cleanup_fd int layer = clone_tree(lower, 0, userns, "idmap");
    if (layer < 0) return -1;
    const char *names[] = {lower};
    cleanup_fd int root = overlay_from_fds(&layer, names, 1, upper, work, dir);
    return root < 0 ? -1 : 0;
}

int probe_idmap(const char *dir)
{
    if (try_idmapped_overlay(dir) == 0) {
        printf("ok\n");
    } else {
        printf("%s: %s%s%s\n", last_error.stage, last_error.detail, last_error.err ? ": " : "",
               last_error.err ? strerror(last_error.err) : "");
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
