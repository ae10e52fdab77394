/* check-spec: the decoded spec printed back as JSON, keyed by the field names of fields.h, so a
 * test can compare it with what TypeScript encoded (every field round-trips through the struct). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "spec.h"
#include "util.h"

struct out {
    int fd;
    int err;
    int first;
    char buf[4096];
    size_t used;
};

static void flush(struct out *o)
{
    if (o->used && write_all(o->fd, o->buf, o->used) < 0) o->err = 1;
    o->used = 0;
}

static void put(struct out *o, const char *s, size_t n)
{
    while (n) {
        size_t room = sizeof(o->buf) - o->used;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->used, s, k);
        o->used += k;
        s += k;
        n -= k;
        if (o->used == sizeof(o->buf)) flush(o);
    }
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void str(struct out *o, const char *s)
{
    char tmp[1024 * 6 + 1];
    puts_(o, "\"");
    /* Long strings are escaped in slices so the stack buffer stays bounded. */
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i += 1024) {
        char part[1025];
        size_t k = len - i < 1024 ? len - i : 1024;
        memcpy(part, s + i, k);
        part[k] = 0;
        size_t n = json_escape(tmp, sizeof(tmp), 0, part);
        put(o, tmp, n);
    }
    puts_(o, "\"");
}

static void key(struct out *o, const char *k)
{
    puts_(o, o->first ? "\"" : ",\"");
    o->first = 0;
    puts_(o, k);
    puts_(o, "\":");
}

static void kstr(struct out *o, const char *k, const char *v)
{
    if (!v) return;
    key(o, k);
    str(o, v);
}

static void ku64(struct out *o, const char *k, uint64_t v)
{
    char tmp[32];
    key(o, k);
    snprintf(tmp, sizeof(tmp), "\"%" PRIu64 "\"", v);
    puts_(o, tmp);
}

static void knum(struct out *o, const char *k, int64_t v)
{
    char tmp[32];
    key(o, k);
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    puts_(o, tmp);
}

static void kstrs(struct out *o, const char *k, const struct strlist *l)
{
    key(o, k);
    puts_(o, "[");
    for (uint32_t i = 0; i < l->n; i++) {
        if (i) puts_(o, ",");
        str(o, l->v[i]);
    }
    puts_(o, "]");
}

static void kops(struct out *o, const char *k, const struct oplist *l)
{
    key(o, k);
    puts_(o, "[");
    for (uint32_t i = 0; i < l->n; i++) {
        const struct op *op = &l->v[i];
        puts_(o, i ? ",{" : "{");
        o->first = 1;
        knum(o, "OP_KIND", op->kind);
        kstr(o, "OP_SOURCE", op->source);
        kstr(o, "OP_TARGET", op->target);
        kstr(o, "OP_FSTYPE", op->fstype);
        kstr(o, "OP_DATA", op->data);
        ku64(o, "OP_FLAGS", op->flags);
        knum(o, "OP_MODE", op->mode);
        ku64(o, "OP_DEV", op->dev);
        knum(o, "OP_CREATE", op->create);
        knum(o, "OP_OPTIONAL", op->optional);
        if (op->idmap) knum(o, "OP_IDMAP", op->idmap);
        kstr(o, "OP_UID_MAP", op->uid_map);
        kstr(o, "OP_GID_MAP", op->gid_map);
        puts_(o, "}");
    }
    puts_(o, "]");
    o->first = 0;
}

