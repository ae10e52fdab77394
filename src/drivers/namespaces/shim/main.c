/* corral-shim: a dumb interpreter of the spawn spec the agent computes (see protocol.h). */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attach.h"
#include "kernel.h"
#include "monitor.h"
#include "probe.h"
#include "seal.h"
#include "spec.h"
#include "util.h"

static int usage(void)
{
    static const char msg[] = "usage: corral-shim run|exec|check-spec|version  (spec on fd 3, status on fd 4)\n"
                              "       corral-shim probe-idmap DIR\n";
    (void)write_all(2, msg, sizeof(msg) - 1);
    return SHIM_EXIT_USAGE;
}

/* True when nobody reads the status pipe any more: the agent that started this shim is gone. */
static int agent_gone(void)
{
    struct pollfd p = {.fd = FD_STATUS, .events = 0, .revents = 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

/* Until a start is recorded in its shim directory, it must not outlive the agent that asked for
 * it: a run begun after that agent was killed would find the container's cgroup empty, start it
 * again, and then see this late start join the same cgroup. So the launcher (the agent's child)
 * waits for the monitor's word, and each dies with its parent until then: agent → launcher →
 * monitor, by parent-death signals; the container's first process ends when the monitor's sync
 * socket closes (child.c). The monitor lifts its own signal once the start is recorded (start.c),
 * then releases the launcher, which exits so that the monitor lives on, re-parented, the agent's
 * child no more. */
static int start_run(const struct spec *s)
{
    signal(SIGPIPE, SIG_IGN); /* a gone agent is seen as EPIPE, not as a kill */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return fail("monitor", "set the parent-death signal");
    /* The agent may have died before the line above: then no signal will ever come. */
    if (agent_gone()) return fail_errno("monitor", EPIPE, "the agent went away before the container started");
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0) return fail("monitor", "pipe");
    pid_t launcher = getpid();
    pid_t pid = fork();
    if (pid < 0) return fail("monitor", "fork");
    if (pid > 0) {
        close(hold[1]);
        char released;
        if (RETRY(read(hold[0], &released, 1)) == 1) _exit(SHIM_EXIT_OK);
        /* The monitor ended without starting anything: its status says why; its exit code is ours. */
        int status = 0;
        if (RETRY(waitpid(pid, &status, 0)) < 0 || !WIFEXITED(status)) _exit(SHIM_EXIT_SETUP);
        _exit(WEXITSTATUS(status));
    }
    close(hold[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return fail("monitor", "set the parent-death signal");
    if (getppid() != launcher) _exit(SHIM_EXIT_SETUP);
    if (setsid() < 0) return fail("monitor", "setsid");
    int r = monitor_run(s, s->join_net ? FD_PIDFD : -1, hold[1]);
    return r < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    /* First of all, and again after every execve (which resets it): a process that is not dumpable
     * cannot be ptraced or have its /proc/PID/{exe,fd,mem} opened by anyone without
     * CAP_SYS_PTRACE over the host, so a container process cannot hijack the shim between setns
     * and the payload's execve (the CVE-2019-5736 class). The payload's execve makes it dumpable. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return SHIM_EXIT_SETUP;
    proc_title_save(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "probe-idmap")) return probe_idmap(argv[2]);
    if (argc != 2) return usage();
    const char *mode = argv[1];
    reset_signals();
    if (!strcmp(mode, "version")) {
        printf("corral-shim wire %d\n", SPEC_WIRE_VERSION);
        return SHIM_EXIT_OK;
    }
    uint16_t want;
    if (!strcmp(mode, "run")) want = SPEC_KIND_RUN;
    else if (!strcmp(mode, "exec")) want = SPEC_KIND_EXEC;
    else if (!strcmp(mode, "check-spec")) want = 0;
    else return usage();

    if (want && ensure_sealed(argv) < 0) {
        status_error(&last_error);
        return SHIM_EXIT_SETUP;
    }
    /* A `corral exec` that dies must not leave its command attached to nothing: hang it up. */
    if (want == SPEC_KIND_EXEC && prctl(PR_SET_PDEATHSIG, SIGHUP, 0, 0, 0) < 0) {
        fail("exec", "set the parent-death signal");
        status_error(&last_error);
        return SHIM_EXIT_SETUP;
    }

    uint8_t *buf = NULL;
    size_t len = 0;
    uint16_t kind = 0;
    struct spec s;
    memset(&s, 0, sizeof(s));
    int r = spec_read(FD_SPEC, &buf, &len, &kind);
    close(FD_SPEC);
    if (r == 0) r = spec_decode(buf, len, kind, &s);
    if (r == 0 && want && kind != want) r = fail_errno("spec", 0, "spec kind %u given to `%s`", kind, mode);
    if (r < 0) {
        status_error(&last_error);
        spec_free(&s);
        free(buf);
        return SHIM_EXIT_PROTOCOL;
    }
    if (!want) {
        r = spec_dump(1, &s);
    } else if (want == SPEC_KIND_RUN) {
        r = start_run(&s);
    } else {
        r = attach_run(&s, FD_PIDFD);
        if (r >= 0) {
            spec_free(&s);
            free(buf);
            return r;
        }
    }
    if (r < 0) status_error(&last_error);
    spec_free(&s);
    free(buf);
    return r < 0 ? SHIM_EXIT_SETUP : SHIM_EXIT_OK;
}
