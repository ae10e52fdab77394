/* The I/O and signal loop of `exec` (see relay.h). */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "relay.h"
#include "util.h"

/* Output still in flight after the command exits is drained this long at most: a daemonized
 * grandchild may hold the pipes open forever. */
#define DRAIN_MS 200

/* Bytes of the caller's stdin the command has not read yet: the stdin pipe is non-blocking, so a
 * command that never reads cannot stall the output it writes. */
struct pending {
    char buf[65536];
    size_t off, len;
};

void relay_copy_winsize(int master)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) (void)ioctl(master, TIOCSWINSZ, &ws);
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One read from `from`, written whole to `to`. 0 at EOF or on a write error (a reader gone). */
static int copy_once(int from, int to)
{
    static char buf[65536];
    ssize_t n = RETRY(read(from, buf, sizeof(buf)));
    if (n <= 0) return 0;
    return write_all(to, buf, (size_t)n) < 0 ? 0 : 1;
}

static void forward(pid_t pid, int sig)
{
    int group = sig == SIGINT || sig == SIGQUIT || sig == SIGHUP;
    if (kill(group ? -pid : pid, sig) < 0 && group) (void)kill(pid, sig);
}

enum { P_SIG, P_STDIN, P_TO_CMD, P_OUT, P_ERR, P_N };

static void close_slot(struct pollfd *p, int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
    p->fd = -1;
}

int relay_run(pid_t pid, struct relay_io *io)
{
    static struct pending in;
    sigset_t mask;
    sigemptyset(&mask);
    int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) sigaddset(&mask, sigs[i]);
    cleanup_fd int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    int tty = io->master >= 0;
    int to_cmd = tty ? io->master : io->in;
    int from_out = tty ? io->master : io->out;
    int stdin_open = 1, status = 0, exited = 0;
    uint64_t drain_until = 0;
    if (!tty) (void)fcntl(io->in, F_SETFL, O_NONBLOCK);

    struct pollfd p[P_N];
    for (;;) {
        p[P_SIG] = (struct pollfd){sfd, POLLIN, 0};
        p[P_STDIN] = (struct pollfd){stdin_open && !exited && in.len == 0 ? 0 : -1, POLLIN, 0};
        p[P_TO_CMD] = (struct pollfd){in.len > 0 ? to_cmd : -1, POLLOUT, 0};
        p[P_OUT] = (struct pollfd){from_out, POLLIN, 0};
        p[P_ERR] = (struct pollfd){tty ? -1 : io->err, POLLIN, 0};
        int timeout = -1;
        if (exited) {
            if (p[P_OUT].fd < 0 && p[P_ERR].fd < 0) break;
            uint64_t now = monotonic_ms();
            if (now >= drain_until) break;
            timeout = (int)(drain_until - now);
        }
        int n = poll(p, P_N, timeout);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* drained, or poll failed */

        if (p[P_SIG].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGCHLD) {
                    if (!exited && RETRY(waitpid(pid, &status, WNOHANG)) == pid) {
                        exited = 1;
                        drain_until = monotonic_ms() + DRAIN_MS;
                    }
                } else if (si.ssi_signo == SIGWINCH) {
                    if (tty) relay_copy_winsize(io->master);
                } else if (!exited) {
                    forward(pid, (int)si.ssi_signo);
                }
            }
        }
        if (p[P_STDIN].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = RETRY(read(0, in.buf, sizeof(in.buf)));
            if (r > 0) {
                in.off = 0;
                in.len = (size_t)r;
            } else {
                stdin_open = 0;
                /* EOF of the caller's stdin is EOF of the command's (a pty keeps its own). */
                if (!tty) close_slot(&p[P_TO_CMD], &io->in);
            }
        }
        if (p[P_TO_CMD].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t w = RETRY(write(to_cmd, in.buf + in.off, in.len));
            if (w > 0) {
                in.off += (size_t)w;
                in.len -= (size_t)w;
            } else if (w < 0 && errno != EAGAIN) {
                /* The command closed its stdin: drop what it will never read. */
                in.len = 0;
                stdin_open = 0;
                if (!tty) close_slot(&p[P_TO_CMD], &io->in);
            }
        }
        if ((p[P_OUT].revents & (POLLIN | POLLHUP | POLLERR)) && !copy_once(from_out, 1)) {
            /* EOF, or the caller stopped reading: closing makes the command's next write fail. */
            if (tty) {
                if (exited) break;
                from_out = -1;
            } else {
                close_slot(&p[P_OUT], &io->out);
                from_out = -1;
            }
        }
        if (!tty && (p[P_ERR].revents & (POLLIN | POLLHUP | POLLERR)) && !copy_once(io->err, 2))
            close_slot(&p[P_ERR], &io->err);
    }
    if (!exited && RETRY(waitpid(pid, &status, 0)) < 0) status = 0;
    return status;
}
