/* Part of bench/logs: can splice(2), tee(2) or vmsplice(2) frame a container's output into CRI
 * records more cheaply than read + copy + write? A child writes BYTES of LINE-byte lines into a
 * pipe in 64 KiB writes; this process frames them ("<time> stdout F <text>\n") into OUT by one of
 * four methods and prints its own CPU time (getrusage) per 100 MiB.
 *
 *   copy      read 64 KiB, memcpy prefix + line into a 128 KiB buffer, write(2) it when full
 *             (what the monitor does, shim/logfile.c)
 *   iovec     read 64 KiB, writev(2) prefix/line pairs straight from the read buffer (no copy),
 *             1024 iovecs per call
 *   tee       tee(2) the pipe into a second one to find the line ends (read from the copy), then
 *             per line write(2) the prefix and splice(2) the line from the pipe to the file: the
 *             text never enters user space, but every line costs two system calls
 *   vmsplice  frame as `copy`, then vmsplice(2) the buffer into a pipe and splice(2) it to the
 *             file instead of write(2)
 *
 * OUT is opened without O_APPEND (the monitor uses it): splice(2) refuses an O_APPEND file (EINVAL).
 *
 * Usage: logs-splice METHOD BYTES LINE OUT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define PREFIX "2026-01-01T00:00:00.000000000Z stdout F "

static char in[CHUNK], out[128 * 1024];
static size_t used;
static int fd_out, via[2];

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void put(const char *p, size_t n)
{
    while (n) {
        ssize_t w;
        if (via[1] >= 0) {
            struct iovec iov = {(void *)p, n};
            w = vmsplice(via[1], &iov, 1, 0);
            if (w > 0 && splice(via[0], NULL, fd_out, NULL, (size_t)w, SPLICE_F_MOVE) != w) die("splice");
        } else {
            w = write(fd_out, p, n);
        }
        if (w <= 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

static void flush(void)
{
    put(out, used);
    used = 0;
}

static void frame_copy(const char *p, size_t n)
{
    const size_t plen = sizeof(PREFIX) - 1;
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) + 1 : n;
        if (plen + k + 1 > sizeof(out) - used) flush();
        memcpy(out + used, PREFIX, plen);
        memcpy(out + used + plen, p, k);
        used += plen + k;
        if (!nl) out[used++] = '\n';
        p += k;
        n -= k;
    }
    flush();
}

static void frame_iovec(const char *p, size_t n)
{
    static struct iovec iov[1024];
    int c = 0;
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) + 1 : n;
        iov[c++] = (struct iovec){(void *)PREFIX, sizeof(PREFIX) - 1};
        iov[c++] = (struct iovec){(void *)p, k};
        if (c == 1024) {
            if (writev(fd_out, iov, c) < 0) die("writev");
            c = 0;
        }
        p += k;
        n -= k;
    }
    if (c && writev(fd_out, iov, c) < 0) die("writev");
}

static int run_tee(int src)
{
    int peek[2];
    if (pipe(peek) < 0) die("pipe");
    for (;;) {
        ssize_t t = tee(src, peek[1], CHUNK, 0);
        if (t == 0) return 0;
        if (t < 0) die("tee");
        ssize_t r = read(peek[0], in, (size_t)t);
        if (r != t) die("read peek");
        const char *p = in;
        size_t n = (size_t)r;
        while (n) {
            const char *nl = memchr(p, '\n', n);
            size_t k = nl ? (size_t)(nl - p) + 1 : n;
            if (write(fd_out, PREFIX, sizeof(PREFIX) - 1) < 0) die("write prefix");
            if (splice(src, NULL, fd_out, NULL, k, 0) != (ssize_t)k) die("splice line");
            if (!nl && write(fd_out, "\n", 1) < 0) die("write newline");
            p += k;
            n -= k;
        }
    }
}

static void generate(int fd, unsigned long long total, size_t line)
{
    char *buf = malloc(CHUNK);
    size_t per = CHUNK / line * line;
    for (size_t i = 0; i < per; i++) buf[i] = (i + 1) % line == 0 ? '\n' : 'x';
    for (unsigned long long sent = 0; sent < total; sent += per) {
        size_t n = total - sent < per ? (size_t)(total - sent) : per;
        for (size_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, n - off);
            if (w < 0) exit(1);
            off += (size_t)w;
        }
    }
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    const char *method = argv[1];
    unsigned long long total = strtoull(argv[2], NULL, 10);
    size_t line = (size_t)strtoul(argv[3], NULL, 10);
    int p[2];
    via[0] = via[1] = -1;
    if (pipe(p) < 0) die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        generate(p[1], total, line);
    }
    close(p[1]);
    fd_out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd_out < 0) die("open");
    if (!strcmp(method, "tee")) {
        run_tee(p[0]);
    } else {
        if (!strcmp(method, "vmsplice") && pipe(via) < 0) die("pipe");
        for (;;) {
            ssize_t r = read(p[0], in, sizeof(in));
            if (r == 0) break;
            if (r < 0) die("read");
            if (!strcmp(method, "iovec")) frame_iovec(in, (size_t)r);
            else frame_copy(in, (size_t)r);
        }
    }
    waitpid(pid, NULL, 0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("%.4f\n", cpu / ((double)total / (100.0 * 1024 * 1024)));
    return 0;
}
