/* The mount program before pivot_root: every target is resolved inside the new root with
 * openat2(RESOLVE_IN_ROOT), and mounted through its /proc/self/fd link. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "kernel.h"
#include "detached.h"
#include "mounts.h"
#include "resolve.h"
#include "util.h"

/* linux/magic.h is not among the headers the static build has. */
#define TMPFS_MAGIC 0x01021994

static int root_fd = -1;
int prepared_root = -1;

static int openat2_in_root(const char *path, int flags)
{
    return open_in_root(root_fd, path, flags);
}

/* Opens the parent directory of `path` inside the root, creating missing directories; *name
 * points at the last component. */
static int open_parent(const char *path, char *copy, size_t cap, const char **name, int mkdirs)
{
    snprintf(copy, cap, "%s", path);
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/') copy[--len] = 0;
    char *slash = strrchr(copy, '/');
    if (!slash || !slash[1]) return fail_errno("mount", EINVAL, "path %s", path);
    *name = slash + 1;
    int parent = (int)RETRY(fcntl(root_fd, F_DUPFD_CLOEXEC, 3));
    if (parent < 0) return fail("mount", "dup root fd");
    for (char *p = copy + 1; p < slash;) {
        char *end = strchr(p, '/');
        *end = 0;
        int fd = openat2_in_root(copy, O_PATH | O_DIRECTORY);
        if (fd < 0 && errno == ENOENT && mkdirs) {
            if (mkdirat(parent, p, 0755) < 0 && errno != EEXIST) {
                *end = '/';
                close(parent);
                return fail("mkdir", "%s", copy);
            }
            fd = openat2_in_root(copy, O_PATH | O_DIRECTORY);
        }
        *end = '/';
        if (fd < 0) {
            close(parent);
            *slash = 0;
            int r = fail("mount", "resolve %s", copy);
            *slash = '/';
            return r;
        }
        close(parent);
        parent = fd;
        p = end + 1;
    }
    return parent;
}

/* An O_PATH fd of `path` inside the root, created as a directory or file when asked. */
static int open_target(const char *path, unsigned create)
{
    int fd = openat2_in_root(path, O_PATH);
    if (fd >= 0 || errno != ENOENT || create == CREATE_NONE) {
        if (fd < 0) return fail("mount", "resolve %s", path);
        return fd;
    }
    char copy[4096];
    const char *name;
    cleanup_fd int parent = open_parent(path, copy, sizeof(copy), &name, 1);
    if (parent < 0) return -1;
    if (create == CREATE_DIR) {
        if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) return fail("mkdir", "%s", path);
    } else {
        int f = (int)RETRY(openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (f < 0 && errno != EEXIST && errno != ELOOP) return fail("create", "%s", path);
        if (f >= 0) close(f);
    }
    fd = openat2_in_root(path, O_PATH);
    if (fd < 0) return fail("mount", "resolve %s", path);
    return fd;
}

void fd_path(char *buf, size_t cap, int fd)
{
    snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

static unsigned long locked_flags(const char *path)
{
    struct statvfs st;
    unsigned long f = 0;
    if (statvfs(path, &st) < 0) return 0;
    if (st.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) f |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) f |= MS_RELATIME;
    if (st.f_flag & ST_RDONLY) f |= MS_RDONLY;
    return f;
}

int remount(const char *stage, const char *path, const char *shown, unsigned long flags)
{
    unsigned long f = MS_REMOUNT | MS_BIND | locked_flags(path) | (flags & ~(unsigned long)(MS_BIND | MS_REC));
    if (mount(NULL, path, NULL, f, NULL) < 0) return fail(stage, "remount %s flags 0x%lx", shown, f);
    return 0;
}

static int op_mount(const struct op *op)
{
    char p[64];
    cleanup_fd int fd = open_target(op->target, op->create);
    if (fd < 0) return -1;
    fd_path(p, sizeof(p), fd);
    if (mount(op->source, p, op->fstype, (unsigned long)op->flags, op->data) < 0)
        return fail("mount", "%s", op->target);
    return 0;
}

