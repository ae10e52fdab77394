/*
 * corral-init: the container's PID 1 when its manifest says `init: true` (what `docker run --init`
 * and tini give). The kernel drops every signal a pid namespace's init has no handler for, SIGTERM
 * from the host included, and makes it the parent of every orphan: a command that is not written
 * to be an init (a shell script, a Python or Node service) then ignores `corral stop` until the
 * stop timeout kills it, and leaves its orphans' zombies behind. So the init:
 *
 *   - is set up exactly as the command would be (mounts, pivot_root, working directory, limits,
 *     capabilities, seccomp, ids, no_new_privs: process_prepare), then drops what the command's
 *     execve would drop (a non-root command's permitted capabilities), so it holds nothing the
 *     command does not; it stays non-dumpable (it never execs), so no container process can ptrace it or
 *     open its /proc/1/{fd,exe,mem}, exactly like the shim before its execve;
 *   - forks the command, which execs as it would have (same fds, environment, user, directory),
 *     in a process group of its own; an exec failure is a setup error like any other;
 *   - forwards every signal it receives to the command's pid (not its group: tini's default; a
 *     shell that wants its children signalled traps and passes the signal on itself), except
 *     SIGCHLD and the faults a bug of its own would raise (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 *     SIGTRAP, SIGSYS);
 *   - reaps every child, orphans included (it is also a subreaper, for `namespaces.pid: host`);
 *   - when the command ends, writes its raw wait status on `status_fd` for the monitor, which
 *     records it in exit.json (so a death by SIGTERM is recorded as SIGTERM, not as code 143), and
 *     exits with the command's code, or 128 + the signal that killed it. Its exit ends the pid
 *     namespace: the kernel kills what is left in it.
 *
 * Its memory is the shim's pages it shares with the monitor (copy-on-write) and a few of its own.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "caps.h"
#include "exec.h"
#include "init.h"
#include "util.h"

#define INIT_NAME "corral-init"

/* Raised by a fault of the init itself: left at their default, never waited for or forwarded. */
static const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS};

static void waited_signals(sigset_t *set)
{
    sigfillset(set);
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) sigdelset(set, faults[i]);
}

/* The child: the command, as process_exec would have run it. Never returns. */
static void run_command(const struct spec *s, int report) __attribute__((noreturn));
static void run_command(const struct spec *s, int report)
{
    /* Its own group, so a `kill 0` of the command (a shell's `trap 'kill 0' EXIT`) stays among its
     * own processes and does not come back to the init. */
    (void)setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    (void)process_execve(s);
    (void)write_all(report, &last_error, sizeof(last_error));
    _exit(SHIM_EXIT_SETUP);
}

/* Until the command is reaped: forwards signals, reaps everything. Returns its wait status. */
static int supervise(pid_t child, const sigset_t *set)
{
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(set, &si);
        if (sig < 0) {
            if (errno == EINTR) continue;
            /* A seccomp profile that refuses the call: keep reaping, without forwarding. */
            char msg[160];
            int n = snprintf(msg, sizeof(msg),
                             INIT_NAME ": cannot wait for signals (%s); they are no longer forwarded\n",
                             strerror(errno));
            (void)write_all(2, msg, (size_t)n);
            for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);
                if (pid == child) return status;
                if (pid < 0 && errno != EINTR) return 0;
            }
        }
        if (sig != SIGCHLD) {
            /* ESRCH: it is a zombie by now; EPERM: a command that changed its uid while the init
             * lacks CAP_KILL. Neither has anyone to tell. */
            (void)kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            if (pid == child) return status;
    }
}

/*
 * process_prepare leaves the capability sets the spec gives, which the command's execve then
 * transforms: a non-root command keeps only its ambient set in its permitted and effective sets
 * (with no file capabilities). The init never execs, so it does that itself. The command, forked
 * from it, ends up with the same sets after its execve either way: the inheritable, ambient and
 * bounding sets, which that execve reads, are untouched.
 */
static int drop_like_execve(const struct spec *s)
{
    if (s->uid == 0) return 0;
    if (caps_set(s->cap_ambient, s->cap_ambient, s->cap_inheritable) < 0) return -1;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return fail("capabilities", "clear keep capabilities");
    return 0;
}

int init_run(const struct spec *s, int ready_fd, int status_fd)
{
    if (process_prepare(s) < 0 || drop_like_execve(s) < 0) return -1;
    /* Changing ids made it dumpable again (fs.suid_dumpable): a container process of the same uid
     * could then ptrace it, or write a forged status on its pipe through /proc/1/fd. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return fail("init", "set not dumpable");
    sigset_t set;
    waited_signals(&set);
    /* Blocked, not handled: a blocked signal is queued even for a pid namespace's init, and
     * sigwaitinfo takes it; nothing runs in a handler. */
    sigprocmask(SIG_SETMASK, &set, NULL);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return fail("init", "become subreaper");

    /* Named before the fork: the command may look at its parent the moment it runs (its execve
     * gives it its own name). */
    (void)prctl(PR_SET_NAME, INIT_NAME, 0, 0, 0);
    proc_title_set(INIT_NAME);

    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return fail("init", "pipe");
    pid_t child = fork();
    if (child < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return fail_errno("init", err, "fork the command (the init counts against the pids limit too)");
    }
    if (child == 0) {
        close(report[0]);
        run_command(s, report[1]);
    }
    close(report[1]);
    /* EOF: the command's execve closed the pipe. A record: it failed before running. */
    struct setup_error e;
    ssize_t n = read_all(report[0], &e, sizeof(e));
    close(report[0]);
    if (n != 0) {
        if (n == (ssize_t)sizeof(e)) {
            e.stage[sizeof(e.stage) - 1] = 0;
            e.detail[sizeof(e.detail) - 1] = 0;
            last_error = e;
        } else {
            fail_errno("init", EPROTO, "short error record (%zd bytes) from the command", n);
        }
        (void)RETRY(waitpid(child, NULL, 0));
        return -1;
    }
    /* The monitor's error pipe reaches EOF: the container runs. */
    close(ready_fd);

    int status = supervise(child, &set);
    (void)write_all(status_fd, &status, sizeof(status));
    _exit(WIFEXITED(status)     ? WEXITSTATUS(status)
          : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                : SHIM_EXIT_SETUP);
}
