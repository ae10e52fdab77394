/*
 * With a user namespace the child cannot build its own root: it is root only of its namespace,
 * so it can neither reach the layers under corral's 0700 state root nor map their host-root files
 * to its own ids. The monitor, still root on the host, does it with the new mount API, after the
 * child's id maps are written and before the child's mounts run:
 *
 *   each lower layer   open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP, child's userns)
 *   the root           fsopen("overlay") + fsconfig("lowerdir+", fd)... + fsmount: a detached mount
 *   each bind          open_tree(OPEN_TREE_CLONE [, AT_RECURSIVE]) [+ idmap]
 *
 * Every result is a detached mount fd, attached nowhere on the host (a crash leaks no mount); it
 * goes to the child over the sync socket with SCM_RIGHTS, one byte 'F' each, and the child moves
 * it into its own mount namespace (move_mount). No layer is copied or chowned: a file of host uid
 * 0 in a layer shows as the container's root, and what the container writes lands in its upper
 * layer as the container's host ids.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "detached.h"
#include "kernel.h"
#include "util.h"

#define DETACHED_FD 'F'

int detached_op(const struct spec *s, const struct op *op)
{
    return op->kind == OP_BIND && (s->uid_map != NULL || op->idmap != IDMAP_NONE);
}

static int proc_write(pid_t pid, const char *file, const char *data)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    return write_file(path, data, strlen(data));
}

/* A user namespace holding only `uid_map`/`gid_map`, for a mount that maps ids its own way: a
 * child is cloned into it, mapped, its namespace opened, and the child let go. */
int userns_with_maps(const char *uid_map, const char *gid_map, const char *what)
{
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0) return fail("idmap", "pipe");
    struct k_clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid == 0) {
        char c;
        close(hold[1]);
        (void)RETRY(read(hold[0], &c, 1));
        _exit(0);
    }
    close(hold[0]);
    int fd = -1;
    if (pid < 0) {
        fail("idmap", "clone a user namespace for %s", what);
    } else if (proc_write(pid, "uid_map", uid_map) < 0 || proc_write(pid, "gid_map", gid_map) < 0) {
        fail("idmap", "write the maps of %s", what);
    } else {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = (int)RETRY(open(path, O_RDONLY | O_CLOEXEC));
        if (fd < 0) fail("idmap", "open %s", path);
    }
    close(hold[1]);
    if (pid > 0) (void)RETRY(waitpid(pid, NULL, 0));
    return fd;
}

static int set_idmap(int tree, int userns, int recursive, const char *what)
{
    struct k_mount_attr a;
    memset(&a, 0, sizeof(a));
    a.attr_set = K_MOUNT_ATTR_IDMAP;
    a.userns_fd = (uint64_t)userns;
    unsigned flags = AT_EMPTY_PATH | (recursive ? K_AT_RECURSIVE : 0);
    if (syscall(SYS_mount_setattr, tree, "", flags, &a, sizeof(a)) < 0)
        return fail("idmap", "%s (the filesystem may not support idmapped mounts)", what);
    return 0;
}

int clone_tree(const char *path, int recursive, int userns, const char *stage)
{
    unsigned flags = K_OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? K_AT_RECURSIVE : 0);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, flags);
    if (tree < 0) return fail(stage, "open %s", path);
    if (userns >= 0 && set_idmap(tree, userns, recursive, path) < 0) {
        close(tree);
        return -1;
    }
    return tree;
}

