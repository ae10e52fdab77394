/* Decoding and validating the spawn spec. Nothing here trusts the input: every length is checked
 * against what remains, every count against its limit, unknown or repeated fields are refused. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "spec.h"
#include "util.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

#define BAD(...) fail_errno("spec", 0, __VA_ARGS__)

int spec_read(int fd, uint8_t **buf, size_t *len, uint16_t *kind)
{
    uint8_t hdr[SPEC_HEADER_BYTES];
    ssize_t n = read_all(fd, hdr, sizeof(hdr));
    if (n < 0) return fail("spec", "read spec header from fd %d", fd);
    if (n != SPEC_HEADER_BYTES) return BAD("truncated header: %zd of %d bytes", n, SPEC_HEADER_BYTES);
    if (le32(hdr) != SPEC_MAGIC) return BAD("bad magic 0x%08x", le32(hdr));
    if (le16(hdr + 4) != SPEC_WIRE_VERSION)
        return BAD("wire version %u, this shim speaks %u", le16(hdr + 4), SPEC_WIRE_VERSION);
    *kind = le16(hdr + 6);
    uint32_t body = le32(hdr + 8);
    if (body > SPEC_MAX_BODY_BYTES) return BAD("body of %u bytes exceeds %u", body, SPEC_MAX_BODY_BYTES);
    uint8_t *b = malloc(body ? body : 1);
    if (!b) return fail("spec", "allocate %u bytes", body);
    n = read_all(fd, b, body);
    if (n < 0) {
        free(b);
        return fail("spec", "read spec body from fd %d", fd);
    }
    if ((uint32_t)n != body) {
        free(b);
        return BAD("truncated body: %zd of %u bytes", n, body);
    }
    *buf = b;
    *len = body;
    return 0;
}

struct field {
    uint16_t id;
    uint32_t len;
    const uint8_t *p;
};

struct cursor {
    const uint8_t *p;
    size_t left;
};

/* 1 with a field, 0 at the end, -1 on a malformed field. */
static int next_field(struct cursor *c, struct field *f)
{
    if (c->left == 0) return 0;
    if (c->left < 6) return BAD("truncated field header (%zu bytes left)", c->left);
    f->id = le16(c->p);
    f->len = le32(c->p + 2);
    if (f->len > c->left - 6) return BAD("field %u claims %u bytes, %zu left", f->id, f->len, c->left - 6);
    f->p = c->p + 6;
    c->p += 6 + f->len;
    c->left -= 6 + f->len;
    return 1;
}

static int get_u32(const struct field *f, uint32_t *out)
{
    if (f->len != 4) return BAD("field %u: u32 of %u bytes", f->id, f->len);
    *out = le32(f->p);
    return 0;
}

static int get_u64(const struct field *f, uint64_t *out)
{
    if (f->len != 8) return BAD("field %u: u64 of %u bytes", f->id, f->len);
    *out = le64(f->p);
    return 0;
}

static int check_str(const uint8_t *p, uint32_t len, uint16_t id)
{
    if (len == 0 || len > SPEC_MAX_STRING_BYTES) return BAD("field %u: string of %u bytes", id, len);
    if (p[len - 1] != 0) return BAD("field %u: string not NUL-terminated", id);
    if (memchr(p, 0, len - 1)) return BAD("field %u: string holds a NUL byte", id);
    return 0;
}

static int get_str(const struct field *f, const char **out)
{
    if (check_str(f->p, f->len, f->id) < 0) return -1;
    *out = (const char *)f->p;
    return 0;
}

static int get_strs(const struct field *f, struct strlist *out)
{
    if (f->len < 4) return BAD("field %u: list without a count", f->id);
    uint32_t n = le32(f->p);
    /* Each item takes at least 5 bytes, so a count the payload cannot hold is refused before any
     * allocation. */
    if (n > SPEC_MAX_LIST_ITEMS || (uint64_t)n * 5 > f->len - 4)
        return BAD("field %u: list count %u does not fit %u bytes", f->id, n, f->len);
    char **v = calloc((size_t)n + 1, sizeof(char *));
    if (!v) return fail("spec", "allocate list of %u", n);
    const uint8_t *p = f->p + 4;
    size_t left = f->len - 4;
    for (uint32_t i = 0; i < n; i++) {
        if (left < 4) goto bad;
        uint32_t l = le32(p);
        if (l > left - 4) goto bad;
        if (check_str(p + 4, l, f->id) < 0) {
            free(v);
            return -1;
        }
        v[i] = (char *)(p + 4);
        p += 4 + l;
        left -= 4 + l;
    }
    if (left != 0) goto bad;
    out->n = n;
    out->v = v;
    return 0;
bad:
    free(v);
    return BAD("field %u: malformed list item", f->id);
}

