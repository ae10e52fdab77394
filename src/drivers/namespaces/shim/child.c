/* The cloned child: it becomes the container's PID 1. Each step is named by the stage it reports
 * on failure; the order is the one drawn in protocol.h. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "child.h"
#include "detached.h"
#include "exec.h"
#include "init.h"
#include "kernel.h"
#include "mounts.h"
#include "ns.h"
#include "resolve.h"
#include "root.h"
#include "util.h"

static int wait_for(int fd, char want)
{
    char c;
    ssize_t n = RETRY(read(fd, &c, 1));
    if (n < 0) return fail("sync", "read from monitor");
    if (n == 0) return fail_errno("sync", EPIPE, "monitor went away");
    if (c != want) return fail_errno("sync", EPROTO, "unexpected byte %d", c);
    return 0;
}

static int setup(const struct spec *s, const struct child_fds *fds)
{
    if (dup2(fds->stdin_, 0) < 0 || dup2(fds->out, 1) < 0 || dup2(fds->err_out, 2) < 0)
        return fail("stdio", "dup2");
    /* Before any path of the container is looked at: nothing of the monitor (its directory on the
     * host, the agent's status pipe, a pidfd) may stay reachable through /proc/self/fd. */
    if (close_fds_except((const int[]){fds->sync, fds->err, fds->status}, fds->status >= 0 ? 3 : 2) < 0)
        return -1;
    if (detached_receive(s, fds->sync, SYNC_MAPS_DONE) < 0) return -1;
    if (s->uid_map) {
        /* Become root of the new user namespace, so files the setup creates belong to the mapped
         * root rather than to an unmapped host uid. */
        if (setresgid(0, 0, 0) < 0) return fail("user namespace", "setresgid 0");
        if (setresuid(0, 0, 0) < 0) return fail("user namespace", "setresuid 0");
    }
    if (mounts_prepare(s) < 0) return -1;
    if (s->loopback && ns_loopback_up() < 0) return -1;
    if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
        return fail("sethostname", "%s", s->hostname);
    if (wait_for(fds->sync, SYNC_CGROUPS_DONE) < 0) return -1;
    /* After placement, so the namespace's root is the container's own cgroup. */
    if ((s->ns_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
        return fail("cgroup namespace", "unshare");
    if (root_pivot(s) < 0) return -1;
    if (root_finalize(s) < 0) return -1;
    if (s->init) {
        close(fds->sync);
        return init_run(s, fds->err, fds->status);
    }
    return process_exec(s);
}

void container_child(const struct spec *s, const struct child_fds *fds)
{
    (void)setup(s, fds);
    (void)write_all(fds->err, &last_error, sizeof(last_error));
    _exit(SHIM_EXIT_SETUP);
}
