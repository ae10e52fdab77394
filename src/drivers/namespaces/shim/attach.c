/* Entering a running container (lxc-attach's job): join its cgroups, setns() into its
 * namespaces through a pidfd, fork so the pid namespace applies, and proxy a pty when asked. The
 * shim is single-threaded, which is what makes setns(CLONE_NEWUSER) possible at all. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "attach.h"
#include "exec.h"
#include "kernel.h"
#include "ns.h"
#include "util.h"

static struct termios saved_tio;
static int raw_set;

static void restore_tty(void)
{
    if (raw_set) (void)tcsetattr(0, TCSADRAIN, &saved_tio);
    raw_set = 0;
}

static void copy_winsize(int master)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) (void)ioctl(master, TIOCSWINSZ, &ws);
}

static int open_pty(int *master, int *slave)
{
    int unlock = 0;
    *master = (int)RETRY(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (*master < 0) return fail("pty", "open /dev/ptmx in the container");
    if (ioctl(*master, TIOCSPTLCK, &unlock) < 0) return fail("pty", "unlock");
    *slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*slave < 0) return fail("pty", "open peer");
    copy_winsize(*master);
    return 0;
}

static void status_exited(int status)
{
    char line[128];
    int n = WIFSIGNALED(status)
                ? snprintf(line, sizeof(line), "{\"type\":\"exited\",\"exitCode\":null,\"signal\":%d}\n", WTERMSIG(status))
                : snprintf(line, sizeof(line), "{\"type\":\"exited\",\"exitCode\":%d,\"signal\":null}\n",
                           WEXITSTATUS(status));
    (void)write_all(FD_STATUS, line, (size_t)n);
}

/* Copies what is readable from `from` to `to`; 0 at EOF or error. */
static int pump(int from, int to)
{
    static char buf[8192];
    ssize_t n = RETRY(read(from, buf, sizeof(buf)));
    if (n <= 0) return 0;
    return write_all(to, buf, (size_t)n) < 0 ? 0 : 1;
}

static int wait_child(pid_t pid, int master)
{
    sigset_t mask;
    sigemptyset(&mask);
    int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) sigaddset(&mask, sigs[i]);
    cleanup_fd int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    struct pollfd p[3] = {{sfd, POLLIN, 0}, {master >= 0 ? 0 : -1, POLLIN, 0}, {master, POLLIN, 0}};
    int status = 0, done = 0;
    while (!done) {
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGCHLD) {
                    if (RETRY(waitpid(pid, &status, WNOHANG)) == pid) done = 1;
                } else if (si.ssi_signo == SIGWINCH) {
                    if (master >= 0) copy_winsize(master);
                } else {
                    kill(pid, (int)si.ssi_signo);
                }
            }
        }
        if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP)) && !pump(0, master)) p[1].fd = -1;
        if (p[2].fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(master, 1)) p[2].fd = -1;
    }
    if (!done && RETRY(waitpid(pid, &status, 0)) < 0) status = 0;
    /* Output the command wrote just before exiting is still in the pty. */
    if (master >= 0) {
        struct pollfd q = {master, POLLIN, 0};
        while (poll(&q, 1, 50) > 0 && (q.revents & POLLIN) && pump(master, 1)) {
        }
    }
    return status;
}

int attach_run(const struct spec *s, int pidfd)
{
    int master = -1, slave = -1, errp[2];
    if (ns_join_cgroups(s, getpid()) < 0) return -1;
    if (setns(pidfd, (int)s->ns_flags) < 0) return fail("setns", "pidfd namespaces 0x%llx", (unsigned long long)s->ns_flags);
    close(pidfd);
    if (s->tty && open_pty(&master, &slave) < 0) return -1;
    if (pipe2(errp, O_CLOEXEC) < 0) return fail("exec", "pipe");
    sigset_t mask;
    sigfillset(&mask);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    pid_t pid = fork();
    if (pid < 0) return fail("fork", "into the container's pid namespace");
    if (pid == 0) {
        close(errp[0]);
        if (master >= 0) {
            close(master);
            if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) fail("pty", "make controlling terminal");
            else if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) fail("pty", "dup2");
            else process_exec(s);
        } else {
            process_exec(s);
        }
        (void)write_all(errp[1], &last_error, sizeof(last_error));
        _exit(SHIM_EXIT_SETUP);
    }
    close(errp[1]);
    if (slave >= 0) close(slave);
    struct setup_error child_err;
    ssize_t n = read_all(errp[0], &child_err, sizeof(child_err));
    close(errp[0]);
    if (n != 0) {
        (void)RETRY(waitpid(pid, NULL, 0));
        if (n != (ssize_t)sizeof(child_err)) return fail_errno("exec", EPROTO, "short error record");
        child_err.stage[sizeof(child_err.stage) - 1] = 0;
        child_err.detail[sizeof(child_err.detail) - 1] = 0;
        last_error = child_err;
        return -1;
    }
    char ready[64];
    int rn = snprintf(ready, sizeof(ready), "{\"type\":\"ready\",\"pid\":%d}\n", (int)pid);
    (void)write_all(FD_STATUS, ready, (size_t)rn);
    if (master >= 0 && isatty(0) && tcgetattr(0, &saved_tio) == 0) {
        struct termios raw = saved_tio;
        cfmakeraw(&raw);
        if (tcsetattr(0, TCSADRAIN, &raw) == 0) raw_set = 1;
    }
    int status = wait_child(pid, master);
    restore_tty();
    status_exited(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
