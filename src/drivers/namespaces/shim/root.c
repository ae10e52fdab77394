/* Switching to the new root and the steps that need the container's own view of it. Every path
 * here is the container's and is resolved inside its root with magic links refused; the one
 * object a mask binds is the container's /dev/null, checked to be the null device first. */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "kernel.h"
#include "mounts.h"
#include "resolve.h"
#include "root.h"
#include "util.h"

int root_pivot(const struct spec *s)
{
    /* pivot_root(".", ".") stacks the old root under the new one; detaching "." then drops it
     * without needing a directory for it inside the image. */
    if (prepared_root >= 0) {
        int r = fchdir(prepared_root);
        close(prepared_root);
        prepared_root = -1;
        if (r < 0) return fail("pivot_root", "enter %s", s->root_target);
    } else if (chdir(s->root_target) < 0) {
        return fail("pivot_root", "chdir %s", s->root_target);
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0) return fail("pivot_root", "%s", s->root_target);
    if (umount2(".", MNT_DETACH) < 0) return fail("pivot_root", "detach old root");
    if (chdir("/") < 0) return fail("pivot_root", "chdir /");
    return 0;
}

struct finalize_ctx {
    int root;
    int null_dev; /* -1 until a mask of a file needs it */
};

/* The container's /dev/null, refused unless it is the null device (char 1:3): a manifest or an
 * image that put a host file there must not turn every masked path into that file. */
static int open_null(struct finalize_ctx *c)
{
    if (c->null_dev >= 0) return c->null_dev;
    int fd = open_in_root_nofollow(c->root, "/dev/null", O_PATH);
    if (fd < 0) return fail("mask", "open /dev/null");
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return fail("mask", "stat /dev/null");
    }
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
        close(fd);
        return fail_errno("mask-source", EPERM, "/dev/null is not the null device (char 1:3): refusing to mask paths with it");
    }
    return c->null_dev = fd;
}

static int op_write(struct finalize_ctx *c, const struct op *op)
{
    cleanup_fd int fd = open_in_root_nofollow(c->root, op->target, O_WRONLY);
    if (fd < 0) return fail("sysctl", "open %s", op->target);
    if (write_all(fd, op->data, strlen(op->data)) < 0) return fail("sysctl", "write `%s` to %s", op->data, op->target);
    return 0;
}

static int op_mask(struct finalize_ctx *c, const struct op *op)
{
    char target[64], source[64];
    cleanup_fd int fd = open_in_root(c->root, op->target, O_PATH);
    if (fd < 0) return fail("mask", "%s", op->target);
    struct stat st;
    if (fstat(fd, &st) < 0) return fail("mask", "stat %s", op->target);
    fd_path(target, sizeof(target), fd);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555") < 0)
            return fail("mask", "%s", op->target);
        return 0;
    }
    int null_dev = open_null(c);
    if (null_dev < 0) return -1;
    fd_path(source, sizeof(source), null_dev);
    if (mount(source, target, NULL, MS_BIND, NULL) < 0) return fail("mask", "%s", op->target);
    return 0;
}

static int op_readonly(struct finalize_ctx *c, const struct op *op)
{
    char p[64];
    {
        cleanup_fd int fd = open_in_root(c->root, op->target, O_PATH);
        if (fd < 0) return fail("readonly", "%s", op->target);
        fd_path(p, sizeof(p), fd);
        if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) return fail("readonly", "bind %s", op->target);
    }
    /* The fd above names what lies under the new bind: open the target again to reach it. */
    cleanup_fd int fd = open_in_root(c->root, op->target, O_PATH);
    if (fd < 0) return fail("readonly", "%s", op->target);
    fd_path(p, sizeof(p), fd);
    return remount("readonly", p, op->target, MS_RDONLY | (unsigned long)op->flags);
}

static int op_remount(struct finalize_ctx *c, const struct op *op)
{
    char p[64];
    cleanup_fd int fd = open_in_root(c->root, op->target, O_PATH);
    if (fd < 0) return fail("remount", "%s", op->target);
    fd_path(p, sizeof(p), fd);
    return remount("remount", p, op->target, (unsigned long)op->flags);
}

int root_finalize(const struct spec *s)
{
    struct finalize_ctx c = {-1, -1};
    c.root = (int)RETRY(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (c.root < 0) return fail("finalize", "open /");
    int r = 0;
    for (uint32_t i = 0; i < s->final.n && r == 0; i++) {
        const struct op *op = &s->final.v[i];
        switch (op->kind) {
        case OP_WRITE: r = op_write(&c, op); break;
        case OP_MASK: r = op_mask(&c, op); break;
        case OP_READONLY: r = op_readonly(&c, op); break;
        case OP_REMOUNT: r = op_remount(&c, op); break;
        default: r = fail_errno("finalize", EINVAL, "op kind %u not allowed after pivot_root", op->kind);
        }
        if (r < 0 && op->optional && errno == ENOENT) r = 0;
    }
    if (c.null_dev >= 0) close(c.null_dev);
    close(c.root);
    return r;
}
