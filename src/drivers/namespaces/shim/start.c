/* The monitor's first job: start the container, place it, and tell the agent how it went. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"
#include "detached.h"
#include "kernel.h"
#include "monitor.h"
#include "ns.h"
#include "util.h"

#define LOG_PIPE_BYTES (256 * 1024)

static void close_pair(int p[2])
{
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    p[0] = p[1] = -1;
}

/* Kills and reaps a child whose setup the monitor itself could not finish. */
static void abandon(pid_t pid)
{
    kill(pid, SIGKILL);
    (void)RETRY(waitpid(pid, NULL, 0));
}

static int make_fifo(int dirfd)
{
    (void)unlinkat(dirfd, FILE_ALIVE, 0);
    if (mkfifoat(dirfd, FILE_ALIVE, 0600) < 0) return fail("monitor", "mkfifo %s", FILE_ALIVE);
    /* Read-write so the open never blocks; the agent sees EOF once this process is gone. */
    int fd = (int)RETRY(openat(dirfd, FILE_ALIVE, O_RDWR | O_CLOEXEC));
    if (fd < 0) return fail("monitor", "open %s", FILE_ALIVE);
    return fd;
}

static int write_state(const struct spec *s, int dirfd, pid_t init, uint64_t started, char *line, size_t cap)
{
    int n = snprintf(line, cap, "{\"version\":1,\"name\":\"");
    size_t used = json_escape(line, cap, (size_t)n, s->name ? s->name : "");
    n = snprintf(line + used, cap - used,
                 "\",\"monitorPid\":%d,\"monitorStartTime\":%llu,\"initPid\":%d,\"initStartTime\":%llu,"
                 "\"startedAtMs\":%llu}\n",
                 (int)getpid(), (unsigned long long)proc_start_time(getpid()), (int)init,
                 (unsigned long long)proc_start_time(init), (unsigned long long)started);
    used += (size_t)n;
    return write_file_atomic(dirfd, FILE_STATE, line, used) < 0 ? -1 : (int)used;
}

