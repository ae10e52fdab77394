/* Errors, cleanup, EINTR-safe I/O, atomic files and JSON log lines. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

struct setup_error last_error;

static int vfail(const char *stage, int err, const char *fmt, va_list ap)
{
    memset(&last_error, 0, sizeof(last_error));
    snprintf(last_error.stage, sizeof(last_error.stage), "%s", stage);
    last_error.err = err;
    vsnprintf(last_error.detail, sizeof(last_error.detail), fmt, ap);
    errno = err;
    return -1;
}

int fail(const char *stage, const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    vfail(stage, err, fmt, ap);
    va_end(ap);
    return -1;
}

int fail_errno(const char *stage, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(stage, err, fmt, ap);
    va_end(ap);
    return -1;
}

void cleanup_fdp(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

void cleanup_freep(void *p)
{
    free(*(void **)p);
}

ssize_t write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, p + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int write_file(const char *path, const char *data, size_t len)
{
    cleanup_fd int fd = (int)RETRY(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644));
    if (fd < 0) return -1;
    if (write_all(fd, data, len) < 0) return -1;
    return 0;
}

int write_file_atomic(int dirfd, const char *name, const char *data, size_t len)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
    cleanup_fd int fd = (int)RETRY(openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd < 0) return fail("record", "open %s", tmp);
    if (write_all(fd, data, len) < 0) return fail("record", "write %s", tmp);
    if (fsync(fd) < 0) return fail("record", "fsync %s", tmp);
    if (renameat(dirfd, tmp, dirfd, name) < 0) return fail("record", "rename %s", name);
    if (fsync(dirfd) < 0) return fail("record", "fsync directory of %s", name);
    return 0;
}

size_t json_escape(char *buf, size_t cap, size_t used, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[7];
        size_t n = 0;
        if (c == '"' || c == '\\') {
            tmp[n++] = '\\';
            tmp[n++] = (char)c;
        } else if (c < 0x20) {
            tmp[n++] = '\\';
            tmp[n++] = 'u';
            tmp[n++] = '0';
            tmp[n++] = '0';
            tmp[n++] = hex[c >> 4];
            tmp[n++] = hex[c & 15];
        } else {
            tmp[n++] = (char)c;
        }
        if (used + n + 1 > cap) return (size_t)-1;
        memcpy(buf + used, tmp, n);
        used += n;
    }
    buf[used] = 0;
    return used;
}

void log_line(const char *level, const char *fmt, ...)
{
    char msg[1024], line[2300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int n = snprintf(line, sizeof(line), "{\"level\":\"%s\",\"pid\":%d,\"msg\":\"", level, (int)getpid());
    size_t used = json_escape(line, sizeof(line) - 4, (size_t)n, msg);
    if (used == (size_t)-1) used = (size_t)n;
    memcpy(line + used, "\"}\n", 3);
    int saved = errno;
    (void)write_all(2, line, used + 3);
    errno = saved;
}

void status_error(const struct setup_error *e)
{
    char line[2400];
    int n = snprintf(line, sizeof(line), "{\"type\":\"error\",\"stage\":\"");
    size_t used = json_escape(line, sizeof(line), (size_t)n, e->stage);
    if (used == (size_t)-1) return;
    n = snprintf(line + used, sizeof(line) - used, "\",\"errno\":%d,\"detail\":\"", e->err);
    used = json_escape(line, sizeof(line) - 4, used + (size_t)n, e->detail);
    if (used == (size_t)-1) return;
    memcpy(line + used, "\"}\n", 3);
    (void)write_all(FD_STATUS, line, used + 3);
    log_line("error", "%s %s: %s", e->stage, e->detail, e->err ? strerror(e->err) : "failed");
}

uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    cleanup_fd int fd = (int)RETRY(open(path, O_RDONLY | O_CLOEXEC));
    if (fd < 0) return 0;
    ssize_t n = read_all(fd, buf, sizeof(buf) - 1);
    if (n <= 0) return 0;
    buf[n] = 0;
    /* comm may hold spaces and parentheses: fields count from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    int field = 2;
    for (; *p && field < 22; p++)
        if (*p == ' ') field++;
    return strtoull(p, NULL, 10);
}

void reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)sigaction(sig, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static char *title_start;
static size_t title_len;

void proc_title_save(int argc, char **argv)
{
    if (argc < 1 || !argv[0]) return;
    /* The kernel lays argv's strings out back to back: one span from the first to the last NUL. */
    title_start = argv[0];
    title_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
}

void proc_title_set(const char *name)
{
    if (!title_start || title_len < 2) return;
    memset(title_start, 0, title_len);
    size_t n = strlen(name);
    memcpy(title_start, name, n < title_len - 1 ? n : title_len - 1);
}