static int get_u32s(const struct field *f, struct u32list *out)
{
    if (f->len < 4) return BAD("field %u: list without a count", f->id);
    uint32_t n = le32(f->p);
    if (n > SPEC_MAX_LIST_ITEMS || (uint64_t)n * 4 != f->len - 4)
        return BAD("field %u: list count %u does not match %u bytes", f->id, n, f->len);
    uint32_t *v = calloc((size_t)n + 1, sizeof(uint32_t));
    if (!v) return fail("spec", "allocate list of %u", n);
    for (uint32_t i = 0; i < n; i++) v[i] = le32(f->p + 4 + 4 * i);
    out->n = n;
    out->v = v;
    return 0;
}

static int type_of(const int *types, size_t ntypes, uint16_t id)
{
    return id < ntypes ? types[id] : 0;
}

#define TYPE_ENTRY(name, id, type, rep) [id] = type,
static const int top_types[64] = {TOP_FIELDS(TYPE_ENTRY)};
static const int op_types[16] = {OP_FIELDS(TYPE_ENTRY)};
static const int rl_types[8] = {RLIMIT_FIELDS(TYPE_ENTRY)};
#define REP_ENTRY(name, id, type, rep) [id] = rep,
static const int top_repeated[64] = {TOP_FIELDS(REP_ENTRY)};

static int decode_op(const struct field *rec, struct op *op)
{
    struct cursor c = {rec->p, rec->len};
    struct field f;
    uint32_t seen = 0;
    int r;
    memset(op, 0, sizeof(*op));
    while ((r = next_field(&c, &f)) == 1) {
        int t = type_of(op_types, 16, f.id);
        if (!t) return BAD("unknown op field %u", f.id);
        if (seen & (1u << f.id)) return BAD("op field %u repeated", f.id);
        seen |= 1u << f.id;
        switch (f.id) {
        case F_OP_KIND: r = get_u32(&f, &op->kind); break;
        case F_OP_SOURCE: r = get_str(&f, &op->source); break;
        case F_OP_TARGET: r = get_str(&f, &op->target); break;
        case F_OP_FSTYPE: r = get_str(&f, &op->fstype); break;
        case F_OP_DATA: r = get_str(&f, &op->data); break;
        case F_OP_FLAGS: r = get_u64(&f, &op->flags); break;
        case F_OP_MODE: r = get_u32(&f, &op->mode); break;
        case F_OP_DEV: r = get_u64(&f, &op->dev); break;
        case F_OP_CREATE: r = get_u32(&f, &op->create); break;
        case F_OP_OPTIONAL: r = get_u32(&f, &op->optional); break;
        case F_OP_IDMAP: r = get_u32(&f, &op->idmap); break;
        case F_OP_UID_MAP: r = get_str(&f, &op->uid_map); break;
        case F_OP_GID_MAP: r = get_str(&f, &op->gid_map); break;
        default: r = BAD("unhandled op field %u", f.id);
        }
        if (r < 0) return -1;
    }
    if (r < 0) return -1;
    if (op->kind < OP_MOUNT || op->kind > OP_REMOUNT) return BAD("unknown op kind %u", op->kind);
    if (!op->target) return BAD("op of kind %u without a target", op->kind);
    if (op->target[0] != '/') return BAD("op target `%s` is not absolute", op->target);
    if ((op->kind == OP_BIND || op->kind == OP_SYMLINK || op->kind == OP_MOUNT) && !op->source)
        return BAD("op on `%s` without a source", op->target);
    if (op->kind == OP_WRITE && !op->data) return BAD("write to `%s` without data", op->target);
    if (op->create > CREATE_REPLACE) return BAD("op create %u", op->create);
    if (op->idmap > IDMAP_MAPS) return BAD("op idmap %u", op->idmap);
    if (op->idmap && op->kind != OP_BIND) return BAD("idmap on `%s`, which is not a bind", op->target);
    if ((op->idmap == IDMAP_MAPS) != (op->uid_map && op->gid_map)) return BAD("idmap maps of `%s` incomplete", op->target);
    return 0;
}

