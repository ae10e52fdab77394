/* The decoded spawn spec. Strings point into the message buffer (the wire format NUL-terminates
 * them), so decoding copies nothing but pointer arrays. */
#ifndef CORRAL_SPEC_H
#define CORRAL_SPEC_H

#include <stdint.h>
#include "protocol.h"

struct strlist {
    uint32_t n;
    char **v; /* n entries and a NULL, ready for execve */
};

struct u32list {
    uint32_t n;
    uint32_t *v;
};

struct op {
    uint32_t kind, mode, create, optional, idmap;
    uint64_t flags, dev;
    const char *source, *target, *fstype, *data, *uid_map, *gid_map;
};

struct oplist {
    uint32_t n;
    struct op *v;
};

struct rlimit_entry {
    uint32_t resource;
    uint64_t soft, hard;
};

struct spec {
    uint16_t kind;
    uint64_t seen; /* bit per top-level field id present */
    const char *name;
    uint64_t ns_flags;
    const char *uid_map, *gid_map;
    uint32_t join_net;
    struct strlist cgroup_procs;
    const char *cgroup_dir;
    const char *root_target, *root_source, *root_fstype, *root_data;
    struct strlist root_lower; /* with root_upper and root_work: the monitor builds the root (see start.c) */
    const char *root_upper, *root_work;
    uint64_t root_flags, root_propagation;
    struct oplist mounts, final;
    const char *hostname;
    uint32_t loopback;
    struct strlist argv, env;
    const char *cwd;
    uint32_t uid, gid;
    struct u32list groups;
    uint32_t n_rlimits;
    struct rlimit_entry rlimits[SPEC_MAX_RLIMITS];
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    uint32_t no_new_privs;
    const uint8_t *seccomp;
    uint32_t seccomp_len;
    int32_t oom_score_adj;
    uint32_t umask;
    const char *shim_dir, *log_dir;
    uint64_t log_max_bytes;
    uint32_t log_max_files;
    uint32_t stop_signal;
    uint32_t init; /* PID 1 is init.c's loop, the command its child */
    const char *oom_events;
    uint32_t tty;
    struct strlist monitor_cgroup_procs;
    int32_t monitor_oom_score_adj;
};

#define HAS(s, field) (((s)->seen >> F_##field) & 1u)

/* Reads header and body from fd; the buffer is returned in *buf and owned by the caller. */
int spec_read(int fd, uint8_t **buf, size_t *len, uint16_t *kind);
/* Decodes and validates a body; on failure last_error says why (stage "spec"). */
int spec_decode(const uint8_t *body, size_t len, uint16_t kind, struct spec *out);
void spec_free(struct spec *s);
/* Prints the decoded spec as JSON on fd (check-spec mode). */
int spec_dump(int fd, const struct spec *s);

#endif
