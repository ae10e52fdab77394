#ifndef CORRAL_MONITOR_H
#define CORRAL_MONITOR_H

#include <stdint.h>
#include <sys/types.h>
#include "spec.h"

/* Runs in the detached monitor: starts the container and stays its parent. `release`: the
 * launcher's pipe, written once the start is recorded (main.c). Returns the shim's exit status. */
int monitor_run(const struct spec *s, int join_pidfd, int release);

struct monitor {
    pid_t init;
    int shim_dir;
    int out, err; /* read ends of the container's stdout and stderr */
    uint32_t stop_signal;
    uint64_t started_ms;
    const char *oom_events;
    long long oom_before; /* -1: unknown */
    const char *log_dir;
    uint64_t log_max_bytes;
    uint32_t log_max_files;
    int init_status; /* with an init: read end of its report of the command's wait status; else -1 */
};

/* Logs, signals and reaping until the container is gone; writes exit.json. */
int monitor_loop(struct monitor *m);
long long read_oom_kills(const char *path);

#endif
