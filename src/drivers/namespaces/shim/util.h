/* Shared helpers: the one error convention, scoped cleanup, EINTR-safe I/O, JSON log lines. */
#ifndef CORRAL_UTIL_H
#define CORRAL_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "protocol.h"

#define RETRY(expr)                                                                                          \
    ({                                                                                                       \
        long _r;                                                                                             \
        do                                                                                                   \
            _r = (long)(expr);                                                                               \
        while (_r == -1 && errno == EINTR);                                                                  \
        _r;                                                                                                  \
    })

#define PRINTF(f, a) __attribute__((format(printf, f, a)))

/* A test build (`make hooks`) stops the process at the named point, so that a test can act inside
 * a window that is otherwise a few microseconds wide. The shipped shim has no hooks. */
#ifdef SHIM_TEST_HOOKS
#include <signal.h>
#define TEST_PAUSE(point) ((void)(point), (void)raise(SIGSTOP))
#else
#define TEST_PAUSE(point) ((void)0)
#endif

/* The last failure: set by fail(), sent to the agent by whoever stops. */
extern struct setup_error last_error;

/* Records stage, errno and a formatted detail (usually the path); returns -1 for `return fail(...)`. */
int fail(const char *stage, const char *fmt, ...) PRINTF(2, 3);
/* Like fail() with an explicit errno (0 for "not a syscall failure"). */
int fail_errno(const char *stage, int err, const char *fmt, ...) PRINTF(3, 4);

/* Cleanup helpers (crun style). */
void cleanup_fdp(int *fd);
void cleanup_freep(void *p);
#define cleanup_fd __attribute__((cleanup(cleanup_fdp)))
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
static inline int take_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}

ssize_t write_all(int fd, const void *buf, size_t len);
ssize_t read_all(int fd, void *buf, size_t len);
/* Writes `len` bytes to `path`, creating or truncating it. */
int write_file(const char *path, const char *data, size_t len);
/* tmp file in dirfd, fsync, rename over name, fsync the directory. */
int write_file_atomic(int dirfd, const char *name, const char *data, size_t len);

/* Appends `s` as a JSON string body (without quotes) to buf; returns the new length or -1. */
size_t json_escape(char *buf, size_t cap, size_t used, const char *s);

/* One JSON log line on stderr: {"level":..,"msg":..}. Never fails loudly. */
void log_line(const char *level, const char *fmt, ...) PRINTF(2, 3);

/* Status message on FD_STATUS (one JSON line); ignores a closed agent. */
void status_error(const struct setup_error *e);

uint64_t realtime_ms(void);
/* Field 22 of /proc/<pid>/stat (clock ticks since boot), 0 when unknown. */
uint64_t proc_start_time(pid_t pid);

void reset_signals(void);

/* The argv strings' memory, saved by main(), and what /proc/PID/cmdline then shows: `name` alone
 * (truncated to the room argv had). Used by the init, which runs on after the shim's argv. */
void proc_title_save(int argc, char **argv);
void proc_title_set(const char *name);

#endif