int spec_dump(int fd, const struct spec *s)
{
    struct out o = {.fd = fd, .first = 1};
    puts_(&o, "{");
    knum(&o, "KIND", s->kind);
#define U32(F, v)                                                                                            \
    if (HAS(s, F)) knum(&o, #F, v)
#define U64(F, v)                                                                                            \
    if (HAS(s, F)) ku64(&o, #F, v)
    kstr(&o, "NAME", s->name);
    U64(NS_FLAGS, s->ns_flags);
    kstr(&o, "UID_MAP", s->uid_map);
    kstr(&o, "GID_MAP", s->gid_map);
    U32(JOIN_NET, s->join_net);
    if (HAS(s, CGROUP_PROCS)) kstrs(&o, "CGROUP_PROCS", &s->cgroup_procs);
    kstr(&o, "CGROUP_DIR", s->cgroup_dir);
    kstr(&o, "ROOT_TARGET", s->root_target);
    kstr(&o, "ROOT_SOURCE", s->root_source);
    kstr(&o, "ROOT_FSTYPE", s->root_fstype);
    kstr(&o, "ROOT_DATA", s->root_data);
    U64(ROOT_FLAGS, s->root_flags);
    U64(ROOT_PROPAGATION, s->root_propagation);
    if (HAS(s, ROOT_LOWER)) kstrs(&o, "ROOT_LOWER", &s->root_lower);
    kstr(&o, "ROOT_UPPER", s->root_upper);
    kstr(&o, "ROOT_WORK", s->root_work);
    if (s->mounts.n) kops(&o, "MOUNT", &s->mounts);
    if (s->final.n) kops(&o, "FINAL", &s->final);
    kstr(&o, "HOSTNAME", s->hostname);
    U32(LOOPBACK, s->loopback);
    kstrs(&o, "ARGV", &s->argv);
    if (HAS(s, ENV)) kstrs(&o, "ENV", &s->env);
    kstr(&o, "CWD", s->cwd);
    U32(UID, s->uid);
    U32(GID, s->gid);
    if (HAS(s, GROUPS)) {
        key(&o, "GROUPS");
        puts_(&o, "[");
        for (uint32_t i = 0; i < s->groups.n; i++) {
            char tmp[16];
            snprintf(tmp, sizeof(tmp), "%s%u", i ? "," : "", s->groups.v[i]);
            puts_(&o, tmp);
        }
        puts_(&o, "]");
    }
    if (s->n_rlimits) {
        key(&o, "RLIMIT");
        puts_(&o, "[");
        for (uint32_t i = 0; i < s->n_rlimits; i++) {
            puts_(&o, i ? ",{" : "{");
            o.first = 1;
            knum(&o, "RL_RESOURCE", s->rlimits[i].resource);
            ku64(&o, "RL_SOFT", s->rlimits[i].soft);
            ku64(&o, "RL_HARD", s->rlimits[i].hard);
            puts_(&o, "}");
        }
        puts_(&o, "]");
    }
    U64(CAP_BOUNDING, s->cap_bounding);
    U64(CAP_EFFECTIVE, s->cap_effective);
    U64(CAP_PERMITTED, s->cap_permitted);
    U64(CAP_INHERITABLE, s->cap_inheritable);
    U64(CAP_AMBIENT, s->cap_ambient);
    U32(NO_NEW_PRIVS, s->no_new_privs);
    if (s->seccomp) knum(&o, "SECCOMP", s->seccomp_len);
    U32(OOM_SCORE_ADJ, s->oom_score_adj);
    U32(UMASK, s->umask);
    kstr(&o, "SHIM_DIR", s->shim_dir);
    kstr(&o, "LOG_DIR", s->log_dir);
    U64(LOG_MAX_BYTES, s->log_max_bytes);
    U32(LOG_MAX_FILES, s->log_max_files);
    U32(STOP_SIGNAL, s->stop_signal);
    kstr(&o, "OOM_EVENTS", s->oom_events);
    U32(TTY, s->tty);
    if (HAS(s, MONITOR_CGROUP_PROCS)) kstrs(&o, "MONITOR_CGROUP_PROCS", &s->monitor_cgroup_procs);
    U32(MONITOR_OOM_SCORE_ADJ, s->monitor_oom_score_adj);
    U32(INIT, s->init);
    puts_(&o, "}\n");
    flush(&o);
    return o.err ? fail("spec", "write dump") : 0;
}