/*
 * CREATE_REPLACE: the last component of `path` is removed when it is a symlink (the parent is
 * resolved inside the root, the unlink touches only the container's writable layer), so a file
 * corral binds lands at the path the container reads, never where the image's link points.
 */
static int replace_symlink(const char *path)
{
    char copy[4096];
    const char *name;
    cleanup_fd int parent = open_parent(path, copy, sizeof(copy), &name, 1);
    if (parent < 0) return -1;
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : fail("bind", "stat %s", path);
    if (S_ISLNK(st.st_mode) && unlinkat(parent, name, 0) < 0) return fail("bind", "replace the symlink %s", path);
    return 0;
}

/* A bind the monitor prepared (detached.c): moved from its fd onto the target, never looked up by
 * path here, since the source may be out of this user namespace's reach. */
static int attach_prepared(const struct op *op, unsigned create)
{
    cleanup_fd int tree = detached_next(op->target);
    if (tree < 0) return -1;
    if (create != CREATE_NONE) {
        struct stat st;
        if (fstat(tree, &st) < 0) return fail("bind", "source %s", op->source);
        create = S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE;
    }
    cleanup_fd int fd = open_target(op->target, create);
    if (fd < 0) return -1;
    if (syscall(SYS_move_mount, tree, "", fd, "", K_MOVE_MOUNT_F_EMPTY_PATH | K_MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return fail("bind", "%s on %s", op->source, op->target);
    return 0;
}

static int op_bind(const struct spec *s, const struct op *op)
{
    char p[64];
    unsigned create = op->create;
    if (create == CREATE_REPLACE && replace_symlink(op->target) < 0) return -1;
    if (detached_op(s, op)) {
        if (attach_prepared(op, create) < 0) return -1;
    } else {
        if (create != CREATE_NONE) {
            struct stat st;
            if (stat(op->source, &st) < 0) return fail("bind", "source %s", op->source);
            create = S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE;
        }
        cleanup_fd int fd = open_target(op->target, create);
        if (fd < 0) return -1;
        fd_path(p, sizeof(p), fd);
        if (mount(op->source, p, NULL, MS_BIND | (op->flags & MS_REC), NULL) < 0)
            return fail("bind", "%s on %s", op->source, op->target);
    }
    unsigned long extra = (unsigned long)op->flags & ~(unsigned long)(MS_BIND | MS_REC);
    unsigned long prop = extra & (MS_PRIVATE | MS_SLAVE | MS_SHARED | MS_UNBINDABLE);
    extra &= ~prop;
    /* The fd above names the directory under the new mount: open the target again to reach it. */
    cleanup_fd int fd = open_target(op->target, CREATE_NONE);
    if (fd < 0) return -1;
    fd_path(p, sizeof(p), fd);
    if (extra && remount("bind", p, op->target, extra) < 0) return -1;
    if (prop && mount(NULL, p, NULL, prop | (op->flags & MS_REC), NULL) < 0)
        return fail("bind", "propagation of %s", op->target);
    return 0;
}

static int op_mknod(const struct op *op)
{
    char copy[4096];
    const char *name;
    cleanup_fd int parent = open_parent(op->target, copy, sizeof(copy), &name, 1);
    if (parent < 0) return -1;
    if (mknodat(parent, name, op->mode, (dev_t)op->dev) < 0) return fail("mknod", "%s", op->target);
    /* mknod obeys the umask; the spec's mode is what the container gets. */
    if (fchmodat(parent, name, op->mode & 07777, 0) < 0) return fail("mknod", "chmod %s", op->target);
    return 0;
}

/*
 * CREATE_REPLACE (a secret's or config file's target): what the image has at the path, a file or a
 * link, is removed from the container's writable layer first; a directory is refused, never
 * emptied. A link already pointing where asked (a restart) is kept.
 */
static int op_symlink(const struct op *op)
{
    char copy[4096];
    const char *name;
    cleanup_fd int parent = open_parent(op->target, copy, sizeof(copy), &name, 1);
    if (parent < 0) return -1;
    if (op->create == CREATE_REPLACE) {
        /* Only on the container's own root or a tmpfs of its own: an image link that leads the
         * path into a volume or a bind (its parent on another filesystem) would make corral
         * write into the host's directory or a shared volume. */
        struct stat root_st, parent_st;
        struct statfs parent_fs;
        if (fstat(root_fd, &root_st) < 0 || fstat(parent, &parent_st) < 0 || fstatfs(parent, &parent_fs) < 0)
            return fail("symlink", "stat the parent of %s", op->target);
        if (parent_st.st_dev != root_st.st_dev && parent_fs.f_type != TMPFS_MAGIC)
            return fail_errno("symlink", EXDEV, "%s is on a bind or a volume, not the container's own filesystem", op->target);
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            char text[4096];
            ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(parent, name, text, sizeof(text) - 1) : -1;
            if (n >= 0 && (size_t)n == strlen(op->source) && memcmp(text, op->source, (size_t)n) == 0) return 0;
            if (S_ISDIR(st.st_mode)) return fail_errno("symlink", EISDIR, "%s is a directory in the image", op->target);
            if (unlinkat(parent, name, 0) < 0) return fail("symlink", "replace %s", op->target);
        } else if (errno != ENOENT) {
            return fail("symlink", "stat %s", op->target);
        }
    }
    if (symlinkat(op->source, parent, name) < 0 && !(errno == EEXIST && op->optional))
        return fail("symlink", "%s -> %s", op->target, op->source);
    return 0;
}

static int op_propagation(const struct op *op)
{
    char p[64];
    cleanup_fd int fd = open_target(op->target, CREATE_NONE);
    if (fd < 0) return -1;
    fd_path(p, sizeof(p), fd);
    if (mount(NULL, p, NULL, (unsigned long)op->flags, NULL) < 0) return fail("mount", "propagation of %s", op->target);
    return 0;
}

int mounts_prepare(const struct spec *s)
{
    if (s->root_propagation && mount(NULL, "/", NULL, (unsigned long)s->root_propagation, NULL) < 0)
        return fail("mount", "propagation of /");
    if (s->root_lower.n) {
        /* The monitor built the root (detached.c) and left this process's working directory on
         * the target, which the path itself may be out of reach of a user namespace. */
        int root = detached_next("/");
        if (root < 0) return -1;
        if (syscall(SYS_move_mount, root, "", AT_FDCWD, ".", K_MOVE_MOUNT_F_EMPTY_PATH) < 0) {
            close(root);
            return fail("mount", "root overlay on %s", s->root_target);
        }
        root_fd = root;
    } else {
        if (mount(s->root_source, s->root_target, s->root_fstype, (unsigned long)s->root_flags, s->root_data) < 0)
            return fail("mount", "root %s (%s) on %s", s->root_source, s->root_fstype, s->root_target);
        root_fd = (int)RETRY(open(s->root_target, O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (root_fd < 0) return fail("mount", "open root %s", s->root_target);
    }
    for (uint32_t i = 0; i < s->mounts.n; i++) {
        const struct op *op = &s->mounts.v[i];
        int r;
        switch (op->kind) {
        case OP_MOUNT: r = op_mount(op); break;
        case OP_BIND: r = op_bind(s, op); break;
        case OP_MKNOD: r = op_mknod(op); break;
        case OP_SYMLINK: r = op_symlink(op); break;
        case OP_PROPAGATION: r = op_propagation(op); break;
        default: r = fail_errno("mount", EINVAL, "op kind %u not allowed before pivot_root", op->kind);
        }
        if (r < 0) {
            if (op->optional && errno == ENOENT) continue;
            return -1;
        }
    }
    /* With a prepared root, pivot_root needs it: the target's path may be unreachable. */
    if (s->root_lower.n) prepared_root = root_fd;
    else close(root_fd);
    root_fd = -1;
    detached_close();
    return 0;
}
