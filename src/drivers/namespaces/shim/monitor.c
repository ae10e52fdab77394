/* The monitor's loop: the container's parent until it exits. It owns the log pipes, forwards stop
 * requests, reaps every child (it is a subreaper) and records the exit atomically. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "logfile.h"
#include "monitor.h"
#include "util.h"

/* After the init exits, output still in flight is drained for this long at most: with the host
 * pid namespace a daemonized grandchild may hold the pipes open forever. */
#define DRAIN_MS 200

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

long long read_oom_kills(const char *path)
{
    char buf[1024];
    cleanup_fd int fd = (int)RETRY(open(path, O_RDONLY | O_CLOEXEC));
    if (fd < 0) return -1;
    ssize_t n = read_all(fd, buf, sizeof(buf) - 1);
    if (n <= 0) return -1;
    buf[n] = 0;
    /* cgroup v1 memory.oom_control and v2 memory.events both carry an "oom_kill N" line. */
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, "oom_kill ", 9)) return strtoll(line + 9, NULL, 10);
    return -1;
}

/* With an init, what exit.json records is the command's status as the init reported it (an int,
 * written before it exited): a command killed by SIGTERM shows as SIGTERM, not as the init's code
 * 143. Without a report (the init itself was killed: a forced stop), the init's own status stands. */
static int command_status(struct monitor *m, int status, int *reported)
{
    *reported = 0;
    if (m->init_status < 0) return status;
    int st;
    ssize_t n = RETRY(read(m->init_status, &st, sizeof(st)));
    close(m->init_status);
    m->init_status = -1;
    if (n != (ssize_t)sizeof(st)) return status;
    /* Written by a process inside the container: only a well-formed exit or death is taken. */
    if (!WIFEXITED(st) && !(WIFSIGNALED(st) && WTERMSIG(st) >= 1 && WTERMSIG(st) <= 64)) {
        log_line("warn", "the init reported a malformed status 0x%x; recording its own", (unsigned)st);
        return status;
    }
    *reported = 1;
    return st;
}

static void record_exit(struct monitor *m, int init_status)
{
    int reported;
    int status = command_status(m, init_status, &reported);
    char buf[512], oom[16] = "null";
    uint64_t finished = realtime_ms();
    if (m->oom_before >= 0) {
        long long after = read_oom_kills(m->oom_events);
        if (after >= 0) snprintf(oom, sizeof(oom), "%s", after > m->oom_before ? "true" : "false");
    }
    int n;
    if (WIFEXITED(status))
        n = snprintf(buf, sizeof(buf), "{\"version\":1,\"initPid\":%d,\"exitCode\":%d,\"signal\":null,", (int)m->init,
                     WEXITSTATUS(status));
    else
        n = snprintf(buf, sizeof(buf), "{\"version\":1,\"initPid\":%d,\"exitCode\":null,\"signal\":%d,", (int)m->init,
                     WTERMSIG(status));
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "\"coreDumped\":%s,\"oomKilled\":%s,%s\"startedAtMs\":%llu,\"finishedAtMs\":%llu}\n",
                  WIFSIGNALED(status) && WCOREDUMP(status) ? "true" : "false", oom,
                  reported ? "\"init\":true," : "", (unsigned long long)m->started_ms,
                  (unsigned long long)finished);
    if (write_file_atomic(m->shim_dir, FILE_EXIT, buf, (size_t)n) < 0)
        log_line("error", "%s %s: %s", last_error.stage, last_error.detail, strerror(last_error.err));
}

/* Returns 1 once the init has been reaped. */
static int reap(struct monitor *m)
{
    int status, done = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == m->init) {
            record_exit(m, status);
            done = 1;
        }
    }
    return done;
}

static void forward(struct monitor *m, int sig)
{
    int to = sig == SIGTERM ? (int)m->stop_signal : sig;
    if (kill(m->init, to) < 0 && errno != ESRCH) log_line("warn", "forward signal %d to %d: %s", to, (int)m->init, strerror(errno));
}

int monitor_loop(struct monitor *m)
{
    /* One read(2) takes what the pipe holds, up to this: a flooding container costs a read, a
     * memchr and a memcpy per line, and a write per 128 KiB of records (logfile.c). */
    static char buf[64 * 1024];
    struct logfile log;
    sigset_t mask;
    sigemptyset(&mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) sigaddset(&mask, sigs[i]);
    cleanup_fd int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0) log_line("error", "signalfd: %s", strerror(errno));
    int have_log = logfile_open(&log, m->log_dir, m->log_max_bytes, m->log_max_files) == 0;
    if (!have_log) log_line("error", "%s %s: %s", last_error.stage, last_error.detail, strerror(last_error.err));

    struct pollfd p[3] = {{sfd, POLLIN, 0}, {m->out, POLLIN, 0}, {m->err, POLLIN, 0}};
    const char *names[3] = {NULL, "stdout", "stderr"};
    int exited = reap(m);
    uint64_t drain_until = 0;
    for (;;) {
        if (exited && p[1].fd < 0 && p[2].fd < 0) break;
        int timeout = -1;
        if (exited) {
            uint64_t now = monotonic_ms();
            if (!drain_until) drain_until = now + DRAIN_MS;
            if (now >= drain_until) break;
            timeout = (int)(drain_until - now);
        }
        int n = poll(p, 3, timeout);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            log_line("error", "poll: %s", strerror(errno));
            break;
        }
        if (n == 0) break; /* drained */
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGCHLD) {
                    if (reap(m)) exited = 1;
                } else if (!exited) {
                    forward(m, (int)si.ssi_signo);
                }
            }
        }
        for (int i = 1; i < 3; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = RETRY(read(p[i].fd, buf, sizeof(buf)));
            if (r <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                continue;
            }
            if (have_log && logfile_write(&log, names[i], buf, (size_t)r) < 0)
                log_line("error", "%s %s: %s", last_error.stage, last_error.detail, strerror(last_error.err));
        }
    }
    if (!exited) {
        /* poll failed: wait for the init so its exit is still recorded. */
        int status;
        if (RETRY(waitpid(m->init, &status, 0)) == m->init) record_exit(m, status);
    }
    return 0;
}
