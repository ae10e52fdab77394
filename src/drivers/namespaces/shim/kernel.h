/* Kernel interfaces the shim uses that musl's headers (or old glibc ones) may lack. Numbers are
 * the same on x86-64 and arm64 for every call listed here. */
#ifndef CORRAL_KERNEL_H
#define CORRAL_KERNEL_H

#include <stdint.h>
#include <sys/syscall.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define K_CLONE_INTO_CGROUP 0x200000000ULL

struct k_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

struct k_open_how {
    uint64_t flags, mode, resolve;
};
#define K_RESOLVE_NO_MAGICLINKS 0x02
#define K_RESOLVE_IN_ROOT 0x10

#define K_CLOSE_RANGE_CLOEXEC (1U << 2)
#ifndef SYS_getcwd
#define SYS_getcwd 79
#endif
#ifndef SYS_execveat
#define SYS_execveat 322
#endif
#ifndef SYS_memfd_create
#define SYS_memfd_create 319
#endif
#define K_RESOLVE_NO_SYMLINKS 0x04

/* memfd sealing (linux/fcntl.h, linux/memfd.h). */
#define K_MFD_CLOEXEC 0x0001U
#define K_MFD_ALLOW_SEALING 0x0002U
#define K_MFD_EXEC 0x0010U
#define K_F_ADD_SEALS 1033
#define K_F_GET_SEALS 1034
#define K_F_SEAL_SEAL 0x0001
#define K_F_SEAL_SHRINK 0x0002
#define K_F_SEAL_GROW 0x0004
#define K_F_SEAL_WRITE 0x0008
#define K_SEALED (K_F_SEAL_SEAL | K_F_SEAL_SHRINK | K_F_SEAL_GROW | K_F_SEAL_WRITE)
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

#define K_DEVPTS_SUPER_MAGIC 0x1cd1

/* The new mount API (linux/mount.h): detached trees, idmapped mounts, overlay built from fds. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define K_OPEN_TREE_CLONE 1U
#define K_AT_RECURSIVE 0x8000
#define K_MOVE_MOUNT_F_EMPTY_PATH 0x4U
#define K_MOVE_MOUNT_T_EMPTY_PATH 0x40U
#define K_FSOPEN_CLOEXEC 0x1U
#define K_FSCONFIG_SET_STRING 1U
#define K_FSCONFIG_SET_FD 5U
#define K_FSCONFIG_CMD_CREATE 6U
#define K_FSMOUNT_CLOEXEC 0x1U
#define K_MOUNT_ATTR_IDMAP 0x00100000ULL
struct k_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

struct k_cap_header {
    uint32_t version;
    int pid;
};
struct k_cap_data {
    uint32_t effective, permitted, inheritable;
};
#define K_CAP_VERSION_3 0x20080522

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef PR_SET_NO_NEW_PRIVS
#define PR_SET_NO_NEW_PRIVS 38
#endif
#ifndef PR_SET_DUMPABLE
#define PR_SET_DUMPABLE 4
#endif
#ifndef PR_SET_PDEATHSIG
#define PR_SET_PDEATHSIG 1
#endif
#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif

struct k_sock_filter {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct k_sock_fprog {
    unsigned short len;
    struct k_sock_filter *filter;
};
#define K_SECCOMP_SET_MODE_FILTER 1
#ifndef SYS_seccomp
#define SYS_seccomp 317
#endif

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

#endif
