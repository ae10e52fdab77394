/* Generated from src/drivers/namespaces/protocol-fields.ts by renderFieldsHeader(): do not edit.
 * test/drivers/namespaces/protocol.test.ts fails when this file is stale; regenerate it with
 * CORRAL_WRITE_FIELDS_H=1 npm test -- test/drivers/namespaces/protocol.test.ts */
#ifndef CORRAL_FIELDS_H
#define CORRAL_FIELDS_H

#define SPEC_MAGIC 0x4c525243u
#define SPEC_WIRE_VERSION 1
#define SPEC_HEADER_BYTES 12
#define SPEC_MAX_BODY_BYTES 1048576u
#define SPEC_MAX_STRING_BYTES 65536u
#define SPEC_MAX_LIST_ITEMS 65536u
#define SPEC_MAX_OPS 1024u
#define SPEC_MAX_RLIMITS 16u
#define SPEC_MAX_SECCOMP_INSNS 4096u

#define SPEC_KIND_RUN 1
#define SPEC_KIND_EXEC 2

#define T_U32 1
#define T_I32 2
#define T_U64 3
#define T_STR 4
#define T_STRS 5
#define T_U32S 6
#define T_BYTES 7
#define T_REC 8

/* X(name, id, type, repeated) for scope top */
#define TOP_FIELDS(X) \
    X(NAME, 1, T_STR, 0) \
    X(NS_FLAGS, 2, T_U64, 0) \
    X(UID_MAP, 3, T_STR, 0) \
    X(GID_MAP, 4, T_STR, 0) \
    X(JOIN_NET, 5, T_U32, 0) \
    X(CGROUP_PROCS, 6, T_STRS, 0) \
    X(CGROUP_DIR, 7, T_STR, 0) \
    X(ROOT_TARGET, 8, T_STR, 0) \
    X(ROOT_SOURCE, 9, T_STR, 0) \
    X(ROOT_FSTYPE, 10, T_STR, 0) \
    X(ROOT_DATA, 11, T_STR, 0) \
    X(ROOT_FLAGS, 12, T_U64, 0) \
    X(ROOT_PROPAGATION, 13, T_U64, 0) \
    X(MOUNT, 14, T_REC, 1) \
    X(FINAL, 15, T_REC, 1) \
    X(HOSTNAME, 16, T_STR, 0) \
    X(LOOPBACK, 17, T_U32, 0) \
    X(ARGV, 18, T_STRS, 0) \
    X(ENV, 19, T_STRS, 0) \
    X(CWD, 20, T_STR, 0) \
    X(UID, 21, T_U32, 0) \
    X(GID, 22, T_U32, 0) \
    X(GROUPS, 23, T_U32S, 0) \
    X(RLIMIT, 24, T_REC, 1) \
    X(CAP_BOUNDING, 25, T_U64, 0) \
    X(CAP_EFFECTIVE, 26, T_U64, 0) \
    X(CAP_PERMITTED, 27, T_U64, 0) \
    X(CAP_INHERITABLE, 28, T_U64, 0) \
    X(CAP_AMBIENT, 29, T_U64, 0) \
    X(NO_NEW_PRIVS, 30, T_U32, 0) \
    X(SECCOMP, 31, T_BYTES, 0) \
    X(OOM_SCORE_ADJ, 32, T_I32, 0) \
    X(UMASK, 33, T_U32, 0) \
    X(SHIM_DIR, 34, T_STR, 0) \
    X(LOG_DIR, 35, T_STR, 0) \
    X(LOG_MAX_BYTES, 36, T_U64, 0) \
    X(LOG_MAX_FILES, 37, T_U32, 0) \
    X(STOP_SIGNAL, 38, T_U32, 0) \
    X(OOM_EVENTS, 39, T_STR, 0) \
    X(TTY, 40, T_U32, 0) \
    X(MONITOR_CGROUP_PROCS, 41, T_STRS, 0) \
    X(MONITOR_OOM_SCORE_ADJ, 42, T_I32, 0) \
    X(ROOT_LOWER, 43, T_STRS, 0) \
    X(ROOT_UPPER, 44, T_STR, 0) \
    X(ROOT_WORK, 45, T_STR, 0) \
    X(INIT, 46, T_U32, 0) \

