/* Switching to the new root and the steps that need the container's own view of it. */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kernel.h"
#include "mounts.h"
#include "root.h"
#include "util.h"

int root_pivot(const struct spec *s)
{
    /* pivot_root(".", ".") stacks the old root under the new one; detaching "." then drops it
     * without needing a directory for it inside the image. */
    if (chdir(s->root_target) < 0) return fail("pivot_root", "chdir %s", s->root_target);
    if (syscall(SYS_pivot_root, ".", ".") < 0) return fail("pivot_root", "%s", s->root_target);
    if (umount2(".", MNT_DETACH) < 0) return fail("pivot_root", "detach old root");
    if (chdir("/") < 0) return fail("pivot_root", "chdir /");
    return 0;
}

static int op_write(const struct op *op)
{
    cleanup_fd int fd = (int)RETRY(open(op->target, O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd < 0) return fail("sysctl", "open %s", op->target);
    if (write_all(fd, op->data, strlen(op->data)) < 0) return fail("sysctl", "write `%s` to %s", op->data, op->target);
    return 0;
}

static int op_mask(const struct op *op)
{
    struct stat st;
    if (stat(op->target, &st) < 0) return fail("mask", "%s", op->target);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", op->target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555") < 0)
            return fail("mask", "%s", op->target);
    } else if (mount("/dev/null", op->target, NULL, MS_BIND, NULL) < 0) {
        return fail("mask", "%s", op->target);
    }
    return 0;
}

static int op_readonly(const struct op *op)
{
    if (mount(op->target, op->target, NULL, MS_BIND | MS_REC, NULL) < 0) return fail("readonly", "bind %s", op->target);
    return remount("readonly", op->target, op->target, MS_RDONLY | (unsigned long)op->flags);
}

int root_finalize(const struct spec *s)
{
    for (uint32_t i = 0; i < s->final.n; i++) {
        const struct op *op = &s->final.v[i];
        int r;
        switch (op->kind) {
        case OP_WRITE: r = op_write(op); break;
        case OP_MASK: r = op_mask(op); break;
        case OP_READONLY: r = op_readonly(op); break;
        case OP_REMOUNT: r = remount("remount", op->target, op->target, (unsigned long)op->flags); break;
        default: r = fail_errno("finalize", EINVAL, "op kind %u not allowed after pivot_root", op->kind);
        }
        if (r < 0) {
            if (op->optional && errno == ENOENT) continue;
            return -1;
        }
    }
    return 0;
}