static int decode_rlimit(const struct field *rec, struct rlimit_entry *rl)
{
    struct cursor c = {rec->p, rec->len};
    struct field f;
    uint32_t seen = 0;
    int r;
    memset(rl, 0, sizeof(*rl));
    while ((r = next_field(&c, &f)) == 1) {
        if (!type_of(rl_types, 8, f.id)) return BAD("unknown rlimit field %u", f.id);
        if (seen & (1u << f.id)) return BAD("rlimit field %u repeated", f.id);
        seen |= 1u << f.id;
        if (f.id == F_RL_RESOURCE) r = get_u32(&f, &rl->resource);
        else if (f.id == F_RL_SOFT) r = get_u64(&f, &rl->soft);
        else r = get_u64(&f, &rl->hard);
        if (r < 0) return -1;
    }
    if (r < 0) return -1;
    if (seen != ((1u << F_RL_RESOURCE) | (1u << F_RL_SOFT) | (1u << F_RL_HARD)))
        return BAD("rlimit record incomplete");
    if (rl->soft > rl->hard) return BAD("rlimit %u: soft above hard", rl->resource);
    return 0;
}

static int count_repeated(const uint8_t *body, size_t len, uint16_t id, uint32_t *count)
{
    struct cursor c = {body, len};
    struct field f;
    int r;
    *count = 0;
    while ((r = next_field(&c, &f)) == 1)
        if (f.id == id) (*count)++;
    return r;
}

static int add_op(struct oplist *l, uint32_t cap, const struct field *f)
{
    if (l->n >= cap) return BAD("too many ops");
    return decode_op(f, &l->v[l->n++]);
}