/* overlayfs's own explanation of a refused configuration, read from the fs context. */
static void overlay_log(int fs, char *buf, size_t cap)
{
    ssize_t n = read(fs, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
}

static void close_all(int *fds, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(fds);
}

int overlay_from_fds(const int *layers, const char *const *names, uint32_t n, const char *upper, const char *work, const char *target)
{
    cleanup_fd int fs = (int)syscall(SYS_fsopen, "overlay", K_FSOPEN_CLOEXEC);
    if (fs < 0) return fail("mount", "root: fsopen overlay");
    for (uint32_t i = 0; i < n; i++)
        if (syscall(SYS_fsconfig, fs, K_FSCONFIG_SET_FD, "lowerdir+", NULL, layers[i]) < 0)
            return fail("mount", "root: lower layer %s", names[i]);
    if (syscall(SYS_fsconfig, fs, K_FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0)
        return fail("mount", "root: upper layer %s", upper);
    if (syscall(SYS_fsconfig, fs, K_FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
        return fail("mount", "root: work directory %s", work);
    if (syscall(SYS_fsconfig, fs, K_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        int err = errno;
        char why[256];
        overlay_log(fs, why, sizeof(why));
        return fail_errno("mount", err, "root overlay on %s%s%s", target, why[0] ? ": " : "", why);
    }
    int m = (int)syscall(SYS_fsmount, fs, K_FSMOUNT_CLOEXEC, 0);
    if (m < 0) return fail("mount", "root: fsmount");
    return m;
}

static int overlay_root(const struct spec *s, int userns)
{
    /* Every layer is cloned before fsopen: overlayfs refuses ("failed to clone lowerpath") a
     * detached layer made after its fs context (measured on 6.18). */
    int *layers = calloc(s->root_lower.n, sizeof(int));
    if (!layers) return fail("mount", "allocate");
    for (uint32_t i = 0; i < s->root_lower.n; i++) layers[i] = -1;
    int m = -1;
    uint32_t i = 0;
    for (; i < s->root_lower.n; i++)
        if ((layers[i] = clone_tree(s->root_lower.v[i], 0, userns, "mount")) < 0) break;
    if (i == s->root_lower.n)
        m = overlay_from_fds(layers, (const char *const *)s->root_lower.v, s->root_lower.n, s->root_upper, s->root_work, s->root_target);
    close_all(layers, s->root_lower.n);
    return m;
}

/* One byte, with room for one fd: the unit of the sync socket in both directions. */
struct fd_message {
    char byte;
    struct iovec iov;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg;
};

static void fd_message_init(struct fd_message *m, char byte)
{
    memset(m, 0, sizeof(*m));
    m->byte = byte;
    m->iov.iov_base = &m->byte;
    m->iov.iov_len = 1;
    m->msg.msg_iov = &m->iov;
    m->msg.msg_iovlen = 1;
    m->msg.msg_control = m->u.buf;
    m->msg.msg_controllen = sizeof(m->u.buf);
}

static int send_fd(int sock, int fd)
{
    struct fd_message m;
    fd_message_init(&m, DETACHED_FD);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (RETRY(sendmsg(sock, &m.msg, MSG_NOSIGNAL)) != 1) return fail("sync", "send a prepared mount");
    return 0;
}

static int send_and_close(int sock, int fd)
{
    if (fd < 0) return -1;
    int r = send_fd(sock, fd);
    close(fd);
    return r;
}

/* The host id of the container's id 0 in a uid_map or gid_map text, or -1 when 0 is unmapped. */
static long long host_of_root(const char *map)
{
    for (const char *p = map; p && *p;) {
        unsigned long long inside, outside, count;
        if (sscanf(p, "%llu %llu %llu", &inside, &outside, &count) == 3 && inside == 0 && count > 0) return (long long)outside;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

/* The upper layer's top directory belongs to the container's root, so that root can write `/`. */
static int own_upper(const struct spec *s)
{
    long long uid = host_of_root(s->uid_map), gid = host_of_root(s->gid_map);
    if (uid < 0 || gid < 0) return 0;
    if (lchown(s->root_upper, (uid_t)uid, (gid_t)gid) < 0) return fail("mount", "chown the upper layer %s", s->root_upper);
    return 0;
}

int detached_send(const struct spec *s, pid_t child, int sock, char done)
{
    cleanup_fd int userns = -1;
    if (s->uid_map) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)child);
        userns = (int)RETRY(open(path, O_RDONLY | O_CLOEXEC));
        if (userns < 0) return fail("user namespace", "open %s", path);
    }
    if (s->root_lower.n && (own_upper(s) < 0 || send_and_close(sock, overlay_root(s, userns)) < 0)) return -1;
    for (uint32_t i = 0; i < s->mounts.n; i++) {
        const struct op *op = &s->mounts.v[i];
        if (!detached_op(s, op)) continue;
        cleanup_fd int own = -1;
        int ns = -1;
        if (op->idmap == IDMAP_CONTAINER) ns = userns;
        if (op->idmap == IDMAP_MAPS && (ns = own = userns_with_maps(op->uid_map, op->gid_map, op->target)) < 0) return -1;
        int tree = clone_tree(op->source, (op->flags & MS_REC) != 0, ns, "bind");
        if (send_and_close(sock, tree) < 0) return -1;
    }
    if (write_all(sock, &done, 1) < 0) return fail("sync", "write to the container");
    return 0;
}

static int *received;
static uint32_t n_received, next_received;

int detached_receive(const struct spec *s, int sock, char done)
{
    uint32_t cap = s->mounts.n + 1;
    received = calloc(cap, sizeof(int));
    if (!received) return fail("sync", "allocate");
    for (;;) {
        struct fd_message m;
        fd_message_init(&m, 0);
        ssize_t n = RETRY(recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC));
        if (n < 0) return fail("sync", "read from monitor");
        if (n == 0) return fail_errno("sync", EPIPE, "monitor went away");
        struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
        int fd = -1;
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(c), sizeof(int));
        char byte = m.byte;
        if (byte == done && fd < 0) return 0;
        if (byte != DETACHED_FD || fd < 0 || n_received >= cap) {
            if (fd >= 0) close(fd);
            return fail_errno("sync", EPROTO, "unexpected message %d from monitor", byte);
        }
        received[n_received++] = fd;
    }
}

int detached_next(const char *what)
{
    if (next_received >= n_received) return fail_errno("mount", EPROTO, "no prepared mount for %s", what);
    int fd = received[next_received];
    received[next_received++] = -1;
    return fd;
}

void detached_close(void)
{
    for (uint32_t i = 0; i < n_received; i++)
        if (received && received[i] >= 0) close(received[i]);
    free(received);
    received = NULL;
    n_received = next_received = 0;
}