int monitor_run(const struct spec *s, int join_pidfd, int release)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, sync[2] = {-1, -1}, errp[2] = {-1, -1}, initp[2] = {-1, -1};
    cleanup_fd int dirfd = -1, devnull = -1;
    /* Never closed by hand: the kernel drops it during exit, after PF_EXITING is visible, which
     * is what lets a late reader tell a live monitor from one already leaving (wait.ts). */
    int alive = -1;
    sigset_t mask;

    signal(SIGPIPE, SIG_IGN); /* a gone agent must not kill the monitor */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return fail("monitor", "become subreaper");
    dirfd = (int)RETRY(open(s->shim_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dirfd < 0) return fail("monitor", "open %s", s->shim_dir);
    (void)unlinkat(dirfd, FILE_EXIT, 0);
    (void)unlinkat(dirfd, FILE_STATE, 0);
    if ((alive = make_fifo(dirfd)) < 0) return -1;
    devnull = (int)RETRY(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (devnull < 0) return fail("monitor", "open /dev/null");
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 ||
        pipe2(errp, O_CLOEXEC) < 0)
        return fail("monitor", "pipe");
    /* With an init, the command's wait status comes back here (init.c); read once the init is
     * reaped, so never blocking. */
    if (s->init && (pipe2(initp, O_CLOEXEC) < 0 || fcntl(initp[0], F_SETFL, O_NONBLOCK) < 0))
        return fail("monitor", "pipe for the init");
    /* Room for a burst of output between two reads of the monitor (which reads up to 64 KiB at a
     * time): fewer wake-ups on both sides. Pages are allocated as the container writes (and
     * charged to it), so a quiet container costs nothing; a refusal keeps the default. */
    (void)fcntl(out[0], F_SETPIPE_SZ, LOG_PIPE_BYTES);
    (void)fcntl(err[0], F_SETPIPE_SZ, LOG_PIPE_BYTES);

    /* Blocked before clone so no SIGCHLD or stop request is lost; the child unblocks before exec. */
    sigemptyset(&mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) sigaddset(&mask, sigs[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    long long oom_before = s->oom_events ? read_oom_kills(s->oom_events) : -1;
    /* A root the monitor builds (detached.c) is moved onto the child's working directory: its
     * copy of the target in the new mount namespace, reached without a path lookup. */
    if (s->root_lower.n && chdir(s->root_target) < 0) return fail("mount", "enter %s", s->root_target);
    pid_t pid = ns_clone(s, join_pidfd);
    if (s->root_lower.n && pid != 0) (void)chdir("/");
    if (pid < 0) return -1;
    if (pid == 0) {
        struct child_fds fds = {sync[0], errp[1], devnull, out[1], err[1], initp[1]};
        container_child(s, &fds);
    }
    close(sync[0]);
    close(errp[1]);
    close(out[1]);
    close(err[1]);
    if (initp[1] >= 0) close(initp[1]);
    sync[0] = errp[1] = out[1] = err[1] = initp[1] = -1;
    if (join_pidfd >= 0) close(join_pidfd);

    if (ns_write_maps(s, pid) < 0 || ns_oom_score_adj(s, pid) < 0 || detached_send(s, pid, sync[1], SYNC_MAPS_DONE) < 0)
        goto abandon;
    /* The monitor joins its own leaf of the container's cgroup here, not before the clone: the
     * first pid write into a cgroup can wait for an RCU grace period (~8 ms), which this window
     * (the child doing its mounts) hides instead of adding it to every start. From now on the
     * monitor's CPU and memory are the container's. */
    char go = SYNC_CGROUPS_DONE;
    TEST_PAUSE("placement");
    if (ns_join_cgroups(s, pid) < 0 || ns_place_monitor(s) < 0 || write_all(sync[1], &go, 1) < 0) goto abandon;
    close(sync[1]);
    sync[1] = -1;

    struct setup_error child_err;
    ssize_t n = read_all(errp[0], &child_err, sizeof(child_err));
    close_pair(errp);
    if (n != 0) {
        if (n == (ssize_t)sizeof(child_err)) {
            child_err.stage[sizeof(child_err.stage) - 1] = 0;
            child_err.detail[sizeof(child_err.detail) - 1] = 0;
            last_error = child_err;
        } else {
            fail_errno("setup", EPROTO, "short error record (%zd bytes) from the container", n);
        }
        (void)RETRY(waitpid(pid, NULL, 0));
        close_pair(out);
        close_pair(err);
        close_pair(initp);
        return -1;
    }

    uint64_t started = realtime_ms();
    char line[1024];
    int len = write_state(s, dirfd, pid, started, line, sizeof(line));
    if (len < 0) {
        /* The container runs but could not be recorded: stopping it is the only safe outcome. */
        struct setup_error saved = last_error;
        abandon(pid);
        last_error = saved;
        close_pair(initp);
        return -1;
    }
    /* Recorded: from here a later run adopts this start, so it must outlive the agent (main.c).
     * Clearing cannot fail: only an invalid signal number is refused. */
    (void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    char released = 1;
    (void)write_all(release, &released, 1);
    close(release);
    char ready[1100];
    int rn = snprintf(ready, sizeof(ready), "{\"type\":\"ready\",%.*s\n", len - 2, line + 1);
    (void)write_all(FD_STATUS, ready, (size_t)rn);
    close(FD_STATUS);

    /* From now on nobody reads the agent's pipes: stdio moves to /dev/null and monitor.log. */
    int logfd = (int)RETRY(openat(dirfd, FILE_MONITOR_LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(logfd >= 0 ? logfd : devnull, 2);
    if (logfd >= 0) close(logfd);

    struct monitor m = {
        .init = pid, .shim_dir = dirfd, .out = out[0], .err = err[0], .stop_signal = s->stop_signal,
        .started_ms = started, .oom_events = s->oom_events, .oom_before = oom_before, .log_dir = s->log_dir,
        .log_max_bytes = s->log_max_bytes, .log_max_files = s->log_max_files, .init_status = initp[0],
    };
    return monitor_loop(&m);

abandon:;
    struct setup_error saved = last_error;
    abandon(pid);
    /* The child may have failed first (its mounts run between the two sync bytes): the write
     * above then failed only because it was gone, and its own error record is the real cause. */
    struct setup_error late;
    if (errp[0] >= 0 && read_all(errp[0], &late, sizeof(late)) == (ssize_t)sizeof(late)) {
        late.stage[sizeof(late.stage) - 1] = 0;
        late.detail[sizeof(late.detail) - 1] = 0;
        saved = late;
    }
    last_error = saved;
    close_pair(sync);
    close_pair(errp);
    close_pair(out);
    close_pair(err);
    close_pair(initp);
    return -1;
}