int spec_decode(const uint8_t *body, size_t len, uint16_t kind, struct spec *s)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->umask = 022;
    if (kind != SPEC_KIND_RUN && kind != SPEC_KIND_EXEC) return BAD("unknown spec kind %u", kind);
    uint32_t n_mounts, n_final;
    if (count_repeated(body, len, F_MOUNT, &n_mounts) < 0) return -1;
    if (count_repeated(body, len, F_FINAL, &n_final) < 0) return -1;
    if (n_mounts > SPEC_MAX_OPS || n_final > SPEC_MAX_OPS)
        return BAD("%u + %u ops exceed %u", n_mounts, n_final, SPEC_MAX_OPS);
    s->mounts.v = calloc(n_mounts + 1, sizeof(struct op));
    s->final.v = calloc(n_final + 1, sizeof(struct op));
    if (!s->mounts.v || !s->final.v) return fail("spec", "allocate ops");

    struct cursor c = {body, len};
    struct field f;
    int r;
    while ((r = next_field(&c, &f)) == 1) {
        if (!type_of(top_types, 64, f.id)) return BAD("unknown field id %u", f.id);
        if (((s->seen >> f.id) & 1u) && !top_repeated[f.id]) return BAD("field %u repeated", f.id);
        s->seen |= 1ull << f.id;
        switch (f.id) {
        case F_NAME: r = get_str(&f, &s->name); break;
        case F_NS_FLAGS: r = get_u64(&f, &s->ns_flags); break;
        case F_UID_MAP: r = get_str(&f, &s->uid_map); break;
        case F_GID_MAP: r = get_str(&f, &s->gid_map); break;
        case F_JOIN_NET: r = get_u32(&f, &s->join_net); break;
        case F_CGROUP_PROCS: r = get_strs(&f, &s->cgroup_procs); break;
        case F_CGROUP_DIR: r = get_str(&f, &s->cgroup_dir); break;
        case F_ROOT_TARGET: r = get_str(&f, &s->root_target); break;
        case F_ROOT_SOURCE: r = get_str(&f, &s->root_source); break;
        case F_ROOT_FSTYPE: r = get_str(&f, &s->root_fstype); break;
        case F_ROOT_DATA: r = get_str(&f, &s->root_data); break;
        case F_ROOT_FLAGS: r = get_u64(&f, &s->root_flags); break;
        case F_ROOT_PROPAGATION: r = get_u64(&f, &s->root_propagation); break;
        case F_ROOT_LOWER: r = get_strs(&f, &s->root_lower); break;
        case F_ROOT_UPPER: r = get_str(&f, &s->root_upper); break;
        case F_ROOT_WORK: r = get_str(&f, &s->root_work); break;
        case F_MOUNT: r = add_op(&s->mounts, n_mounts, &f); break;
        case F_FINAL: r = add_op(&s->final, n_final, &f); break;
        case F_HOSTNAME: r = get_str(&f, &s->hostname); break;
        case F_LOOPBACK: r = get_u32(&f, &s->loopback); break;
        case F_ARGV: r = get_strs(&f, &s->argv); break;
        case F_ENV: r = get_strs(&f, &s->env); break;
        case F_CWD: r = get_str(&f, &s->cwd); break;
        case F_UID: r = get_u32(&f, &s->uid); break;
        case F_GID: r = get_u32(&f, &s->gid); break;
        case F_GROUPS: r = get_u32s(&f, &s->groups); break;
        case F_RLIMIT:
            if (s->n_rlimits >= SPEC_MAX_RLIMITS) return BAD("more than %u rlimits", SPEC_MAX_RLIMITS);
            r = decode_rlimit(&f, &s->rlimits[s->n_rlimits++]);
            break;
        case F_CAP_BOUNDING: r = get_u64(&f, &s->cap_bounding); break;
        case F_CAP_EFFECTIVE: r = get_u64(&f, &s->cap_effective); break;
        case F_CAP_PERMITTED: r = get_u64(&f, &s->cap_permitted); break;
        case F_CAP_INHERITABLE: r = get_u64(&f, &s->cap_inheritable); break;
        case F_CAP_AMBIENT: r = get_u64(&f, &s->cap_ambient); break;
        case F_NO_NEW_PRIVS: r = get_u32(&f, &s->no_new_privs); break;
        case F_SECCOMP:
            if (f.len == 0 || f.len % 8 || f.len / 8 > SPEC_MAX_SECCOMP_INSNS)
                return BAD("seccomp program of %u bytes", f.len);
            s->seccomp = f.p;
            s->seccomp_len = f.len;
            r = 0;
            break;
        case F_OOM_SCORE_ADJ: r = get_u32(&f, (uint32_t *)&s->oom_score_adj); break;
        case F_UMASK: r = get_u32(&f, &s->umask); break;
        case F_SHIM_DIR: r = get_str(&f, &s->shim_dir); break;
        case F_LOG_DIR: r = get_str(&f, &s->log_dir); break;
        case F_LOG_MAX_BYTES: r = get_u64(&f, &s->log_max_bytes); break;
        case F_LOG_MAX_FILES: r = get_u32(&f, &s->log_max_files); break;
        case F_STOP_SIGNAL: r = get_u32(&f, &s->stop_signal); break;
        case F_OOM_EVENTS: r = get_str(&f, &s->oom_events); break;
        case F_TTY: r = get_u32(&f, &s->tty); break;
        case F_MONITOR_CGROUP_PROCS: r = get_strs(&f, &s->monitor_cgroup_procs); break;
        case F_MONITOR_OOM_SCORE_ADJ: r = get_u32(&f, (uint32_t *)&s->monitor_oom_score_adj); break;
        case F_INIT: r = get_u32(&f, &s->init); break;
        default: r = BAD("unhandled field id %u", f.id);
        }
        if (r < 0) return -1;
    }
    if (r < 0) return -1;

    /* Required fields: the shim guesses nothing. */
    if (!s->argv.n) return BAD("no argv");
    if (!HAS(s, CWD) || !HAS(s, UID) || !HAS(s, GID)) return BAD("process cwd, uid and gid are required");
    if (kind == SPEC_KIND_RUN) {
        if (!s->root_target || !s->root_fstype || !s->root_source)
            return BAD("run spec without root target, source and fstype");
        if (!s->shim_dir || !s->log_dir) return BAD("run spec without shim and log directories");
        if (!HAS(s, LOG_MAX_BYTES) || !HAS(s, LOG_MAX_FILES) || s->log_max_files < 1 || s->log_max_bytes < 1)
            return BAD("run spec without log limits");
        if (!HAS(s, STOP_SIGNAL) || s->stop_signal < 1 || s->stop_signal > 64) return BAD("bad stop signal");
        if ((s->uid_map == NULL) != (s->gid_map == NULL)) return BAD("uid and gid maps come together");
        if (s->root_lower.n && (!s->root_upper || !s->root_work || !s->uid_map))
            return BAD("root layers need an upper and a work directory and a user namespace");
        for (uint32_t i = 0; i < s->mounts.n; i++)
            if (s->mounts.v[i].idmap == IDMAP_CONTAINER && !s->uid_map)
                return BAD("bind `%s` maps through a user namespace the container does not have", s->mounts.v[i].target);
    }
    if (s->stop_signal > 64) return BAD("bad stop signal %u", s->stop_signal);
    if (s->init > 1) return BAD("init %u", s->init);
    if (s->init && kind != SPEC_KIND_RUN) return BAD("init in a spec that starts no container");
    return 0;
}

void spec_free(struct spec *s)
{
    free(s->cgroup_procs.v);
    free(s->monitor_cgroup_procs.v);
    free(s->root_lower.v);
    free(s->mounts.v);
    free(s->final.v);
    free(s->argv.v);
    free(s->env.v);
    free(s->groups.v);
    memset(s, 0, sizeof(*s));
}
