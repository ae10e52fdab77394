/* Entering a running container (lxc-attach's job): join its cgroups, setns() into its
 * namespaces through a pidfd, fork so the pid namespace applies, and relay the command's I/O.
 * The shim is single-threaded, which is what makes setns(CLONE_NEWUSER) possible at all.
 *
 * The caller's terminal never crosses: without a pty the command gets pipes and a session of its
 * own (so TIOCSTI and /dev/tty reach nothing of the caller); with one it gets a new pty from the
 * container's own devpts, and the shim copies bytes between the two. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "attach.h"
#include "exec.h"
#include "kernel.h"
#include "ns.h"
#include "relay.h"
#include "resolve.h"
#include "util.h"

static struct termios saved_tio;
static int raw_set;

static void restore_tty(void)
{
    if (raw_set) (void)tcsetattr(0, TCSADRAIN, &saved_tio);
    raw_set = 0;
}

/* The container's ptmx, opened inside its root and checked: a char 5:2 node on a devpts. */
static int open_ptmx(void)
{
    cleanup_fd int root = (int)RETRY(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root < 0) return fail("pty", "open / of the container");
    int fd = open_in_root_nofollow(root, "/dev/pts/ptmx", O_RDWR | O_NOCTTY);
    if (fd < 0) return fail("pty", "open /dev/pts/ptmx in the container");
    struct stat st;
    struct statfs sfs;
    if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
        close(fd);
        return fail("pty", "stat /dev/pts/ptmx");
    }
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2 || sfs.f_type != K_DEVPTS_SUPER_MAGIC) {
        close(fd);
        return fail_errno("ptmx", EPERM, "/dev/pts/ptmx of the container is not the ptmx of a devpts");
    }
    return fd;
}

static int open_pty(int *master, int *slave)
{
    int unlock = 0;
    *master = open_ptmx();
    if (*master < 0) return -1;
    if (ioctl(*master, TIOCSPTLCK, &unlock) < 0) return fail("pty", "unlock");
    *slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*slave < 0) return fail("pty", "open peer");
    relay_copy_winsize(*master);
    return 0;
}

static int open_pipes(int in[2], int out[2], int err[2])
{
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        return fail("exec", "pipes for the command's stdio");
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

/* In the forked command: its own session, its stdio, nothing else of the shim, then the process. */
static void command_child(const struct spec *s, int stdio[3], int slave, int errfd)
{
    if (setsid() < 0) {
        fail("exec", "setsid");
        return;
    }
    if (slave >= 0 && ioctl(slave, TIOCSCTTY, 0) < 0) {
        fail("pty", "make controlling terminal");
        return;
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(stdio[i], i) < 0) {
            fail("exec", "dup2 stdio");
            return;
        }
    }
    if (close_fds_except(&errfd, 1) < 0) return;
    (void)process_exec(s);
}

int attach_run(const struct spec *s, int pidfd)
{
    int master = -1, slave = -1, errp[2];
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (ns_join_cgroups(s, getpid()) < 0) return -1;
    if (setns(pidfd, (int)s->ns_flags) < 0) return fail("setns", "pidfd namespaces 0x%llx", (unsigned long long)s->ns_flags);
    close(pidfd);
    if (s->tty ? open_pty(&master, &slave) < 0 : open_pipes(in, out, err) < 0) return -1;
    if (pipe2(errp, O_CLOEXEC) < 0) return fail("exec", "pipe");
    /* Blocked before fork: the relay reads them from a signalfd; process_exec unblocks them. */
    sigset_t mask;
    sigfillset(&mask);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN); /* a caller that stops reading ends the relay of that stream, not the shim */
    pid_t pid = fork();
    if (pid < 0) return fail("fork", "into the container's pid namespace");
    if (pid == 0) {
        int stdio[3] = {slave, slave, slave};
        if (slave < 0) {
            stdio[0] = in[0];
            stdio[1] = out[1];
            stdio[2] = err[1];
        }
        command_child(s, stdio, slave, errp[1]);
        (void)write_all(errp[1], &last_error, sizeof(last_error));
        _exit(SHIM_EXIT_SETUP);
    }
    close(errp[1]);
    if (slave >= 0) close(slave);
    if (in[0] >= 0) close(in[0]);
    if (out[1] >= 0) close(out[1]);
    if (err[1] >= 0) close(err[1]);
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
    struct relay_io io = {in[1], out[0], err[0], master};
    int status = relay_run(pid, &io);
    restore_tty();
    status_exited(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