#define F_NAME 1
#define F_NS_FLAGS 2
#define F_UID_MAP 3
#define F_GID_MAP 4
#define F_JOIN_NET 5
#define F_CGROUP_PROCS 6
#define F_CGROUP_DIR 7
#define F_ROOT_TARGET 8
#define F_ROOT_SOURCE 9
#define F_ROOT_FSTYPE 10
#define F_ROOT_DATA 11
#define F_ROOT_FLAGS 12
#define F_ROOT_PROPAGATION 13
#define F_MOUNT 14
#define F_FINAL 15
#define F_HOSTNAME 16
#define F_LOOPBACK 17
#define F_ARGV 18
#define F_ENV 19
#define F_CWD 20
#define F_UID 21
#define F_GID 22
#define F_GROUPS 23
#define F_RLIMIT 24
#define F_CAP_BOUNDING 25
#define F_CAP_EFFECTIVE 26
#define F_CAP_PERMITTED 27
#define F_CAP_INHERITABLE 28
#define F_CAP_AMBIENT 29
#define F_NO_NEW_PRIVS 30
#define F_SECCOMP 31
#define F_OOM_SCORE_ADJ 32
#define F_UMASK 33
#define F_SHIM_DIR 34
#define F_LOG_DIR 35
#define F_LOG_MAX_BYTES 36
#define F_LOG_MAX_FILES 37
#define F_STOP_SIGNAL 38
#define F_OOM_EVENTS 39
#define F_TTY 40
#define F_MONITOR_CGROUP_PROCS 41
#define F_MONITOR_OOM_SCORE_ADJ 42
#define F_ROOT_LOWER 43
#define F_ROOT_UPPER 44
#define F_ROOT_WORK 45
#define F_INIT 46

/* X(name, id, type, repeated) for scope op */
#define OP_FIELDS(X) \
    X(OP_KIND, 1, T_U32, 0) \
    X(OP_SOURCE, 2, T_STR, 0) \
    X(OP_TARGET, 3, T_STR, 0) \
    X(OP_FSTYPE, 4, T_STR, 0) \
    X(OP_DATA, 5, T_STR, 0) \
    X(OP_FLAGS, 6, T_U64, 0) \
    X(OP_MODE, 7, T_U32, 0) \
    X(OP_DEV, 8, T_U64, 0) \
    X(OP_CREATE, 9, T_U32, 0) \
    X(OP_OPTIONAL, 10, T_U32, 0) \
    X(OP_IDMAP, 11, T_U32, 0) \
    X(OP_UID_MAP, 12, T_STR, 0) \
    X(OP_GID_MAP, 13, T_STR, 0) \

#define F_OP_KIND 1
#define F_OP_SOURCE 2
#define F_OP_TARGET 3
#define F_OP_FSTYPE 4
#define F_OP_DATA 5
#define F_OP_FLAGS 6
#define F_OP_MODE 7
#define F_OP_DEV 8
#define F_OP_CREATE 9
#define F_OP_OPTIONAL 10
#define F_OP_IDMAP 11
#define F_OP_UID_MAP 12
#define F_OP_GID_MAP 13

/* X(name, id, type, repeated) for scope rlimit */
#define RLIMIT_FIELDS(X) \
    X(RL_RESOURCE, 1, T_U32, 0) \
    X(RL_SOFT, 2, T_U64, 0) \
    X(RL_HARD, 3, T_U64, 0) \

#define F_RL_RESOURCE 1
#define F_RL_SOFT 2
#define F_RL_HARD 3

#define OP_MOUNT 1
#define OP_BIND 2
#define OP_MKNOD 3
#define OP_SYMLINK 4
#define OP_PROPAGATION 5
#define OP_WRITE 6
#define OP_MASK 7
#define OP_READONLY 8
#define OP_REMOUNT 9
#define CREATE_NONE 0
#define CREATE_DIR 1
#define CREATE_FILE 2
#define CREATE_REPLACE 3
#define IDMAP_NONE 0
#define IDMAP_CONTAINER 1
#define IDMAP_MAPS 2

#define FD_SPEC 3
#define FD_STATUS 4
#define FD_PIDFD 5
#define FILE_EXIT "exit.json"
#define FILE_STATE "state.json"
#define FILE_ALIVE "alive.fifo"
#define FILE_MONITOR_LOG "monitor.log"
#define FILE_CONTAINER_LOG "container.log"
#define SHIM_EXIT_OK 0
#define SHIM_EXIT_SETUP 1
#define SHIM_EXIT_PROTOCOL 2
#define SHIM_EXIT_USAGE 3

#endif
