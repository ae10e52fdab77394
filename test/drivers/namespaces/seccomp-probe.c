/*
 * Probes corral's default seccomp filter from inside a container (seccomp-default-kernel.test.ts
 * builds it with `gcc -static` and runs it). Each probe runs in a child of its own, so a call the
 * filter should have refused cannot change the probes after it; each prints one line:
 *   name=ok          the call succeeded
 *   name=EPERM       it failed with that errno (glibc's strerrorname_np)
 *   name=signal-N    the child died of signal N
 * Arguments are chosen so that nothing harmful happens even where the filter fails: bad magic for
 * reboot, NULL attributes, a namespace the container is already in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Numbers newer than Debian 12's headers. */
#define NR_STATMOUNT 457
#define NR_LISTMOUNT 458
#define NR_OPEN_TREE_ATTR 467
#define AF_VSOCK_ 40
#define AF_ALG_ 38
#define READ_IMPLIES_EXEC_ 0x0400000

static long p_statmount(void) { return syscall(NR_STATMOUNT, NULL, NULL, 0, 0); }
static long p_listmount(void) { return syscall(NR_LISTMOUNT, NULL, NULL, 0, 0); }
static long p_open_tree_attr(void) { return syscall(NR_OPEN_TREE_ATTR, -1, NULL, 0, NULL, 0); }
static long p_clone3(void) { return syscall(SYS_clone3, NULL, 0); }
static long p_mount(void) { return mount("none", "/tmp", "tmpfs", 0, NULL); }
static long p_unshare(void) { return unshare(CLONE_NEWUSER); }
static long p_setns(void)
{
    int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    return setns(fd, 0);
}
static long p_keyctl(void) { return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0); }
static long p_bpf(void) { return syscall(SYS_bpf, 0 /* MAP_CREATE */, NULL, 0); }
static long p_init_module(void) { return syscall(SYS_init_module, NULL, 0, ""); }
static long p_reboot(void) { return syscall(SYS_reboot, 0, 0, 0, NULL); }
static long p_clock_settime(void) { return syscall(SYS_clock_settime, CLOCK_REALTIME, NULL); }
static long p_perf_event_open(void) { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static long p_io_uring_setup(void) { return syscall(SYS_io_uring_setup, 1, NULL); }
static long p_clone_newuser(void)
{
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return pid;
}
static long sock(int family, int type)
{
    int fd = socket(family, type, 0);
    if (fd >= 0) close(fd);
    return fd;
}
static long p_socket_vsock(void) { return sock(AF_VSOCK_, SOCK_STREAM); }
static long p_socket_alg(void) { return sock(AF_ALG_, SOCK_SEQPACKET); }
static long p_socket_inet(void) { return sock(AF_INET, SOCK_STREAM); }
static long p_socket_unix(void) { return sock(AF_UNIX, SOCK_STREAM); }
static long p_socketpair_unix(void)
{
    int sv[2];
    return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}
static long p_personality_query(void) { return personality(0xffffffff); }
static long p_personality_rie(void) { return personality(READ_IMPLIES_EXEC_); }

/* Ordinary work: these must keep working. */
static long exited_zero(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    errno = ECHILD;
    return -1;
}
static long p_fork_exec(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    return pid < 0 ? -1 : exited_zero(pid);
}
/* glibc tries clone3 first (ENOSYS here) and falls back to clone. */
static long p_posix_spawn(void)
{
    pid_t pid;
    char *argv[] = {"true", NULL};
    int err = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
    if (err) {
        errno = err;
        return -1;
    }
    return exited_zero(pid);
}
static void *thread_main(void *arg) { return arg; }
static long p_thread(void)
{
    pthread_t t;
    int err = pthread_create(&t, NULL, thread_main, NULL);
    if (err) {
        errno = err;
        return -1;
    }
    return pthread_join(t, NULL) ? -1 : 0;
}
static long p_files(void)
{
    char buf[8] = {0};
    int fd = open("/tmp/probe-file", O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "data", 4) != 4 || pread(fd, buf, 4, 0) != 4) return -1;
    close(fd);
    if (unlink("/tmp/probe-file") < 0) return -1;
    errno = EIO;
    return strcmp(buf, "data") == 0 ? 0 : -1;
}
static long p_pipe(void)
{
    int p[2];
    char c = 0;
    if (pipe2(p, O_CLOEXEC) < 0 || write(p[1], "x", 1) != 1 || read(p[0], &c, 1) != 1) return -1;
    errno = EIO;
    return c == 'x' ? 0 : -1;
}

static const struct {
    const char *name;
    long (*fn)(void);
} probes[] = {
    {"statmount", p_statmount},
    {"listmount", p_listmount},
    {"open_tree_attr", p_open_tree_attr},
    {"clone3", p_clone3},
    {"mount", p_mount},
    {"unshare", p_unshare},
    {"setns", p_setns},
    {"keyctl", p_keyctl},
    {"bpf", p_bpf},
    {"init_module", p_init_module},
    {"reboot", p_reboot},
    {"clock_settime", p_clock_settime},
    {"perf_event_open", p_perf_event_open},
    {"io_uring_setup", p_io_uring_setup},
    {"clone_newuser", p_clone_newuser},
    {"socket_vsock", p_socket_vsock},
    {"socket_alg", p_socket_alg},
    {"socket_inet", p_socket_inet},
    {"socket_unix", p_socket_unix},
    {"socketpair_unix", p_socketpair_unix},
    {"personality_query", p_personality_query},
    {"personality_read_implies_exec", p_personality_rie},
    {"fork_exec", p_fork_exec},
    {"posix_spawn", p_posix_spawn},
    {"thread", p_thread},
    {"files", p_files},
    {"pipe", p_pipe},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        int out[2];
        if (pipe(out) < 0) return 1;
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) {
            close(out[0]);
            errno = 0;
            long r = probes[i].fn();
            const char *what = r >= 0 ? "ok" : strerrorname_np(errno);
            dprintf(out[1], "%s", what ? what : "unknown-errno");
            _exit(0);
        }
        close(out[1]);
        char result[64] = {0};
        ssize_t n = read(out[0], result, sizeof(result) - 1);
        close(out[0]);
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) printf("%s=signal-%d\n", probes[i].name, WTERMSIG(status));
        else printf("%s=%s\n", probes[i].name, n > 0 ? result : "no-result");
    }
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Seccomp:", 8) == 0) printf("seccomp_mode=%d\n", atoi(line + 8));
    return 0;
}
