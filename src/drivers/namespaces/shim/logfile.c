/* The container's stdout and stderr, written by the monitor with size-capped rotation, in the CRI
 * format ("<RFC 3339 time> <stream> <F|P> <text>\n" per line). Memory stays bounded: a chunk is
 * written as it arrives, a line without its newline yet becomes a partial (P) record.
 *
 * Cost: the framing needs every line's boundaries, so the bytes must pass through user space
 * (splice/tee cannot insert a prefix per line without a syscall per line; bench/logs-splice.c
 * measures the alternatives). What is kept per line is a memchr and a memcpy: a chunk's records
 * share one timestamp (taken when the chunk was read) and go out in as few write(2) calls as the
 * output buffer allows, rotation checked record by record as before. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "logfile.h"
#include "util.h"

/* Records waiting for one write(2). Sized for a 64 KiB read of short lines to leave in a few
 * writes; its pages are touched only by a chatty container. */
static char out[128 * 1024];

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
    l->used = 0;
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

/* A short write (disk full) loses the rest of what was pending rather than blocking the container. */
static int write_out(struct logfile *l, const struct iovec *iov, int n)
{
    ssize_t w = RETRY(writev(l->fd, iov, n));
    if (w < 0) return fail("log", "write %s", FILE_CONTAINER_LOG);
    l->size += (uint64_t)w;
    return 0;
}

static int flush(struct logfile *l)
{
    if (!l->used) return 0;
    struct iovec iov = {out, l->used};
    l->used = 0;
    return write_out(l, &iov, 1);
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

/* One record: prefix (with its F/P letter at `tag`), text, and a newline the text lacks when partial. */
static int record(struct logfile *l, char *prefix, size_t n, size_t tag, const char *text, size_t len, int partial)
{
    size_t total = n + len + (partial ? 1 : 0);
    if (l->size + l->used > 0 && l->size + l->used + total > l->max_bytes) {
        if (flush(l) < 0 || rotate(l) < 0) return -1;
    }
    prefix[tag] = partial ? 'P' : 'F';
    if (total > sizeof(out) - l->used) {
        if (flush(l) < 0) return -1;
        if (total > sizeof(out)) {
            struct iovec iov[3] = {{prefix, n}, {(void *)text, len}, {(void *)"\n", 1}};
            return write_out(l, iov, partial ? 3 : 2);
        }
    }
    memcpy(out + l->used, prefix, n);
    memcpy(out + l->used + n, text, len);
    if (partial) out[l->used + n + len] = '\n';
    l->used += total;
    return 0;
}

int logfile_write(struct logfile *l, const char *stream, const char *data, size_t len)
{
    char prefix[96];
    size_t n = timestamp(prefix, sizeof(prefix));
    n += (size_t)snprintf(prefix + n, sizeof(prefix) - n, " %s F ", stream);
    size_t tag = n - 2;
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t k = nl ? (size_t)(nl - data) + 1 : len;
        if (record(l, prefix, n, tag, data, k, !nl) < 0) {
            l->used = 0;
            return -1;
        }
        data += k;
        len -= k;
    }
    return flush(l);
}
