/* The last steps before the payload runs, in an order that keeps the privileges each one needs. */
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "caps.h"
#include "exec.h"
#include "kernel.h"
#include "resolve.h"
#include "util.h"

static int apply_rlimits(const struct spec *s)
{
    for (uint32_t i = 0; i < s->n_rlimits; i++) {
        const struct rlimit_entry *e = &s->rlimits[i];
        struct rlimit rl = {(rlim_t)e->soft, (rlim_t)e->hard};
        if (setrlimit((int)e->resource, &rl) < 0)
            return fail("setrlimit", "resource %u soft %llu hard %llu", e->resource, (unsigned long long)e->soft,
                        (unsigned long long)e->hard);
    }
    return 0;
}

static int apply_seccomp(const struct spec *s)
{
    if (!s->seccomp) return 0;
    /* Copied out of the message: the filter must be aligned, the wire bytes need not be. */
    struct k_sock_filter prog_insns[SPEC_MAX_SECCOMP_INSNS];
    uint32_t n = s->seccomp_len / 8;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = s->seccomp + 8 * i;
        prog_insns[i].code = (uint16_t)(p[0] | p[1] << 8);
        prog_insns[i].jt = p[2];
        prog_insns[i].jf = p[3];
        prog_insns[i].k = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    }
    struct k_sock_fprog prog = {(unsigned short)n, prog_insns};
    if (syscall(SYS_seccomp, K_SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        return fail("seccomp", "load filter of %u instructions", n);
    return 0;
}

static int apply_ids(const struct spec *s)
{
    gid_t groups[1];
    gid_t *list = s->groups.n ? (gid_t *)s->groups.v : groups;
    if (setgroups(s->groups.n, list) < 0) return fail("setgroups", "%u groups", s->groups.n);
    if (setresgid(s->gid, s->gid, s->gid) < 0) return fail("setgid", "%u", s->gid);
    if (setresuid(s->uid, s->uid, s->uid) < 0) return fail("setuid", "%u", s->uid);
    return 0;
}

static const char *env_get(const struct spec *s, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < s->env.n; i++)
        if (!strncmp(s->env.v[i], name, n) && s->env.v[i][n] == '=') return s->env.v[i] + n + 1;
    return NULL;
}

/* execvpe() searches the shim's own PATH; the container's PATH is the one that counts. */
static int exec_search(const struct spec *s)
{
    const char *file = s->argv.v[0];
    char *const *envp = s->env.n ? s->env.v : (char *const[]){NULL};
    if (strchr(file, '/')) {
        execve(file, s->argv.v, envp);
        return fail("exec", "%s", file);
    }
    const char *path = env_get(s, "PATH");
    if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    int saved = ENOENT;
    char full[4096];
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len + strlen(file) + 2 <= sizeof(full)) {
            snprintf(full, sizeof(full), "%.*s/%s", (int)len, len ? p : ".", file);
            execve(full, s->argv.v, envp);
            if (errno == EACCES) saved = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR) return fail("exec", "%s", full);
        }
        if (!end) break;
        p = end;
    }
    return fail_errno("exec", saved, "%s (searched PATH %s)", file, path);
}

/*
 * The working directory comes from the manifest, the image config or `exec -w`: all of them
 * untrusted. It is resolved inside the container's root (its "/" by now) with magic links refused,
 * so `/proc/self/fd/N` or `/proc/1/cwd` cannot name a host directory, and the result is checked:
 * the kernel marks a cwd outside the caller's root "(unreachable)".
 */
static int enter_workdir(const char *cwd)
{
    cleanup_fd int root = (int)RETRY(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root < 0) return fail("workdir", "open /");
    cleanup_fd int dir = open_in_root(root, cwd, O_PATH | O_DIRECTORY);
    if (dir < 0) {
        if (errno == ELOOP) return fail("workdir", "%s goes through a /proc magic link or a symlink loop", cwd);
        return fail("workdir", "%s", cwd);
    }
    if (fchdir(dir) < 0) return fail("workdir", "enter %s", cwd);
    char now[4096];
    if (syscall(SYS_getcwd, now, sizeof(now)) < 0) return fail("workdir", "read back %s", cwd);
    if (now[0] != '/') return fail_errno("workdir", EXDEV, "%s resolves outside the container's root", cwd);
    return 0;
}

int process_prepare(const struct spec *s)
{
    umask((mode_t)s->umask);
    if (enter_workdir(s->cwd) < 0) return -1;
    if (apply_rlimits(s) < 0) return -1;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return fail("capabilities", "keep capabilities");
    if (caps_bound(s->cap_bounding) < 0) return -1;
    /* Loaded while CAP_SYS_ADMIN is still held, so it works without no_new_privs too; the filter
     * leaves the calls below alone. */
    if (apply_seccomp(s) < 0) return -1;
    if (apply_ids(s) < 0) return -1;
    if (caps_set(s->cap_effective, s->cap_permitted, s->cap_inheritable) < 0) return -1;
    if (caps_ambient(s->cap_ambient) < 0) return -1;
    if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return fail("no_new_privs", "set");
    reset_signals();
    /* Everything but stdio goes at exec; the error pipe is already close-on-exec and stays usable
     * until then. */
    if (syscall(SYS_close_range, 3, ~0U, K_CLOSE_RANGE_CLOEXEC) < 0) return fail("close fds", "close_range");
    return 0;
}

int process_execve(const struct spec *s)
{
    return exec_search(s);
}

int process_exec(const struct spec *s)
{
    if (process_prepare(s) < 0) return -1;
    return exec_search(s);
}
