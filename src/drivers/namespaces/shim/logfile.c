/* The container's stdout and stderr, written by the monitor with size-capped rotation. Memory
 * stays bounded: a chunk is written as it arrives, a line without its newline yet becomes a
 * partial (P) record. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "logfile.h"
#include "util.h"

static int reopen(struct logfile *l)
{
    if (l->fd >= 0) close(l->fd);
    l->fd = (int)RETRY(openat(l->dirfd, FILE_CONTAINER_LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (l->fd < 0) return fail("log", "open %s", FILE_CONTAINER_LOG);
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

int logfile_open(struct logfile *l, const char *dir, uint64_t max_bytes, uint32_t max_files)
{
    l->fd = -1;
    l->max_bytes = max_bytes;
    l->max_files = max_files;
    l->dirfd = (int)RETRY(open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (l->dirfd < 0) return fail("log", "open directory %s", dir);
    return reopen(l);
}

static int rotate(struct logfile *l)
{
    char from[64], to[64];
    if (l->max_files <= 1) {
        if (ftruncate(l->fd, 0) < 0) return fail("log", "truncate %s", FILE_CONTAINER_LOG);
        l->size = 0;
        return 0;
    }
    for (uint32_t i = l->max_files - 1; i >= 1; i--) {
        if (i == 1) snprintf(from, sizeof(from), "%s", FILE_CONTAINER_LOG);
        else snprintf(from, sizeof(from), "%s.%u", FILE_CONTAINER_LOG, i - 1);
        snprintf(to, sizeof(to), "%s.%u", FILE_CONTAINER_LOG, i);
        if (renameat(l->dirfd, from, l->dirfd, to) < 0 && errno != ENOENT) return fail("log", "rotate %s", from);
    }
    return reopen(l);
}

static size_t timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts.tv_nsec);
    return n > 0 ? (size_t)n : 0;
}

static int record(struct logfile *l, const char *stream, const char *text, size_t len, int partial)
{
    char prefix[96];
    size_t n = timestamp(prefix, sizeof(prefix));
    n += (size_t)snprintf(prefix + n, sizeof(prefix) - n, " %s %c ", stream, partial ? 'P' : 'F');
    size_t total = n + len + (partial ? 1 : 0);
    if (l->size > 0 && l->size + total > l->max_bytes && rotate(l) < 0) return -1;
    struct iovec iov[3] = {{prefix, n}, {(void *)text, len}, {(void *)"\n", 1}};
    int cnt = partial ? 3 : 2;
    /* A short write (disk full) loses the rest of the record rather than blocking the container. */
    ssize_t w = RETRY(writev(l->fd, iov, cnt));
    if (w < 0) return fail("log", "write %s", FILE_CONTAINER_LOG);
    l->size += (uint64_t)w;
    return 0;
}

int logfile_write(struct logfile *l, const char *stream, const char *data, size_t len)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        if (!nl) return record(l, stream, data, len, 1);
        size_t k = (size_t)(nl - data) + 1;
        if (record(l, stream, data, k, 0) < 0) return -1;
        data += k;
        len -= k;
    }
    return 0;
}
