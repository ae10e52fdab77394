/* Namespaces and cgroup placement: the parts of the start that happen around clone. */
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "kernel.h"
#include "ns.h"
#include "util.h"

pid_t ns_clone(const struct spec *s, int join_pidfd)
{
    cleanup_fd int own_net = -1;
    cleanup_fd int cgfd = -1;
    if (s->join_net) {
        /* Joining here, in the single-threaded monitor, lets the child inherit the netns even when
         * it also gets a new user namespace that would have no rights over the target's. */
        own_net = (int)RETRY(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
        if (own_net < 0) return fail("join network", "open /proc/self/ns/net");
        if (setns(join_pidfd, CLONE_NEWNET) < 0) return fail("join network", "setns pidfd %d", join_pidfd);
    }
    struct k_clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = s->ns_flags & ~(uint64_t)CLONE_NEWCGROUP;
    args.exit_signal = SIGCHLD;
    if (s->cgroup_dir) {
        cgfd = (int)RETRY(open(s->cgroup_dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (cgfd < 0) return fail("cgroup", "open %s", s->cgroup_dir);
        args.flags |= K_CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgfd;
    }
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid < 0) {
        int err = errno;
        if (own_net >= 0) (void)setns(own_net, CLONE_NEWNET);
        return fail_errno("clone", err, "namespaces 0x%llx", (unsigned long long)args.flags);
    }
    if (pid == 0) return 0;
    if (own_net >= 0 && setns(own_net, CLONE_NEWNET) < 0) {
        int err = errno;
        kill(pid, SIGKILL);
        return fail_errno("join network", err, "return to own network namespace");
    }
    return pid;
}

static int write_proc(pid_t pid, const char *file, const char *data)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    if (write_file(path, data, strlen(data)) < 0) return fail("user namespace", "write %s", path);
    return 0;
}

int ns_write_maps(const struct spec *s, pid_t child)
{
    if (!s->uid_map) return 0;
    if (write_proc(child, "uid_map", s->uid_map) < 0) return -1;
    return write_proc(child, "gid_map", s->gid_map);
}

int ns_oom_score_adj(const struct spec *s, pid_t child)
{
    if (!HAS(s, OOM_SCORE_ADJ)) return 0;
    /* Written by the monitor: the child is not dumpable until its execve, so inside a user
     * namespace its own /proc/self files belong to the host's root, not to it. */
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", s->oom_score_adj);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)child);
    if (write_file(path, buf, strlen(buf)) < 0) return fail("oom_score_adj", "write %s", buf);
    return 0;
}

int ns_join_cgroups(const struct spec *s, pid_t pid)
{
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (uint32_t i = 0; i < s->cgroup_procs.n; i++) {
        if (write_file(s->cgroup_procs.v[i], buf, (size_t)n) < 0)
            return fail("cgroup", "write %s to %s", buf, s->cgroup_procs.v[i]);
    }
    return 0;
}

int ns_place_monitor(const struct spec *s)
{
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d", (int)getpid());
    for (uint32_t i = 0; i < s->monitor_cgroup_procs.n; i++) {
        if (write_file(s->monitor_cgroup_procs.v[i], buf, (size_t)n) < 0)
            return fail("cgroup", "write monitor pid %s to %s", buf, s->monitor_cgroup_procs.v[i]);
    }
    if (!HAS(s, MONITOR_OOM_SCORE_ADJ)) return 0;
    n = snprintf(buf, sizeof(buf), "%d", s->monitor_oom_score_adj);
    if (write_file("/proc/self/oom_score_adj", buf, (size_t)n) < 0) return fail("oom_score_adj", "write monitor's %s", buf);
    return 0;
}

int ns_loopback_up(void)
{
    cleanup_fd int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return fail("network", "socket for lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return fail("network", "get flags of lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) return fail("network", "set lo up");
    return 0;
}
